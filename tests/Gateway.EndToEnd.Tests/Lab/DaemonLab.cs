using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.Control.Auth;
using Gateway.EndToEnd.Tests.Forwarding;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary>
/// A lab brought up by the real <c>gateway lab up</c> for one test class: the daemon (TAP data path, control API)
/// between an internet host and four instances, each running the test server. Tests drive it through the
/// control API as a user would, and read the daemon's counters from its stats file.
/// </summary>
/// <remarks>
/// Instances: a and b stay as they are (traffic, hairpin, spoofing); c is for EIPs; d is terminated; e is stopped and started. The public pool
/// is 198.51.100.0/28 (on-link for the internet host), the VPC 10.0.5.0/24 with the gateway at 10.0.5.1.
/// </remarks>
public sealed class DaemonLab : IDisposable
{
    public const string ClientAddress = "203.0.113.1";
    public const int ServerPort = 8080;

    private readonly string _scripts;
    private readonly Process? _internetServer;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public DaemonLab()
    {
        GatewayExecutable.SweepLeftovers();
        Name = GatewayExecutable.NewLabName();
        _scripts = Directory.CreateTempSubdirectory("gwt-lab-").FullName;
        File.WriteAllText(ServerScript, Scripts.Server);
        File.WriteAllText(ClientScript, Scripts.Client);
        string server(string name) => $"exec {Shell.Python} {ServerScript} {name} {ServerPort.ToString(CultureInfo.InvariantCulture)}";
        var topology = new JsonObject
        {
            ["name"] = Name,
            ["gateway"] = new JsonObject { ["mode"] = "tap", ["publicPool"] = new JsonArray("198.51.100.0/28") },
            ["internet"] = new JsonObject
            {
                ["subnet"] = "203.0.113.0/24",
                ["onLink"] = new JsonArray("198.51.100.0/24"),
                ["nodes"] = new JsonArray(new JsonObject { ["name"] = "client", ["kind"] = "internet-host", ["address"] = ClientAddress }),
            },
            ["vpc"] = new JsonObject { ["subnet"] = new JsonObject { ["cidr"] = "10.0.5.0/24" } },
            ["nodes"] = new JsonArray(
                Instance("a", "10.0.5.10", server("A")),
                Instance("b", "10.0.5.20", server("B")),
                Instance("c", "10.0.5.30", server("C")),
                Instance("d", "10.0.5.40", server("D")),
                Instance("e", "10.0.5.50", server("E"))),
        };
        TopologyPath = Path.Combine(_scripts, "topology.json");
        File.WriteAllText(TopologyPath, topology.ToJsonString());

        try
        {
            var up = GatewayExecutable.Run("lab", "up", TopologyPath);
            Assert.True(up.ExitCode == 0, $"lab up failed: {up}");
            UpOutput = up.Output;
            using (var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(RunDirectory, "lab.json"))))
            {
                Api = new Uri($"http://{state.RootElement.GetProperty("api").GetString()}/");
                foreach (var instance in state.RootElement.GetProperty("instances").EnumerateArray())
                {
                    InstanceOf[instance.GetProperty("node").GetString()!] = instance.GetProperty("instanceId").GetString()!;
                }
            }
            Client = new ApiClient(_http, Api, Credentials.TryRead(DaemonState) ?? throw new InvalidOperationException("no credentials in " + DaemonState));
            _internetServer = Shell.Start("ip", "netns", "exec", Namespace("client"), Shell.Python, ServerScript, "inet", ServerPort.ToString(CultureInfo.InvariantCulture));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private static JsonObject Instance(string name, string privateAddress, string exec) => new()
    {
        ["name"] = name,
        ["kind"] = "instance",
        ["privateAddress"] = privateAddress,
        ["internetAccessible"] = new JsonObject { ["publicIpAssigned"] = true, ["internetMaxBandwidthOut"] = 10 },
        ["exec"] = new JsonArray(exec),
    };

    public string Name { get; }
    public string TopologyPath { get; }
    public string UpOutput { get; } = "";
    public Uri Api { get; } = null!;
    public ApiClient Client { get; } = null!;
    public Dictionary<string, string> InstanceOf { get; } = new(StringComparer.Ordinal);
    public string RunDirectory => Path.Combine(GatewayExecutable.RunRoot, Name);
    public string DaemonState => Path.Combine(RunDirectory, "daemon");

    public string Namespace(string node) => $"gwl-{Name}-{node}";

    private string ServerScript => Path.Combine(_scripts, "server.py");
    private string ClientScript => Path.Combine(_scripts, "client.py");

    /// <summary>Connects from <paramref name="ns"/> to the test server at <paramref name="host"/>: "NAME PEER LOCAL", or null.</summary>
    public string? Ask(string ns, string protocol, string host, int attempts = 5)
    {
        for (int i = 0; i < attempts; i++)
        {
            var result = Shell.InNamespace(ns, Shell.Python, ClientScript, protocol, host, ServerPort.ToString(CultureInfo.InvariantCulture));
            if (result.ExitCode == 0 && result.Output.Trim().Length > 0)
            {
                return result.Output.Trim();
            }
            Thread.Sleep(300);
        }
        return null;
    }

    public static bool Ping(string ns, string host, int count = 3) =>
        Shell.InNamespace(ns, "ping", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", "0.2", "-W", "1", host).ExitCode == 0;

    public JsonElement Call(string service, string action, JsonObject? parameters = null) =>
        Client.CallAsync(service, action, parameters).GetAwaiter().GetResult();

    /// <summary>The instance's (private IP, public IP or null) as DescribeInstances tells.</summary>
    public (string Private, string? Public) Addresses(string node)
    {
        var i = Call("cvm", "DescribeInstances", new JsonObject { ["InstanceIds"] = new JsonArray(InstanceOf[node]) }).GetProperty("InstanceSet")[0];
        var publics = i.GetProperty("PublicIpAddresses");
        return (i.GetProperty("PrivateIpAddresses")[0].GetString()!,
            publics.ValueKind == JsonValueKind.Array && publics.GetArrayLength() > 0 ? publics[0].GetString() : null);
    }

    /// <summary>A drop counter from the daemon's stats file (rewritten every second while counters change).</summary>
    public long Drops(string reason)
    {
        string path = Path.Combine(DaemonState, "datapath-stats.json");
        if (!File.Exists(path))
        {
            return 0;
        }
        using var stats = JsonDocument.Parse(File.ReadAllText(path));
        return stats.RootElement.GetProperty("drops").GetProperty(reason).GetInt64();
    }

    /// <summary>Gratuitous ARPs the daemon sent on the internet side (stats file).</summary>
    public long GratuitousArps()
    {
        string path = Path.Combine(DaemonState, "datapath-stats.json");
        if (!File.Exists(path))
        {
            return 0;
        }
        using var stats = JsonDocument.Parse(File.ReadAllText(path));
        return stats.RootElement.GetProperty("internet").GetProperty("gratuitousArpsSent").GetInt64();
    }

    public string Stats()
    {
        string path = Path.Combine(DaemonState, "datapath-stats.json");
        return File.Exists(path) ? File.ReadAllText(path) : "(no stats file)";
    }

    public string ClientNeighbour(string address) => Shell.Run("ip", "-n", Namespace("client"), "neigh", "show", address).Output.Trim();

    public void FlushClientNeighbours() => Shell.Must("ip", "-n", Namespace("client"), "neigh", "flush", "all");

    public void Dispose()
    {
        if (_internetServer is not null)
        {
            try
            {
                _internetServer.Kill(entireProcessTree: true);
                _internetServer.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
            _internetServer.Dispose();
        }
        GatewayExecutable.Run("lab", "down", "--name", Name);
        _http.Dispose();
        try
        {
            Directory.Delete(_scripts, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
