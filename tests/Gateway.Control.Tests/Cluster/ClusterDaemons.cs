using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.Control.Hosting.Tests;
using Gateway.TestSupport;

namespace Gateway.Control.Cluster.Tests;

/// <summary>
/// Gateway nodes (real <c>gateway run --etcd</c> processes) sharing one prefix of a test etcd cluster, each with its
/// own empty state folder: they can be killed with SIGKILL and started again under the same name.
/// </summary>
internal sealed class ClusterDaemons : IDisposable
{
    public const string Pool = "198.51.100.0/28"; // 14 addresses: nodes race for the last ones
    public const string Subnet = "10.3.0.0/24";

    private readonly EtcdTestCluster _etcd;
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"gwt-{Environment.ProcessId}-cluster-{Guid.NewGuid():N}");
    private readonly DaemonProcess?[] _nodes;
    private readonly string[] _extra;

    public ClusterDaemons(EtcdTestCluster etcd, int nodes, int eipQuota, params string[] extra)
    {
        _etcd = etcd;
        _nodes = new DaemonProcess?[nodes];
        EipQuota = eipQuota;
        Prefix = $"/gwt-{Environment.ProcessId}-{Guid.NewGuid():N}/";
        _extra = extra;
        Directory.CreateDirectory(_root);
    }

    public string Prefix { get; }

    public int EipQuota { get; }

    public int Count => _nodes.Length;

    public static string NodeName(int i) => string.Create(CultureInfo.InvariantCulture, $"n{i}");

    public string StateDirectory(int i, int generation = 0) => Path.Combine(_root, string.Create(CultureInfo.InvariantCulture, $"n{i}-g{generation}"));

    public DaemonProcess? this[int i] => _nodes[i];

    public bool IsUp(int i) => _nodes[i] is { HasExited: false };

    public async Task StartAsync(int i, int generation = 0)
    {
        _nodes[i]?.Dispose();
        _nodes[i] = await DaemonProcess.StartRunAsync(
        [
            "--state", StateDirectory(i, generation), "--api", "127.0.0.1:0",
            "--public-pool", Pool, "--subnet", Subnet, "--eip-quota", EipQuota.ToString(CultureInfo.InvariantCulture),
            "--etcd", _etcd.Endpoints, "--etcd-prefix", Prefix, "--node-name", NodeName(i), "--request-timeout", "5",
            .. _extra,
        ]);
    }

    public async Task StartAllAsync()
    {
        for (int i = 0; i < _nodes.Length; i++)
        {
            await StartAsync(i);
        }
    }

    public void Kill(int i)
    {
        _nodes[i]?.KillHard();
        _nodes[i]?.Dispose();
        _nodes[i] = null;
    }

    /// <summary>What every running node printed (its last 60 lines), for a failure's message.</summary>
    public string Logs() => string.Join("\n", Enumerable.Range(0, _nodes.Length).Select(i =>
        $"--- node {NodeName(i)} ({(_nodes[i] is { } n ? $"pid {n.Id}{(n.HasExited ? ", exited" : "")}" : "not running")}):\n" +
        string.Join("\n", (_nodes[i]?.Output ?? "").Split('\n').TakeLast(60))));

    public ApiClient Client(HttpClient http, int i) => _nodes[i]!.Client(http);

    /// <summary>Every item of a Describe* action, page by page.</summary>
    public static async Task<List<JsonElement>> DescribeAllAsync(ApiClient client, string service, string action, string set)
    {
        var all = new List<JsonElement>();
        for (int offset = 0; ; offset += 100)
        {
            var page = await client.CallAsync(service, action, new JsonObject { ["Offset"] = offset, ["Limit"] = 100 });
            var items = page.GetProperty(set).EnumerateArray().Select(e => e.Clone()).ToList();
            all.AddRange(items);
            if (items.Count < 100)
            {
                return all;
            }
        }
    }

    /// <summary>
    /// The bindings etcd holds, read with etcdctl (an independent client) straight from the records: each instance's
    /// EIP address if one is bound to it, else its ordinary public IP; as "public>private".
    /// </summary>
    public SortedSet<string> BindingsInEtcd() => BindingsInEtcd(_etcd.Endpoints, Prefix);

    /// <summary>The same for any prefix of any etcd cluster.</summary>
    public static SortedSet<string> BindingsInEtcd(string endpoints, string prefix)
    {
        var instances = EtcdJson(endpoints, prefix, "state/instances/");
        var addresses = EtcdJson(endpoints, prefix, "state/addresses/");
        var eipOf = new Dictionary<string, uint>(StringComparer.Ordinal);
        foreach (var a in addresses)
        {
            if (a["instanceId"]?.GetValue<string>() is { } ins)
            {
                eipOf[ins] = a["ip"]!.GetValue<uint>();
            }
        }
        var result = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var i in instances)
        {
            string id = i["id"]!.GetValue<string>();
            uint? pub = eipOf.TryGetValue(id, out uint e) ? e : i["ordinaryPublicIp"]?.GetValue<uint>();
            if (pub is uint p)
            {
                result.Add($"{Gateway.Packets.Ipv4Address.Format(p)}>{Gateway.Packets.Ipv4Address.Format(i["privateIp"]!.GetValue<uint>())}");
            }
        }
        return result;
    }

    /// <summary>The lease node <paramref name="i"/>'s registration is attached to (etcdctl), or null when it is not registered.</summary>
    public long? RegistrationLease(int i)
    {
        var response = JsonNode.Parse(Etcdctl("get", Prefix + "cluster/nodes/" + NodeName(i), "-w", "json"))!;
        return response["kvs"] is JsonArray { Count: 1 } kvs ? kvs[0]!["lease"]!.GetValue<long>() : null;
    }

    private static List<JsonNode> EtcdJson(string endpoints, string prefix, string relative) =>
        [.. EtcdctlAt(endpoints, "get", "--prefix", prefix + relative, "--print-value-only").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!)];

    /// <summary>Runs etcdctl (an independent client) against the test cluster; its output.</summary>
    public string Etcdctl(params string[] args) => EtcdctlAt(_etcd.Endpoints, args);

    private static string EtcdctlAt(string endpoints, params string[] args)
    {
        var info = new ProcessStartInfo("etcdctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["ETCDCTL_API"] = "3";
        foreach (string arg in (string[])["--endpoints", endpoints, .. args])
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"etcdctl failed: {error}");
        return output;
    }

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            node?.Dispose();
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
