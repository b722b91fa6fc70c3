using System.Diagnostics;
using System.Globalization;
using System.Text;
using Gateway.EndToEnd.Tests.Forwarding;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary><c>gateway run --internet-tap/--vpc-tap</c>: the TAP devices live exactly as long as the daemon.</summary>
[Trait("Category", "RootNamespaces")]
public sealed class RunDataPathTests
{
    [Fact]
    public void TheDaemonCreatesItsTapDevicesAndRemovesThemOnSigtermPrintingTheCounters()
    {
        string id = string.Create(CultureInfo.InvariantCulture, $"{Random.Shared.Next(0x1000000):x6}");
        string internetTap = $"gwr{id}i", vpcTap = $"gwr{id}v";
        string state = Directory.CreateTempSubdirectory("gwt-run-").FullName;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])[GatewayExecutable.Dll, "run", "--state", state, "--api", "127.0.0.1:0", "--public-pool", "198.51.100.0/28",
            "--subnet", "10.0.7.0/24", "--internet-tap", internetTap, "--vpc-tap", vpcTap, "--workers", "3"])
        {
            info.ArgumentList.Add(a);
        }
        var output = new StringBuilder();
        using var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            Assert.True(NamespaceLab.Eventually(() => { lock (output) { return output.ToString().Contains("API listening", StringComparison.Ordinal); } }, 60), output.ToString());
            Assert.Equal(0, Shell.Run("ip", "link", "show", "dev", internetTap).ExitCode);
            Assert.Equal(0, Shell.Run("ip", "link", "show", "dev", vpcTap).ExitCode);
            Assert.True(NamespaceLab.Eventually(() => File.Exists(Path.Combine(state, "datapath-stats.json"))), "no counters file in " + state);
            lock (output)
            {
                Assert.Contains($"internet TAP {internetTap} (3 queues, offloads: csum, TSO", output.ToString(), StringComparison.Ordinal);
                Assert.Contains("; 3 workers;", output.ToString(), StringComparison.Ordinal);
            }
            // Three queues per device (tun shows them under /sys/class/net/NAME/queues), and the stats say what each worker did.
            Assert.Equal(3, Directory.GetDirectories($"/sys/class/net/{internetTap}/queues", "rx-*").Length);
            using (var stats = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(state, "datapath-stats.json"))))
            {
                var root = stats.RootElement;
                var workers = root.GetProperty("workers").EnumerateArray().ToList();
                Assert.Equal(3, workers.Count);
                Assert.Equal(root.GetProperty("receivedPackets").GetInt64(),
                    workers.Sum(w => w.GetProperty("receivedPackets").GetInt64()) + root.GetProperty("maintenance").GetProperty("receivedPackets").GetInt64());
                Assert.Equal(0, root.GetProperty("internet").GetProperty("kernelDroppedPackets").GetInt64()); // read from the TAP's own counter
                Assert.True(root.GetProperty("drops").TryGetProperty("port-overrun", out _));
                Assert.True(root.GetProperty("runtime").GetProperty("gen0Collections").GetInt64() >= 0);
            }

            Shell.Must("kill", "-TERM", process.Id.ToString(CultureInfo.InvariantCulture));
            Assert.True(process.WaitForExit(30_000));
            process.WaitForExit();

            Assert.Equal(0, process.ExitCode);
            Assert.Contains("gateway: data path: received ", output.ToString(), StringComparison.Ordinal);
            Assert.Contains("; port-overrun 0 (kernel dropped before the gateway took them: internet 0, vpc 0)", output.ToString(), StringComparison.Ordinal);
            Assert.NotEqual(0, Shell.Run("ip", "link", "show", "dev", internetTap).ExitCode);
            Assert.NotEqual(0, Shell.Run("ip", "link", "show", "dev", vpcTap).ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }
            Directory.Delete(state, recursive: true);
        }
    }
}
