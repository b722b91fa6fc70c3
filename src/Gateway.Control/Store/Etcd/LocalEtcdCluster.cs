using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Control.Store.Etcd;

/// <summary>
/// A plan for an etcd cluster of a few members on this host's loopback (Debian's <c>etcd-server</c>): names, free
/// ports, data folders and each member's command line. The lab's embedded etcd and the tests' etcd both start from it.
/// </summary>
/// <remarks>
/// <para>Timing: heartbeat <see cref="HeartbeatMilliseconds"/> ms and election timeout <see cref="ElectionMilliseconds"/> ms
/// instead of etcd's 100/1000 (etcd's tuning guide: the election timeout at least ten heartbeats). A lost leader is
/// replaced in about a quarter of a second, and etcd's smallest lease is ⌈1.5 × election timeout⌉ = 1 s
/// (etcd server/lease/lessor.go, minLeaseTTL). Shorter settings start elections whenever a busy 2-core host delays a
/// heartbeat.</para>
/// <para><c>--max-txn-ops 10000</c>: one RunInstances of 100 instances writes about 400 keys in one transaction (records,
/// index keys, pool keys), beyond etcd's default of 128.</para>
/// </remarks>
public sealed class LocalEtcdCluster
{
    public const int HeartbeatMilliseconds = 25;
    public const int ElectionMilliseconds = 250;

    private LocalEtcdCluster(string token, IReadOnlyList<Member> members)
    {
        Token = token;
        Members = members;
    }

    /// <summary>The cluster token (unique per plan, so members of two clusters never join each other).</summary>
    public string Token { get; }

    public IReadOnlyList<Member> Members { get; }

    /// <summary>The client URLs, comma-separated, as <c>gateway run --etcd</c> takes them.</summary>
    public string Endpoints => string.Join(",", Members.Select(m => m.ClientUrl));

    /// <summary>The etcd binary: <c>etcd</c> on PATH (Debian's etcd-server installs /usr/bin/etcd).</summary>
    public static string Executable =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':')
            .Select(dir => Path.Combine(dir, "etcd")).FirstOrDefault(File.Exists) ?? "etcd";

    /// <summary>Plans <paramref name="count"/> members named <c>&lt;namePrefix&gt;0..</c> with data under <paramref name="dataRoot"/>.</summary>
    public static LocalEtcdCluster Plan(string namePrefix, int count, string dataRoot)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var ports = FreeLoopbackPorts(2 * count);
        var members = new List<Member>();
        for (int i = 0; i < count; i++)
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"{namePrefix}{i}");
            members.Add(new Member(name, Path.Combine(dataRoot, name),
                string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{ports[2 * i]}"),
                string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{ports[2 * i + 1]}")));
        }
        return new LocalEtcdCluster($"{namePrefix}-{Guid.NewGuid():N}", members);
    }

    /// <summary>The arguments of member <paramref name="index"/>; <paramref name="existing"/>: it rejoins with its data folder.</summary>
    public IReadOnlyList<string> Arguments(int index, bool existing = false)
    {
        var m = Members[index];
        string initialCluster = string.Join(",", Members.Select(x => $"{x.Name}={x.PeerUrl}"));
        return
        [
            "--name", m.Name,
            "--data-dir", m.DataDirectory,
            "--listen-client-urls", m.ClientUrl,
            "--advertise-client-urls", m.ClientUrl,
            "--listen-peer-urls", m.PeerUrl,
            "--initial-advertise-peer-urls", m.PeerUrl,
            "--initial-cluster", initialCluster,
            "--initial-cluster-token", Token,
            "--initial-cluster-state", existing ? "existing" : "new",
            "--heartbeat-interval", HeartbeatMilliseconds.ToString(CultureInfo.InvariantCulture),
            "--election-timeout", ElectionMilliseconds.ToString(CultureInfo.InvariantCulture),
            "--max-txn-ops", "10000",
            "--logger", "zap",
            "--log-level", "warn",
        ];
    }

    /// <summary>Ports the kernel hands out for 127.0.0.1 now (bound and released at once: a later bind may still race).</summary>
    private static int[] FreeLoopbackPorts(int count)
    {
        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                sockets.Add(socket);
            }
            return [.. sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port)];
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>One member: name, data folder, client URL (what gateways connect to), peer URL (raft).</summary>
    public sealed record Member(string Name, string DataDirectory, string ClientUrl, string PeerUrl);
}
