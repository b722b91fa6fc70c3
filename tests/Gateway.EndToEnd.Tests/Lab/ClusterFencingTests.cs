using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gateway.Cli.Lab;
using Gateway.EndToEnd.Tests.Forwarding;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary>
/// Self-fencing in a two-node cluster lab: the active node's whole process is stopped (SIGSTOP) for 600 ms while a
/// 1 kHz UDP probe crosses it — longer than a standby waits before taking over — and then continued. Captures on both
/// nodes' ports (dumpcap in the segments' namespaces, read back by tshark) prove that everything the old node sent
/// precedes everything the new node sent: the old node forwarded nothing, not even the probe frames its TAP queued
/// while it was stopped, and answered no ARP, once the new node held the role; and the traffic resumed.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class ClusterFencingTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _lab = GatewayExecutable.NewLabName();
    private readonly string _dir = Directory.CreateTempSubdirectory("gwt-cluster-fence-").FullName;

    public void Dispose()
    {
        GatewayExecutable.Run("lab", "down", "--name", _lab);
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void StoppingTheActiveNodeLongerThanTheTakeoverSilence_TheOldNodeForwardsNothingOnceTheNewOneHoldsTheRole()
    {
        GatewayExecutable.SweepLeftovers();
        File.WriteAllText(Path.Combine(_dir, "echo.py"), ClusterFailoverTests.Echo);
        File.WriteAllText(Path.Combine(_dir, "probe.py"), ClusterFailoverTests.Probe);
        string topology = Path.Combine(_dir, "cluster.json");
        File.WriteAllText(topology, $$"""
            {
              "name": "fence",
              "gateway": { "mode": "tap", "nodes": 2, "etcd": "embedded", "publicPool": ["198.51.100.0/28"] },
              "internet": { "subnet": "203.0.113.0/24", "onLink": ["198.51.100.0/24"],
                            "nodes": [ { "name": "client1", "kind": "internet-host", "address": "203.0.113.1" } ] },
              "vpc": { "subnet": { "cidr": "10.0.1.0/24" } },
              "nodes": [ { "name": "sink", "kind": "instance", "privateAddress": "10.0.1.10", "internetAccessible": { "internetMaxBandwidthOut": 100 },
                           "exec": ["exec python3 {{Path.Combine(_dir, "echo.py")}}"] } ]
            }
            """);
        var up = GatewayExecutable.Run("lab", "up", topology, "--name", _lab);
        Assert.True(up.ExitCode == 0, up.ToString());
        string client = $"gwl-{_lab}-client1";
        const string publicIp = "198.51.100.1";
        Assert.True(NamespaceLab.Eventually(() => NamespaceLab.Ping(client, publicIp, 1)), "the lab does not answer before the test");

        var nodes = Nodes();
        int active = -1;
        Assert.True(NamespaceLab.Eventually(() => (active = nodes.FindIndex(n => Stats(n)?.GetProperty("role").GetString() == "active")) >= 0), "no node became active");
        int standby = 1 - active;
        string internetMac = Stats(nodes[active])!.Value.GetProperty("internet").GetProperty("mac").GetString()!;
        string vpcMac = Stats(nodes[active])!.Value.GetProperty("vpc").GetProperty("mac").GetString()!;
        output.WriteLine($"active {nodes[active].Name} (pid {nodes[active].Pid}), standby {nodes[standby].Name}; virtual MACs {internetMac} / {vpcMac}");

        // Both nodes' ports on each segment, in one capture per segment (one clock: the kernel's receive timestamps).
        // "inbound": what a node wrote into its TAP; the bridge also floods the other node's broadcasts (GARPs) out of it.
        string inetCapture = Path.Combine(_dir, "inet.pcapng"), vpcCapture = Path.Combine(_dir, "vpc.pcapng");
        const string filter = "inbound and (arp or udp port 9000)";
        using var inetDump = Shell.Start("ip", "netns", "exec", $"gwl-{_lab}-inet", "dumpcap", "-q",
            "-i", nodes[0].InternetTap, "-f", filter, "-i", nodes[1].InternetTap, "-f", filter, "-a", "duration:9", "-w", inetCapture);
        using var vpcDump = Shell.Start("ip", "netns", "exec", $"gwl-{_lab}-vpc", "dumpcap", "-q",
            "-i", nodes[0].VpcTap, "-f", filter, "-i", nodes[1].VpcTap, "-f", filter, "-a", "duration:9", "-w", vpcCapture);
        Thread.Sleep(1000);
        using var probe = Shell.Start("ip", "netns", "exec", client, Shell.Python, Path.Combine(_dir, "probe.py"), publicIp, "6");
        Thread.Sleep(2000);

        string pid = nodes[active].Pid.ToString(CultureInfo.InvariantCulture);
        Shell.Must("kill", "-STOP", pid);
        var stopped = Stopwatch.StartNew();
        Thread.Sleep(600);
        Shell.Must("kill", "-CONT", pid);
        stopped.Stop();

        string probeJson = probe.StandardOutput.ReadToEnd();
        Assert.True(probe.WaitForExit(30_000), "the probe did not finish");
        inetDump.WaitForExit(30_000);
        vpcDump.WaitForExit(30_000);
        output.WriteLine($"stopped for {stopped.ElapsedMilliseconds} ms; probe: {probeJson.Trim()}; load {File.ReadAllText("/proc/loadavg").Trim()}");

        // What each node sent (source: the cluster's virtual MACs, which no host uses), per port, with its time.
        var sent = Sent(inetCapture, internetMac).Concat(Sent(vpcCapture, vpcMac)).ToList();
        var byOld = sent.Where(s => s.Port == nodes[active].InternetTap || s.Port == nodes[active].VpcTap).Select(s => s.At).Order().ToList();
        var byNew = sent.Where(s => s.Port == nodes[standby].InternetTap || s.Port == nodes[standby].VpcTap).Select(s => s.At).Order().ToList();
        output.WriteLine($"frames sent by the old active: {byOld.Count} (last at {Last(byOld)}); by the new active: {byNew.Count} (first at {First(byNew)})");
        Assert.True(byOld.Count > 500, "the old active forwarded too little before it was stopped: the capture does not see the traffic");
        Assert.True(byNew.Count > 2000, "the traffic did not resume through the new active node");
        // The property: no overlap. Everything the old node sent precedes everything the new node sent.
        Assert.True(byOld[^1] < byNew[0],
            $"the old active sent {byOld.Count(t => t >= byNew[0])} frames after the new active's first (last at {Last(byOld)}, first new at {First(byNew)})");

        // The old node is alive and knows it stood down; the new node holds the role.
        Assert.True(NamespaceLab.Eventually(() => Stats(nodes[active])?.GetProperty("role").GetString() == "standby", 10), "the old active did not stand down");
        Assert.Equal("active", Stats(nodes[standby])?.GetProperty("role").GetString());
        string oldLog = File.ReadAllText(nodes[active].Log);
        Assert.Contains($"node {nodes[active].Name} is no longer active", oldLog, StringComparison.Ordinal);
        using var probeResult = JsonDocument.Parse(probeJson);
        output.WriteLine($"FENCING longest probe gap {probeResult.RootElement.GetProperty("maxGapMs").GetDouble():0} ms (active stopped 600 ms)");
        Assert.True(NamespaceLab.Ping(client, publicIp, 2), "the lab does not answer after the takeover");
    }

    private static string Last(List<decimal> times) => times.Count == 0 ? "-" : times[^1].ToString(CultureInfo.InvariantCulture);

    private static string First(List<decimal> times) => times.Count == 0 ? "-" : times[0].ToString(CultureInfo.InvariantCulture);

    private static IEnumerable<(string Port, decimal At)> Sent(string capture, string mac)
    {
        string fields = Shell.Must("tshark", "-r", capture, "-Y", $"eth.src == {mac}", "-T", "fields", "-e", "frame.interface_name", "-e", "frame.time_epoch");
        foreach (string line in fields.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split('\t');
            yield return (parts[0], decimal.Parse(parts[1], CultureInfo.InvariantCulture));
        }
    }

    private sealed record Node(string Name, int Pid, string StateDirectory, string InternetTap, string VpcTap, string Log);

    private List<Node> Nodes()
    {
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(GatewayExecutable.RunRoot, _lab, "lab.json")));
        var pids = state.RootElement.GetProperty("processes").EnumerateArray()
            .Where(p => p.GetProperty("role").GetString()!.StartsWith("gateway ", StringComparison.Ordinal))
            .Select(p => p.GetProperty("pid").GetInt32()).ToList();
        var nodes = state.RootElement.GetProperty("gatewayNodes").EnumerateArray().ToList();
        Assert.Equal(2, nodes.Count);
        Assert.Equal(2, pids.Count);
        return [.. nodes.Select((n, i) => new Node(n.GetProperty("name").GetString()!, pids[i], n.GetProperty("stateDirectory").GetString()!,
            n.GetProperty("internetPort").GetString()!, n.GetProperty("vpcPort").GetString()!, n.GetProperty("log").GetString()!))];
    }

    private static JsonElement? Stats(Node node)
    {
        try
        {
            using var stats = JsonDocument.Parse(File.ReadAllText(Path.Combine(node.StateDirectory, "datapath-stats.json")));
            return stats.RootElement.Clone();
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }
}
