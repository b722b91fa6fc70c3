using System.Diagnostics;
using System.Net;
using Gateway.Control.Auth;
using Gateway.Control.Hosting;
using Gateway.Control.Model;
using Gateway.Packets;

namespace Gateway.Cli.Commands.Tests;

/// <summary><c>gateway ctl</c> as a person runs it: the real executable against a daemon on a loopback port.</summary>
public sealed class CtlCommandTests : IAsyncLifetime
{
    private static readonly Credentials s_keys = new("AKIDctlTest0123456789abcdefghijkl", "ctlTestSecretKey0123456789abcdefg");
    private readonly string _state = Path.Combine(Path.GetTempPath(), "gw-ctl-" + Guid.NewGuid().ToString("N"));
    private GatewayHost _host = null!;

    public async Task InitializeAsync() =>
        _host = await GatewayHost.StartAsync(new GatewayOptions
        {
            StateDirectory = _state,
            ApiEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            PublicPools = [Ipv4Cidr.Parse("203.0.113.0/29")],
            Subnet = Ipv4Cidr.Parse("10.4.0.0/24"),
            Credentials = s_keys,
        }, TextWriter.Null);

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_state, recursive: true);
    }

    [Fact]
    public async Task CreateAllocateAssociate_ShowPrivateAndPublicSideBySide()
    {
        var created = await Ctl("create", "--bandwidth", "5", "--name", "web");
        Assert.Equal(0, created.Exit);
        Assert.Matches(@"INSTANCE\s+NAME\s+PRIVATE IP\s+PUBLIC IP\s+EIP", created.Out);
        Assert.Matches(@"ins-[0-9a-z]{8}\s+web\s+10\.4\.0\.2\s+203\.0\.113\.1\s+-\s+5 Mbps\s+RUNNING", created.Out);
        string ins = created.Out.Split('\n')[1].Split(' ')[0];

        var allocated = await Ctl("allocate");
        Assert.Equal(0, allocated.Exit);
        Assert.Matches(@"eip-[0-9a-z]{8}\s+203\.0\.113\.2\s+UNBIND", allocated.Out);
        string eip = allocated.Out.Split('\n')[1].Split(' ')[0];

        var associated = await Ctl("associate", eip, ins);
        Assert.Equal(0, associated.Exit);
        Assert.Matches($@"{ins}\s+web\s+10\.4\.0\.2\s+203\.0\.113\.2\s+{eip}", associated.Out);

        var addresses = await Ctl("addresses");
        Assert.Matches($@"{eip}\s+203\.0\.113\.2\s+BIND\s+{ins}\s+10\.4\.0\.2", addresses.Out);
    }

    [Fact]
    public async Task ApiError_ExitsOneWithTheCodeAndMessage()
    {
        var result = await Ctl("release", "eip-00000000");

        Assert.Equal(1, result.Exit);
        Assert.Contains("InvalidAddressId.NotFound", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownCommand_ExitsTwo() =>
        Assert.Equal(2, (await Ctl("bogus")).Exit);

    [Fact]
    public async Task NoDaemonListening_ExitsOneSayingSo()
    {
        var result = await Ctl(["--api", "127.0.0.1:1", "instances"], useHostApi: false);

        Assert.Equal(1, result.Exit);
        Assert.Contains("cannot reach the gateway API", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EmptyLists_SayNone()
    {
        var result = await Ctl("instances");

        Assert.Equal(0, result.Exit);
        Assert.Contains("(none)", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VpcsSubnetsAndZones_ShowWhatTheDaemonEmulates()
    {
        var vpcs = await Ctl("vpcs");
        Assert.Equal(0, vpcs.Exit);
        Assert.Matches($@"{_host.VpcId}\s+Default-VPC\s+10\.4\.0\.0/24\s+yes", vpcs.Out);

        var subnets = await Ctl("subnets");
        Assert.Matches($@"{_host.SubnetId}\s+{_host.VpcId}\s+Default-Subnet\s+10\.4\.0\.0/24\s+ap-guangzhou-1\s+253 of 253", subnets.Out);

        Assert.Matches(@"ap-guangzhou-1\s+Guangzhou Zone 1\s+100001\s+AVAILABLE", (await Ctl("zones")).Out);
    }

    [Fact]
    public async Task StopStartAndRename_ShowTheStateAndThePublicIpsFate()
    {
        var created = await Ctl("create", "--bandwidth", "5");
        string ins = created.Out.Split('\n')[1].Split(' ')[0];

        var stopped = await Ctl("stop", ins, "--stopped-mode", "STOP_CHARGING", "--stop-type", "HARD");
        Assert.Equal(0, stopped.Exit);
        Assert.Matches($@"{ins}\s+\S+\s+10\.4\.0\.2\s+-\s+-\s+5 Mbps\s+STOPPED \(STOP_CHARGING\)", stopped.Out);

        var again = await Ctl("stop", ins);
        Assert.Equal(1, again.Exit);
        Assert.Contains("UnsupportedOperation.InstanceStateStopped", again.Err, StringComparison.Ordinal);

        var started = await Ctl("start", ins, "--wait");
        Assert.Equal(0, started.Exit);
        Assert.Matches($@"{ins}\s+\S+\s+10\.4\.0\.2\s+203\.0\.113\.2\s+-\s+5 Mbps\s+RUNNING", started.Out); // .1 was released: a new one

        Assert.Matches($@"{ins}\s+renamed\s", (await Ctl("rename", ins, "renamed")).Out);
        var allocated = await Ctl("allocate");
        string eip = allocated.Out.Split('\n')[1].Split(' ')[0];
        Assert.Matches($@"{eip}\s+\S+\s+UNBIND\s+-\s+-\s+front", (await Ctl("rename", eip, "front")).Out);
        Assert.Matches($@"{ins}\s+renamed\s.*RUNNING", (await Ctl("reboot", ins)).Out);
    }

    [Theory]
    [InlineData(new[] { "rename", "sg-12345678", "x" }, "rename needs an instance id (ins-...) or an EIP id (eip-...)")]
    [InlineData(new[] { "stop", "ins-12345678", "--stopped-mode", "FREE" }, "--stopped-mode must be KEEP_CHARGING or STOP_CHARGING, not 'FREE'.")]
    [InlineData(new[] { "start" }, "give at least 1 instance id (ins-...).")]
    public async Task PowerAndRenameMistakes_ExitTwo(string[] args, string message)
    {
        var result = await Ctl(args);

        Assert.Equal(2, result.Exit);
        Assert.Contains(message, result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Table_AlignsColumns()
    {
        string table = CtlCommand.Table(["A", "BB"], [["xyz", "1"], ["q", "22"]]);

        Assert.Equal("A    BB\nxyz  1\nq    22\n", table.Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    private Task<(int Exit, string Out, string Err)> Ctl(params string[] args) => Ctl(args, useHostApi: true);

    private async Task<(int Exit, string Out, string Err)> Ctl(string[] args, bool useHostApi)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(GatewayDll());
        info.ArgumentList.Add("ctl");
        if (useHostApi)
        {
            info.ArgumentList.Add("--api");
            info.ArgumentList.Add($"127.0.0.1:{_host.ApiEndPoint.Port}");
        }
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment[Credentials.SecretIdVariable] = s_keys.SecretId;
        info.Environment[Credentials.SecretKeyVariable] = s_keys.SecretKey;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    internal static string GatewayDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        string configuration = dir.Parent!.Name;
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
        {
            dir = dir.Parent;
        }
        return Path.Combine(dir!.FullName, "src", "Gateway.Cli", "bin", configuration, "net10.0", "gateway.dll");
    }
}
