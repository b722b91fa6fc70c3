using System.Diagnostics;
using System.Globalization;
using Gateway.DataPlane.Bindings;
using Gateway.Io.Forwarding;
using Gateway.Io.L2;
using Gateway.Packets;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>
/// A lab built for one test class: an internet host, a VPC segment with two instances, and the data path between
/// them, running in this process.
/// </summary>
/// <remarks>
/// <code>
///  ns …-inet                                   ns …-vpc (bridge br0)              ns …-a / ns …-b
///  [tapI 203.0.113.1/24] ══ TAP fd ══ LabDataPath ══ TAP fd ══ [tapV]─br0─[va]───veth───[eth0 10.0.0.10/24]
///   198.51.100.0/24 on-link                                          └─[vb]───veth───[eth0 10.0.0.20/24]
/// </code>
/// <para>The TAP devices are created by the data path in the root namespace (a TAP belongs to whoever opens
/// /dev/net/tun) and then moved into the lab's namespaces with <c>ip link set … netns …</c>: the descriptor
/// stays bound to the device, so the data path keeps reading and writing it, and nothing of the lab is left in
/// the root namespace. The VPC side needs a bridge because two instances share the segment (hairpin); the
/// internet side is a single host, so its TAP is that host's NIC.</para>
/// <para>Names carry this process's id (<c>gwt-PID-RANDOM-…</c>): the sweep at start removes namespaces of runs
/// whose process is gone (killed mid-test) and never touches a concurrent run's.</para>
/// </remarks>
public class NamespaceLab : IDisposable
{
    public const string InternetHostAddress = "203.0.113.1";
    public const string PublicA = "203.0.113.10";
    public const string PublicB = "198.51.100.20";
    public const string PrivateA = "10.0.0.10";
    public const string PrivateB = "10.0.0.20";
    public const int ServerPort = 8080;

    /// <summary>A host beyond the internet segment, reachable only through the internet host acting as upstream router.</summary>
    public const string RemoteAddress = "192.0.2.50";

    private readonly List<string> _namespaces = [];
    private readonly List<Process> _servers = [];
    private readonly string _scripts;

    public NamespaceLab()
        : this(live: false, upstream: false)
    {
    }

    /// <param name="live">
    /// False: the data path creates TAP devices, moved into the namespaces. True: veth pairs whose gateway ends stay
    /// in the root namespace (no address, IPv6 off) and are used as <c>--internet-if/--vpc-if</c> would, through
    /// <paramref name="backend"/>.
    /// </param>
    /// <param name="upstream">True: the internet host is the data path's <c>--internet-gateway</c>.</param>
    /// <param name="bridged">
    /// True: the internet side is a segment too (a bridge in namespace <see cref="InternetSegment"/> joining the TAP and
    /// a veth to the internet host), and the bridge ports towards every host finish checksums and segment GSO frames in
    /// software (<c>ethtool -K … tx off</c>), so every receiving kernel verifies every checksum the gateway produced.
    /// </param>
    /// <param name="workers">The data path's workers (queues per TAP); null: its default.</param>
    /// <param name="backend">How the live ends are opened: AF_PACKET (<c>--if-backend packet</c>) or libpcap.</param>
    /// <param name="liveVpc">The VPC side alone on a veth end (opened through <paramref name="backend"/>), the internet side a TAP.</param>
    protected NamespaceLab(bool live, bool upstream, bool bridged = false, int? workers = null, InterfaceBackend backend = InterfaceBackend.Packet, bool liveVpc = false)
    {
        Live = live;
        LiveVpc = live || liveVpc;
        Bridged = bridged;
        Backend = backend;
        SweepLeftovers();
        string id = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId:x}-{Random.Shared.Next(0x10000):x4}");
        string tapId = string.Create(CultureInfo.InvariantCulture, $"{Random.Shared.Next(0x1000000):x6}");
        Internet = $"gwt-{id}-inet";
        Vpc = $"gwt-{id}-vpc";
        InstanceA = $"gwt-{id}-a";
        InstanceB = $"gwt-{id}-b";
        InternetSegment = $"gwt-{id}-iseg";
        _scripts = Directory.CreateTempSubdirectory("gwt-").FullName;
        File.WriteAllText(ServerScript, Scripts.Server);
        File.WriteAllText(ClientScript, Scripts.Client);

        Bindings = new BindingTable();
        KnownPrivates = new PrivateAddressSet();
        KnownPrivates.Add(Ip(PrivateA));
        KnownPrivates.Add(Ip(PrivateB));
        ResetBindings();

        try
        {
            CreateNamespaces();
            string internetPort = $"gwt{tapId}i", vpcPort = $"gwt{tapId}v";
            if (live)
            {
                CreateVethToRoot(internetPort, Internet, "eth0");
            }
            if (LiveVpc)
            {
                CreateVethToRoot(vpcPort, Vpc, "gw");
            }
            Path = LabDataPath.Start(
                new LabDataPathOptions
                {
                    InternetTap = live ? null : internetPort,
                    InternetInterface = live ? internetPort : null,
                    VpcTap = LiveVpc ? null : vpcPort,
                    VpcInterface = LiveVpc ? vpcPort : null,
                    InterfaceBackend = backend,
                    VpcSubnet = Ipv4Subnet.Parse("10.0.0.0/24"),
                    InternetGateway = upstream ? Ip(InternetHostAddress) : null,
                    // Short ARP timers so a failed resolution shows within a test; the logic is the same.
                    Neighbours = new NeighbourCacheOptions { RetryMilliseconds = 200, MaxProbes = 3 },
                    Workers = workers ?? Environment.ProcessorCount,
                },
                Bindings,
                KnownPrivates);
            BuildTopology();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Internet { get; }

    /// <summary>The internet segment's namespace (bridge) in a <see cref="Bridged"/> lab; unused otherwise.</summary>
    public string InternetSegment { get; }
    public string Vpc { get; }
    public string InstanceA { get; }
    public string InstanceB { get; }
    public BindingTable Bindings { get; }
    public PrivateAddressSet KnownPrivates { get; }
    public LabDataPath Path { get; } = null!;

    private string ServerScript => System.IO.Path.Combine(_scripts, "server.py");
    private string ClientScript => System.IO.Path.Combine(_scripts, "client.py");

    public static uint Ip(string text) => Ipv4Address.TryParse(text, out uint a) ? a : throw new ArgumentException(text);

    /// <summary>A ↔ 203.0.113.10, B ↔ 198.51.100.20 and nothing else: every test starts from here.</summary>
    public void ResetBindings()
    {
        Bindings.Clear();
        Bindings.Bind(Ip(PublicA), Ip(PrivateA));
        Bindings.Bind(Ip(PublicB), Ip(PrivateB));
    }

    public bool Live { get; }

    /// <summary>How the live ends are opened (only meaningful when <see cref="Live"/> or <see cref="LiveVpc"/>).</summary>
    public InterfaceBackend Backend { get; }

    /// <summary>The VPC side is a live interface, whether or not the internet side is.</summary>
    public bool LiveVpc { get; }

    public bool Bridged { get; }

    private void CreateNamespaces()
    {
        foreach (var ns in Bridged ? new[] { Internet, InternetSegment, Vpc, InstanceA, InstanceB } : new[] { Internet, Vpc, InstanceA, InstanceB })
        {
            Shell.Must("ip", "netns", "add", ns);
            _namespaces.Add(ns);
            Shell.Must("ip", "-n", ns, "link", "set", "lo", "up");
            // No IPv6: keeps router solicitations and DAD off the segments (they would only be counted and ignored).
            Shell.Must("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        }
    }

    /// <summary>A veth pair: <paramref name="rootEnd"/> stays here for the gateway, the peer goes into <paramref name="ns"/>.
    /// Deleting the namespace deletes the pair, so the namespace cleanup and the sweep remove it too.</summary>
    private static void CreateVethToRoot(string rootEnd, string ns, string peer)
    {
        Shell.Must("ip", "link", "add", rootEnd, "type", "veth", "peer", "name", peer, "netns", ns);
        Shell.Must("sysctl", "-qw", $"net.ipv6.conf.{rootEnd}.disable_ipv6=1");
        Shell.Must("ip", "link", "set", rootEnd, "up");
    }

    private void BuildTopology()
    {
        // Internet: the TAP (or the veth peer) is the host's NIC. The second documentation range is on-link too,
        // so the host ARPs for both kinds of public address directly, as hosts on a shared segment do.
        string tapI = Live || Bridged ? "eth0" : Path.InternetPortName;
        if (Bridged)
        {
            // TAP — br0 — ph ═ veth ═ eth0 of the internet host; ph finishes checksums in software.
            Shell.Must("ip", "-n", InternetSegment, "link", "add", "br0", "type", "bridge");
            Shell.Must("ip", "-n", InternetSegment, "link", "set", "br0", "up");
            Shell.Must("ip", "link", "set", Path.InternetPortName, "netns", InternetSegment);
            Shell.Must("ip", "-n", InternetSegment, "link", "set", Path.InternetPortName, "master", "br0");
            Shell.Must("ip", "-n", InternetSegment, "link", "set", Path.InternetPortName, "up");
            Shell.Must("ip", "-n", InternetSegment, "link", "add", "ph", "type", "veth", "peer", "name", "eth0", "netns", Internet);
            Shell.Must("ip", "-n", InternetSegment, "link", "set", "ph", "master", "br0");
            Shell.Must("ip", "-n", InternetSegment, "link", "set", "ph", "up");
            SoftwareChecksums(InternetSegment, "ph");
        }
        else if (!Live)
        {
            Shell.Must("ip", "link", "set", tapI, "netns", Internet);
        }
        Shell.Must("ip", "-n", Internet, "addr", "add", $"{InternetHostAddress}/24", "dev", tapI);
        DisableChecksumOffload(Internet, tapI);
        Shell.Must("ip", "-n", Internet, "link", "set", tapI, "up");
        Shell.Must("ip", "-n", Internet, "route", "add", "198.51.100.0/24", "dev", tapI);
        // The internet host doubles as the router to a remote address, which it holds on lo. arp_ignore=1: it answers
        // ARP only for addresses of the interface asked on, so the remote address is reachable through it as a next
        // hop (--internet-gateway) and never by asking for it on the segment.
        Shell.Must("ip", "-n", Internet, "addr", "add", $"{RemoteAddress}/32", "dev", "lo");
        Shell.Must("ip", "netns", "exec", Internet, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1");

        // VPC: a bridge joining the gateway's TAP and one veth per instance.
        string tapV = LiveVpc ? "gw" : Path.VpcPortName;
        Shell.Must("ip", "-n", Vpc, "link", "add", "br0", "type", "bridge");
        Shell.Must("ip", "-n", Vpc, "link", "set", "br0", "up");
        if (!LiveVpc)
        {
            Shell.Must("ip", "link", "set", tapV, "netns", Vpc);
        }
        Shell.Must("ip", "-n", Vpc, "link", "set", tapV, "master", "br0");
        Shell.Must("ip", "-n", Vpc, "link", "set", tapV, "up");
        AddInstance(InstanceA, "va", PrivateA);
        AddInstance(InstanceB, "vb", PrivateB);

        StartServer(InstanceA, "A");
        StartServer(InstanceB, "B");
        StartServer(Internet, "inet");
    }

    private void AddInstance(string ns, string bridgePort, string address)
    {
        Shell.Must("ip", "-n", Vpc, "link", "add", bridgePort, "type", "veth", "peer", "name", "eth0", "netns", ns);
        Shell.Must("ip", "-n", Vpc, "link", "set", bridgePort, "master", "br0");
        Shell.Must("ip", "-n", Vpc, "link", "set", bridgePort, "up");
        if (Bridged)
        {
            SoftwareChecksums(Vpc, bridgePort);
        }
        Shell.Must("ip", "-n", ns, "addr", "add", $"{address}/24", "dev", "eth0");
        DisableChecksumOffload(ns, "eth0");
        Shell.Must("ip", "-n", ns, "link", "set", "eth0", "up");
        Shell.Must("ip", "-n", ns, "route", "add", "default", "via", "10.0.0.1");
    }

    /// <summary>
    /// A veth leaves TCP/UDP checksums to be filled in "by the NIC" (CHECKSUM_PARTIAL); libpcap captures them unfilled,
    /// and a translator that updates checksums incrementally (RFC 1624) would pass the hole on. Hosts whose frames a
    /// libpcap port captures compute checksums themselves, as every pcap-based forwarder needs. The AF_PACKET port
    /// learns of the partial checksum from the frame's virtio_net_hdr and passes it on as such, and TAP devices hand
    /// over frames with their offload metadata too, so neither needs anything.
    /// </summary>
    private void DisableChecksumOffload(string ns, string device)
    {
        if (Backend == InterfaceBackend.Pcap && (Live || (LiveVpc && ns != Internet)))
        {
            Shell.Must("ip", "netns", "exec", ns, "ethtool", "-K", device, "tx", "off");
        }
    }

    /// <summary>
    /// A bridge port that cannot checksum or segment (<c>tx off</c>): the kernel finishes every partial checksum and
    /// cuts every GSO frame in software before it leaves there (validate_xmit_skb), from the pseudo-header sum the
    /// gateway left in the field, so the host behind it receives whole frames (CHECKSUM_NONE) and verifies them.
    /// </summary>
    private static void SoftwareChecksums(string ns, string device) =>
        Shell.Must("ip", "netns", "exec", ns, "ethtool", "-K", device, "tx", "off");

    private void StartServer(string ns, string name)
    {
        // ip netns exec execs the server, so the process we hold is the server itself.
        _servers.Add(Shell.Start("ip", "netns", "exec", ns, Shell.Python, ServerScript, name, ServerPort.ToString(CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// Connects from namespace <paramref name="ns"/> to <paramref name="host"/> (tcp or udp) and returns the server's
    /// answer: "NAME PEER-ADDRESS LOCAL-ADDRESS", or null when nothing answered.
    /// </summary>
    public string? Ask(string ns, string protocol, string host, int attempts = 5)
    {
        for (int i = 0; i < attempts; i++)
        {
            var result = Shell.InNamespace(ns, Shell.Python, ClientScript, protocol, host, ServerPort.ToString(CultureInfo.InvariantCulture));
            if (result.ExitCode == 0 && result.Output.Trim().Length > 0)
            {
                return result.Output.Trim();
            }
            Thread.Sleep(300); // the server may still be starting
        }
        return null;
    }

    /// <summary>True when <paramref name="count"/> pings from <paramref name="ns"/> to <paramref name="host"/> got at least one answer.</summary>
    public static bool Ping(string ns, string host, int count = 3) =>
        Shell.InNamespace(ns, "ping", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", "0.2", "-W", "1", host).ExitCode == 0;

    /// <summary>The internet host's neighbour entry for <paramref name="address"/> ("" when there is none).</summary>
    public string InternetNeighbour(string address) => Shell.Run("ip", "-n", Internet, "neigh", "show", address).Output.Trim();

    public void FlushInternetNeighbours() => Shell.Must("ip", "-n", Internet, "neigh", "flush", "all");

    /// <summary>Waits (bounded) for a condition that depends on traffic and timers; never asserts how long it took.</summary>
    public static bool Eventually(Func<bool> condition, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }
            Thread.Sleep(100);
        }
        return condition();
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        foreach (var server in _servers)
        {
            try
            {
                server.Kill(entireProcessTree: true);
                server.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
            server.Dispose();
        }
        Path?.Dispose(); // closes the TAP descriptors: both devices disappear, wherever they were moved
        foreach (var ns in _namespaces)
        {
            Shell.Run("ip", "netns", "del", ns);
        }
        try
        {
            Directory.Delete(_scripts, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Removes gwt-PID-… namespaces whose process no longer runs (a run killed before its cleanup).</summary>
    public static void SweepLeftovers()
    {
        foreach (var line in Shell.Run("ip", "netns", "list").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = line.Split(' ')[0];
            string[] parts = name.Split('-');
            if (parts.Length >= 3 && parts[0] == "gwt"
                && int.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int pid)
                && !IsRunning(pid))
            {
                Shell.Run("ip", "netns", "del", name);
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

/// <summary>The servers and clients run inside the namespaces (python3: small and dependency-free).</summary>
internal static class Scripts
{
    /// <summary>Answers every TCP connection and UDP datagram on PORT with "NAME PEER-ADDRESS LOCAL-ADDRESS".</summary>
    public const string Server = """
        import socket, sys, threading
        name, port = sys.argv[1], int(sys.argv[2])
        IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux's value; older Pythons do not name it

        def tcp():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
            s.listen(16)
            while True:
                c, peer = s.accept()
                try:
                    c.sendall(f"{name} {peer[0]} {c.getsockname()[0]}\n".encode())
                finally:
                    c.close()

        def udp():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            s.bind(("0.0.0.0", port))
            while True:
                data, ancillary, flags, peer = s.recvmsg(2048, 256)
                local = "?"
                for level, kind, value in ancillary:
                    if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                        local = socket.inet_ntoa(value[8:12])  # struct in_pktinfo: ifindex, spec_dst, addr
                s.sendto(f"{name} {peer[0]} {local}\n".encode(), peer)

        threading.Thread(target=udp, daemon=True).start()
        tcp()
        """;

    /// <summary>Connects (tcp) or sends one datagram (udp) to HOST:PORT and prints the answer.</summary>
    public const string Client = """
        import socket, sys
        proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
        if proto == "tcp":
            with socket.create_connection((host, port), timeout=2) as s:
                print(s.recv(256).decode().strip())
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1)
            for _ in range(3):
                s.sendto(b"hello", (host, port))
                try:
                    print(s.recv(256).decode().strip())
                    break
                except socket.timeout:
                    pass
            else:
                sys.exit(1)
        """;
}

/// <summary>The same lab with the gateway on veth ends (<c>--internet-if/--vpc-if</c>) through AF_PACKET instead of TAP devices.</summary>
public sealed class LiveNamespaceLab : NamespaceLab
{
    public LiveNamespaceLab()
        : base(live: true, upstream: false, backend: InterfaceBackend.Packet)
    {
    }
}

/// <summary>The veth lab through libpcap (<c>--if-backend pcap</c>), the fallback backend.</summary>
public sealed class PcapLiveNamespaceLab : NamespaceLab
{
    public PcapLiveNamespaceLab()
        : base(live: true, upstream: false, backend: InterfaceBackend.Pcap)
    {
    }
}

/// <summary>The TAP lab with the internet host as upstream router (<c>--internet-gateway 203.0.113.1</c>).</summary>
public sealed class UpstreamNamespaceLab : NamespaceLab
{
    public UpstreamNamespaceLab()
        : base(live: false, upstream: true)
    {
    }
}

/// <summary>
/// The TAP lab for offloads: both sides bridged, every host behind a bridge port that finishes checksums and segments
/// in software (so every receiving kernel verifies what the gateway sent), and two workers (two queues per TAP).
/// </summary>
public sealed class OffloadNamespaceLab : NamespaceLab
{
    public OffloadNamespaceLab()
        : base(live: false, upstream: false, bridged: true, workers: 2)
    {
    }
}

/// <summary>
/// The internet side a TAP with offloads (bridged, hosts verifying in software), the VPC side a veth end through
/// libpcap (<c>--if-backend pcap</c>): a port that takes no GSO, so super-frames from the internet are segmented by the gateway itself.
/// </summary>
public sealed class MixedPortsNamespaceLab : NamespaceLab
{
    public MixedPortsNamespaceLab()
        : base(live: false, upstream: false, bridged: true, workers: 2, backend: InterfaceBackend.Pcap, liveVpc: true)
    {
    }
}
