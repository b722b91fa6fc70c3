using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.EndToEnd.Tests.Forwarding;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary>
/// A two-node gateway cluster lab with embedded etcd: the active node is killed with SIGKILL while a 1 kHz UDP probe
/// and an iperf3 run cross it; the standby takes over, its gratuitous ARPs are seen on both segments, iperf3 completes,
/// and the longest silence the probe saw is reported (README's cluster section).
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed partial class ClusterFailoverTests(ITestOutputHelper output) : IDisposable
{
    internal const string Probe = """
        import json, socket, sys, time
        dst, seconds = sys.argv[1], float(sys.argv[2])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False)
        start = time.monotonic(); next_send = start; seq = 0; received = 0; last = None; gap = 0.0; gap_at = None
        while time.monotonic() - start < seconds:
            now = time.monotonic()
            while now >= next_send:
                s.sendto(seq.to_bytes(8, "big"), (dst, 9000)); seq += 1; next_send += 0.001
            try:
                while True:
                    s.recvfrom(64); t = time.monotonic(); received += 1
                    if last is not None and t - last > gap: gap, gap_at = t - last, last - start
                    last = t
            except BlockingIOError:
                pass
            time.sleep(0.0002)
        print(json.dumps({"sent": seq, "received": received, "maxGapMs": gap * 1000, "gapStartS": gap_at}))
        """;

    internal const string Echo = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 9000))\nwhile True:\n    d, a = s.recvfrom(64); s.sendto(d, a)\n";

    private readonly string _lab = GatewayExecutable.NewLabName();
    private readonly string _dir = Directory.CreateTempSubdirectory("gwt-cluster-lab-").FullName;

    public void Dispose()
    {
        GatewayExecutable.Run("lab", "down", "--name", _lab);
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void KillingTheActiveNode_UnderIperfAndA1kHzProbe_TheStandbyTakesOverWithGarpsOnBothSegments()
    {
        GatewayExecutable.SweepLeftovers();
        File.WriteAllText(Path.Combine(_dir, "echo.py"), Echo);
        File.WriteAllText(Path.Combine(_dir, "probe.py"), Probe);
        string topology = Path.Combine(_dir, "cluster.json");
        File.WriteAllText(topology, $$"""
            {
              "name": "cluster",
              "gateway": { "mode": "tap", "nodes": 2, "etcd": "embedded", "publicPool": ["198.51.100.0/28"] },
              "internet": { "subnet": "203.0.113.0/24", "onLink": ["198.51.100.0/24"],
                            "nodes": [ { "name": "client1", "kind": "internet-host", "address": "203.0.113.1" } ] },
              "vpc": { "subnet": { "cidr": "10.0.1.0/24" } },
              "nodes": [ { "name": "sink", "kind": "instance", "privateAddress": "10.0.1.10",
                           "internetAccessible": { "internetMaxBandwidthOut": 100 },
                           "exec": ["exec iperf3 -s", "exec python3 {{Path.Combine(_dir, "echo.py")}}"] } ]
            }
            """);
        var up = GatewayExecutable.Run("lab", "up", topology, "--name", _lab);
        Assert.True(up.ExitCode == 0, up.ToString());
        string client = $"gwl-{_lab}-client1";
        const string publicIp = "198.51.100.1";
        Assert.True(NamespaceLab.Eventually(() => NamespaceLab.Ping(client, publicIp, 1)), "the lab does not answer before the failover");

        (string Node, int Pid) active = default;
        Assert.True(NamespaceLab.Eventually(() => (active = Active()).Pid > 0), "no node became active");
        output.WriteLine($"active before: {active.Node} (pid {active.Pid})");

        // Capture ARP on both segments (dumpcap, read back by tshark: an independent oracle for the GARPs).
        string inetCapture = Path.Combine(_dir, "inet.pcapng"), vpcCapture = Path.Combine(_dir, "vpc.pcapng");
        using var inetDump = Shell.Start("ip", "netns", "exec", $"gwl-{_lab}-inet", "dumpcap", "-q", "-i", "br0", "-f", "arp", "-a", "duration:14", "-w", inetCapture);
        using var vpcDump = Shell.Start("ip", "netns", "exec", $"gwl-{_lab}-vpc", "dumpcap", "-q", "-i", "br0", "-f", "arp", "-a", "duration:14", "-w", vpcCapture);
        Thread.Sleep(1000);

        using var probe = Shell.Start("ip", "netns", "exec", client, Shell.Python, Path.Combine(_dir, "probe.py"), publicIp, "10");
        using var iperf = Shell.Start("ip", "netns", "exec", client, "iperf3", "-c", publicIp, "-t", "8", "-J");
        Thread.Sleep(3000);
        var killedAt = Stopwatch.StartNew();
        Shell.Must("kill", "-9", active.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

        string iperfJson = iperf.StandardOutput.ReadToEnd();
        Assert.True(iperf.WaitForExit(30_000), "iperf3 did not finish");
        string probeJson = probe.StandardOutput.ReadToEnd();
        Assert.True(probe.WaitForExit(30_000), "the probe did not finish");
        inetDump.WaitForExit(30_000);
        vpcDump.WaitForExit(30_000);

        Assert.True(iperf.ExitCode == 0, $"iperf3 failed across the failover: {iperfJson}");
        using var iperfResult = JsonDocument.Parse(iperfJson);
        double mbps = iperfResult.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e6;
        using var probeResult = JsonDocument.Parse(probeJson);
        double gap = probeResult.RootElement.GetProperty("maxGapMs").GetDouble();
        var after = Active();
        output.WriteLine($"active after: {after.Node} (pid {after.Pid}); probe: {probeJson.Trim()}; iperf3: {mbps:0.0} Mbit/s received, exit 0; load {File.ReadAllText("/proc/loadavg").Trim()}");
        output.WriteLine($"FAILOVER longest gap {gap:0} ms (1 kHz UDP probe through the gateway, active node killed with SIGKILL)");
        Assert.NotEqual(active.Node, after.Node);
        Assert.True(probeResult.RootElement.GetProperty("received").GetInt32() > 5000, "the probe's traffic did not resume after the failover");

        // The new active node announced the public address on the internet segment and the VPC gateway address on the
        // VPC segment, gratuitously, from the cluster's virtual MAC (the same the old node used).
        string inetGarps = Shell.Must("tshark", "-r", inetCapture, "-Y", "arp.isgratuitous == 1", "-T", "fields", "-e", "eth.src", "-e", "arp.src.proto_ipv4");
        string vpcGarps = Shell.Must("tshark", "-r", vpcCapture, "-Y", "arp.isgratuitous == 1", "-T", "fields", "-e", "eth.src", "-e", "arp.src.proto_ipv4");
        output.WriteLine($"GARPs internet:\n{inetGarps}\nGARPs vpc:\n{vpcGarps}");
        Assert.Contains(publicIp, inetGarps, StringComparison.Ordinal);
        Assert.Contains("10.0.1.1", vpcGarps, StringComparison.Ordinal);

        // etcd loses quorum (two of its three members killed): the active node keeps forwarding with the bindings it has.
        using (var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(GatewayExecutable.RunRoot, _lab, "lab.json"))))
        {
            foreach (var process in state.RootElement.GetProperty("processes").EnumerateArray())
            {
                if (process.GetProperty("role").GetString() is "etcd 1" or "etcd 2")
                {
                    Shell.Run("kill", "-9", process.GetProperty("pid").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }
        Thread.Sleep(1500); // past the election timeout: the remaining member knows it has no leader
        Assert.True(NamespaceLab.Ping(client, publicIp, 5), "the data path stopped forwarding when etcd lost quorum");
        Assert.Equal(after.Node, Active().Node);
    }

    /// <summary>The active node and its pid, from <c>gateway lab status</c> (each node's data path reports its role).</summary>
    private (string Node, int Pid) Active()
    {
        var status = GatewayExecutable.Run("lab", "status", "--name", _lab);
        foreach (string line in status.Output.Split('\n'))
        {
            var m = StatusRow().Match(line);
            if (m.Success && m.Groups[3].Value == "active")
            {
                return (m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return ("", 0);
    }

    [GeneratedRegex(@"^(\S+)\s+(\d+)\s+running\s+(\S+)")]
    private static partial Regex StatusRow();
}
