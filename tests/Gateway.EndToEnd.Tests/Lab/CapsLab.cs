using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway.Control.Api;
using Gateway.Control.Auth;
using Gateway.EndToEnd.Tests.Forwarding;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary>
/// A lab for the bandwidth caps, brought up by the real <c>gateway lab up</c> with <c>--metrics</c>: an internet host
/// and instances capped at 5, 20 and 100 Mbps (by traffic), each running an iperf3 server.
/// </summary>
/// <remarks>
/// The lab has no WAN latency (this kernel has no netem), so its round trip is a fraction of a millisecond and a
/// TCP flow's bandwidth-delay product at these caps is below one packet: no congestion window is small enough, and
/// after the policer's losses TCP waits out its 200-ms minimum retransmission timeout, idling the link (measured
/// here: 1.2 Mbps through a 5 Mbps cap). The senders' routes therefore get <c>rto_min 2ms</c>, a per-route Linux
/// setting that scales the retransmission timer to the lab's round trip as 200 ms is scaled to the internet's;
/// the gateway is unchanged. README, "Bandwidth caps", says the same for users of the lab.
/// </remarks>
public sealed class CapsLab : IDisposable
{
    public const string ClientAddress = "203.0.113.1";
    public const int IperfPort = 5201;

    private readonly string _folder;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private int _nextPort = 5300;

    public CapsLab()
        : this([("s5", 5), ("s20", 20), ("s100", 100), ("r", 20), ("m", 20)], "10.0.6")
    {
    }

    /// <param name="instances">Node names and their caps (Mbps, by traffic).</param>
    /// <param name="vpcPrefix">The first three octets of the VPC /24 (its gateway is .1).</param>
    /// <remarks>Internal: xunit wants a class fixture to have one public constructor.</remarks>
    internal CapsLab(IReadOnlyList<(string Name, int Mbps)> instances, string vpcPrefix)
    {
        VpcPrefix = vpcPrefix;
        GatewayExecutable.SweepLeftovers();
        Name = GatewayExecutable.NewLabName();
        _folder = Directory.CreateTempSubdirectory("gwt-caps-").FullName;
        var topology = new JsonObject
        {
            ["name"] = Name,
            ["gateway"] = new JsonObject { ["mode"] = "tap", ["publicPool"] = new JsonArray("198.51.100.0/28"), ["metrics"] = "127.0.0.1:0" },
            ["internet"] = new JsonObject
            {
                ["subnet"] = "203.0.113.0/24",
                ["onLink"] = new JsonArray("198.51.100.0/24"),
                ["nodes"] = new JsonArray(new JsonObject { ["name"] = "client", ["kind"] = "internet-host", ["address"] = ClientAddress }),
            },
            ["vpc"] = new JsonObject { ["subnet"] = new JsonObject { ["cidr"] = $"{vpcPrefix}.0/24" } },
            ["nodes"] = new JsonArray([.. instances.Select(i => (JsonNode)Instance(i.Name, i.Mbps))]),
        };
        string path = Path.Combine(_folder, "topology.json");
        File.WriteAllText(path, topology.ToJsonString());
        try
        {
            var up = GatewayExecutable.Run("lab", "up", path);
            Assert.True(up.ExitCode == 0, $"lab up failed: {up}");
            using (var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(RunDirectory, "lab.json"))))
            {
                Api = new Uri($"http://{state.RootElement.GetProperty("api").GetString()}/");
                foreach (var instance in state.RootElement.GetProperty("instances").EnumerateArray())
                {
                    InstanceOf[instance.GetProperty("node").GetString()!] = instance.GetProperty("instanceId").GetString()!;
                }
            }
            Credentials = Credentials.TryRead(DaemonState) ?? throw new InvalidOperationException("no credentials in " + DaemonState);
            Client = new ApiClient(_http, Api, Credentials);
            var metrics = Regex.Match(File.ReadAllText(Path.Combine(RunDirectory, "gateway.log")), @"metrics at http://(\S+)/metrics");
            Assert.True(metrics.Success, "the daemon printed no metrics address");
            Metrics = metrics.Groups[1].Value;

            // The senders' retransmission floor scaled to the lab's round trip (see the remarks).
            Shell.Must("ip", "-n", Namespace("client"), "route", "change", "198.51.100.0/24", "dev", "eth0", "rto_min", "2ms");
            foreach (string node in InstanceOf.Keys)
            {
                Shell.Must("ip", "-n", Namespace(node), "route", "change", "default", "via", $"{vpcPrefix}.1", "dev", "eth0", "rto_min", "2ms");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private static JsonObject Instance(string name, int mbps) => new()
    {
        ["name"] = name,
        ["kind"] = "instance",
        ["internetAccessible"] = new JsonObject { ["publicIpAssigned"] = true, ["internetMaxBandwidthOut"] = mbps, ["internetChargeType"] = "TRAFFIC_POSTPAID_BY_HOUR" },
        ["exec"] = new JsonArray($"exec iperf3 -s -p {IperfPort}"),
    };

    public string Name { get; }
    public string VpcPrefix { get; }
    public Uri Api { get; } = null!;
    public Credentials Credentials { get; } = null!;
    public ApiClient Client { get; } = null!;
    public string Metrics { get; } = "";
    public Dictionary<string, string> InstanceOf { get; } = new(StringComparer.Ordinal);
    public string RunDirectory => Path.Combine(GatewayExecutable.RunRoot, Name);
    public string DaemonState => Path.Combine(RunDirectory, "daemon");
    public string Folder => _folder;

    public string Namespace(string node) => $"gwl-{Name}-{node}";

    public JsonElement Call(string service, string action, JsonObject? parameters = null) =>
        Client.CallAsync(service, action, parameters).GetAwaiter().GetResult();

    public string PublicIp(string node)
    {
        var i = Call("cvm", "DescribeInstances", new JsonObject { ["InstanceIds"] = new JsonArray(InstanceOf[node]) }).GetProperty("InstanceSet")[0];
        return i.GetProperty("PublicIpAddresses")[0].GetString()!;
    }

    /// <summary>What one iperf3 run measured: the receiver's bits per second and bytes, and when it ran.</summary>
    public sealed record IperfRun(double ReceivedBitsPerSecond, long ReceivedBytes, long SentBytes, DateTimeOffset Start, DateTimeOffset End, JsonElement Json);

    /// <summary>TCP from <paramref name="node"/> out to the internet host for <paramref name="seconds"/> (iperf3 -c, the instance sends).</summary>
    public IperfRun Outbound(string node, int seconds, string? extra = null)
    {
        int port = Interlocked.Increment(ref _nextPort);
        using var server = Shell.Start("ip", "netns", "exec", Namespace("client"), "iperf3", "-s", "-1", "-p", port.ToString(CultureInfo.InvariantCulture));
        try
        {
            WaitListening(Namespace("client"), port);
            return Iperf(Namespace(node), ClientAddress, port, seconds, extra);
        }
        finally
        {
            Stop(server);
        }
    }

    /// <summary>TCP from the internet host in to <paramref name="node"/>'s public address (its iperf3 server).</summary>
    public IperfRun Inbound(string node, int seconds) => Iperf(Namespace("client"), PublicIp(node), IperfPort, seconds, null);

    public IperfRun Iperf(string ns, string server, int port, int seconds, string? extra)
    {
        var args = new List<string> { "netns", "exec", ns, "iperf3", "-c", server, "-p", port.ToString(CultureInfo.InvariantCulture), "-t", seconds.ToString(CultureInfo.InvariantCulture), "-i", "1", "-J" };
        if (extra is not null)
        {
            args.AddRange(extra.Split(' '));
        }
        var start = DateTimeOffset.UtcNow;
        var result = Shell.Run(TimeSpan.FromSeconds(seconds + 30), "ip", [.. args]);
        var end = DateTimeOffset.UtcNow;
        Assert.True(result.ExitCode == 0, $"iperf3 failed: {result}");
        using var doc = JsonDocument.Parse(result.Output);
        var json = doc.RootElement.Clone();
        var summary = json.GetProperty("end");
        return new IperfRun(
            summary.GetProperty("sum_received").GetProperty("bits_per_second").GetDouble(),
            summary.GetProperty("sum_received").GetProperty("bytes").GetInt64(),
            summary.GetProperty("sum_sent").GetProperty("bytes").GetInt64(),
            start, end, json);
    }

    private static void WaitListening(string ns, int port)
    {
        for (int i = 0; i < 50; i++)
        {
            if (Shell.Run("ip", "netns", "exec", ns, "ss", "-ltnH", $"sport = :{port}").Output.Trim().Length > 0)
            {
                return;
            }
            Thread.Sleep(100);
        }
        throw new InvalidOperationException($"iperf3 did not listen on {port} in {ns}");
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public string Stats()
    {
        string path = Path.Combine(DaemonState, "datapath-stats.json");
        return File.Exists(path) ? File.ReadAllText(path) : "(no stats file)";
    }

    /// <summary>The lab daemon's process id (from lab.json).</summary>
    public int DaemonPid()
    {
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(RunDirectory, "lab.json")));
        return state.RootElement.GetProperty("processes").EnumerateArray()
            .First(p => p.GetProperty("role").GetString() == "gateway").GetProperty("pid").GetInt32();
    }

    public async Task<string> ScrapeAsync() => await _http.GetStringAsync(new Uri($"http://{Metrics}/metrics")).ConfigureAwait(false);

    public void Dispose()
    {
        GatewayExecutable.Run("lab", "down", "--name", Name);
        _http.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
