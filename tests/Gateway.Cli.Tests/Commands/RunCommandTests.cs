using System.Diagnostics;

namespace Gateway.Cli.Commands.Tests;

/// <summary><c>gateway run</c>'s command line: mistakes exit 2 with a message naming the option, before anything starts.</summary>
public sealed class RunCommandTests
{
    [Theory]
    [InlineData("--public-pool 198.51.100.0/24 --subnet 10.0.0.0/24", "--state is required")]
    [InlineData("--state {state} --subnet 10.0.0.0/24", "--public-pool is required")]
    [InlineData("--state {state} --public-pool 198.51.100.1/24 --subnet 10.0.0.0/24", "did you mean 198.51.100.0/24")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/31", "too small")]
    [InlineData("--state {state} --public-pool 10.0.0.0/28 --subnet 10.0.0.0/24", "overlap")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --api nowhere", "--api 'nowhere'")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --colour red", "unknown option --colour")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap gwx1", "the VPC side is missing")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --vpc-tap gwx1", "the internet side is missing")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap a --internet-if b --vpc-tap c", "--internet-tap or --internet-if, not both")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap same --vpc-tap same", "must be different devices")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap waytoolongname123 --vpc-tap v", "not a Linux interface name")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-gateway 203.0.113.1", "--internet-gateway needs a data path")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap i --vpc-tap v --internet-gateway nope", "--internet-gateway 'nope'")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap i --vpc-tap v --vpc-gateway 10.9.9.9", "not a host address of --subnet")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --stats-interval 5", "--stats-interval needs a data path")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --if-backend pcap", "--if-backend needs a data path")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap i --vpc-tap v --if-backend packet", "this data path has none (TAP devices only)")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-if i --vpc-if v --if-backend xdp", "--if-backend must be packet or pcap, not 'xdp'")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --workers 2", "--workers needs a data path")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap i --vpc-tap v --workers 0", "--workers must be a whole number from 1 to 256, not '0'")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap i --vpc-tap v --workers 257", "--workers must be a whole number from 1 to 256")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --tap-offloads off", "--tap-offloads needs a data path")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap i --vpc-tap v --tap-offloads maybe", "--tap-offloads must be on or off, not 'maybe'")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --internet-tap i --vpc-tap v --worker-priority urgent", "--worker-priority must be realtime, high or normal, not 'urgent'")]
    [InlineData("--state {state} --public-pool 198.51.100.0/24 --subnet 10.0.0.0/24 --worker-priority high", "--worker-priority needs a data path")]
    public async Task CommandLineMistakes_ExitTwoNamingTheProblem(string arguments, string expected)
    {
        string state = Path.Combine(Path.GetTempPath(), "gw-runcmd-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (exit, err) = await Gateway(["run", .. arguments.Replace("{state}", state, StringComparison.Ordinal).Split(' ')]);

            Assert.Equal(2, exit);
            Assert.Contains(expected, err, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(state))
            {
                Directory.Delete(state, recursive: true);
            }
        }
    }

    private static async Task<(int Exit, string Err)> Gateway(string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(CtlCommandTests.GatewayDll());
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        await stdout;
        return (process.ExitCode, await stderr);
    }
}
