using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gateway.Io.Forwarding;
using static Gateway.EndToEnd.Tests.Forwarding.NamespaceLab;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>
/// GSO super-frames and partial checksums through a real TAP pair: real kernels send TCP (TSO) and UDP (USO) through
/// the gateway inbound, outbound and hairpin, with offloads (NEEDS_CSUM super-frames reach the gateway) and without
/// (finished checksums, MTU-sized frames). The receiving kernel sits behind a bridge port that finishes checksums and
/// segments in software, so it verifies every checksum the gateway left: its checksum error counters must not move,
/// every byte must arrive, and a capture there must show the translated addresses.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class GsoThroughTapTests : IClassFixture<OffloadNamespaceLab>, IDisposable
{
    private readonly OffloadNamespaceLab _lab;
    private readonly string _scripts;

    public GsoThroughTapTests(OffloadNamespaceLab lab)
    {
        _lab = lab;
        _lab.ResetBindings();
        _scripts = OffloadScripts.WriteAll();
        // Every sender starts with its offloads on (the test that turns them off turns them back on).
        foreach (var ns in new[] { _lab.Internet, _lab.InstanceA, _lab.InstanceB })
        {
            Shell.Must("ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "on", "tso", "on", "gso", "on");
        }
    }

    public void Dispose()
    {
        Directory.Delete(_scripts, recursive: true);
    }

    private string Script(string name) => System.IO.Path.Combine(_scripts, name);

    /// <summary>(sender namespace, address it sends to, receiver namespace, source the receiver must see, destination it must see)</summary>
    private (string From, string To, string Receiver, string SeenSource, string SeenDestination) Direction(string direction) => direction switch
    {
        "inbound" => (_lab.Internet, PublicA, _lab.InstanceA, InternetHostAddress, PrivateA),
        "outbound" => (_lab.InstanceA, InternetHostAddress, _lab.Internet, PublicA, InternetHostAddress),
        "hairpin" => (_lab.InstanceA, PublicB, _lab.InstanceB, PublicA, PrivateB),
        _ => throw new ArgumentException(direction),
    };

    public static TheoryData<string, bool> Cases => new()
    {
        { "inbound", true }, { "outbound", true }, { "hairpin", true },
        { "inbound", false }, { "outbound", false }, { "hairpin", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Tcp_EveryByteArrives_TheFarKernelCountsNoChecksumError_AndSeesTheTranslatedAddresses(string direction, bool offloads)
    {
        var (from, to, receiver, seenSource, seenDestination) = Direction(direction);
        const int Port = 9100, Bytes = 8 << 20;
        var before = Offloads();
        var errorsBefore = ChecksumErrors(receiver);
        using var sink = Background(receiver, Shell.Python, Script("tcpsink.py"), Port.ToString(CultureInfo.InvariantCulture));
        using var capture = Capture.Start(receiver, $"tcp dst port {Port}", _scripts);
        SenderOffloads(from, offloads);
        Shell.Result sent;
        try
        {
            sent = RetryUntilListening(() => Shell.InNamespace(from, Shell.Python, Script("tcpsend.py"), to, Port.ToString(CultureInfo.InvariantCulture), Bytes.ToString(CultureInfo.InvariantCulture)));
        }
        finally
        {
            SenderOffloads(from, true);
        }

        // "RECEIVED-BYTES RECEIVED-SHA256 PEER SENT-SHA256": every byte, the same bytes, from the translated source.
        string[] fields = sent.Output.Trim().Split(' ');
        Assert.True(sent.ExitCode == 0 && fields.Length == 4, $"{sent}; {Describe()}");
        Assert.Equal(Bytes.ToString(CultureInfo.InvariantCulture), fields[0]);
        Assert.Equal(fields[3], fields[1]);
        Assert.Equal(seenSource, fields[2]);
        Assert.Equal(errorsBefore, ChecksumErrors(receiver));
        var addresses = capture.Stop();
        Assert.NotEmpty(addresses);
        Assert.All(addresses, a => Assert.Equal((seenSource, seenDestination), a));
        AssertOffloads(before, offloads);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Udp_EveryDatagramArrivesInOrder_TheFarKernelCountsNoChecksumError_AndSeesTheTranslatedAddresses(string direction, bool offloads)
    {
        var (from, to, receiver, seenSource, seenDestination) = Direction(direction);
        const int Port = 9200, Flows = 4, PerFlow = 600, Size = 1200;
        // Neighbours resolved first, as a flow's first exchange would: a burst into an unresolved next hop is held only
        // up to the ARP queue's bound (the rest dropped as queue-full, by design).
        Assert.True(Ping(from, to), Describe());
        var before = Offloads();
        var errorsBefore = ChecksumErrors(receiver);
        using var capture = Capture.Start(receiver, $"udp dst port {Port}", _scripts);
        var sink = Background(receiver, Shell.Python, Script("udpsink.py"), Port.ToString(CultureInfo.InvariantCulture));
        SenderOffloads(from, offloads);
        try
        {
            Thread.Sleep(500); // the receiver binds
            // With offloads: UDP_SEGMENT bursts of 40 datagrams (USO super-frames); without: one send per datagram.
            var sent = Shell.InNamespace(from, Shell.Python, Script("udpsend.py"), to, Port.ToString(CultureInfo.InvariantCulture),
                Flows.ToString(CultureInfo.InvariantCulture), PerFlow.ToString(CultureInfo.InvariantCulture), Size.ToString(CultureInfo.InvariantCulture), offloads ? "40" : "1");
            Assert.True(sent.ExitCode == 0, sent.ToString());
        }
        finally
        {
            SenderOffloads(from, true);
        }
        var flows = sink.Result(TimeSpan.FromSeconds(30));

        Assert.Equal(Flows, flows.Count);
        foreach (var (peer, flow) in flows)
        {
            Assert.Equal(seenSource, peer.Split(':')[0]);
            Assert.True(flow.Ordered, $"flow {peer} arrived out of order");
            // Datagrams may be lost under load (they are counted, port-overrun); a wrong checksum would lose them all.
            Assert.True(flow.Count >= PerFlow * 9 / 10, $"flow {peer}: {flow.Count} of {PerFlow}; {Describe()}");
        }
        Assert.Equal(errorsBefore, ChecksumErrors(receiver));
        var addresses = capture.Stop();
        Assert.NotEmpty(addresses);
        Assert.All(addresses, a => Assert.Equal((seenSource, seenDestination), a));
        AssertOffloads(before, offloads);
    }

    [Fact]
    public void SeveralFlowsAtOnce_SpreadOverTheWorkers_EachInOrder_AndTheWorkersCountersAddUpToTheTotals()
    {
        const int Port = 9300, Flows = 16, PerFlow = 300;
        Assert.Equal(2, _lab.Path.Workers.Count);
        Assert.True(Ping(_lab.Internet, PublicA), Describe());
        var receivedBefore = _lab.Path.Workers.Select(w => w.Counters.ReceivedPacketCount).ToArray();
        var sink = Background(_lab.InstanceA, Shell.Python, Script("udpsink.py"), Port.ToString(CultureInfo.InvariantCulture));
        Thread.Sleep(500);
        var sent = Shell.InNamespace(_lab.Internet, Shell.Python, Script("udpsend.py"), PublicA, Port.ToString(CultureInfo.InvariantCulture),
            Flows.ToString(CultureInfo.InvariantCulture), PerFlow.ToString(CultureInfo.InvariantCulture), "200", "1");
        Assert.True(sent.ExitCode == 0, sent.ToString());
        var flows = sink.Result(TimeSpan.FromSeconds(30));

        Assert.Equal(Flows, flows.Count);
        Assert.All(flows, f => Assert.True(f.Value.Ordered, $"flow {f.Key} arrived out of order"));
        // Sixteen flows hash onto both queues (all on one: 2 in 65,536), so both workers carried some.
        var workers = _lab.Path.Workers;
        Assert.All(workers, w => Assert.True(w.Counters.ReceivedPacketCount - receivedBefore[w.Index] >= PerFlow / 2,
            $"worker {w.Index} received {w.Counters.ReceivedPacketCount - receivedBefore[w.Index]}; {Describe()}"));
        Assert.True(NamespaceLab.Eventually(() =>
        {
            var total = _lab.Path.Snapshot();
            var parts = _lab.Path.Counters;
            return total.ReceivedPackets == parts.Sum(c => c.ReceivedPacketCount)
                && total.ForwardedPackets == parts.Sum(c => c.ForwardedPacketCount)
                && total.ReceivedPackets == workers.Sum(w => w.Counters.ReceivedPacketCount) + _lab.Path.MaintenanceCounters.ReceivedPacketCount;
        }));
    }

    private void SenderOffloads(string ns, bool on) =>
        Shell.Must("ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", on ? "on" : "off", "tso", on ? "on" : "off", "gso", on ? "on" : "off");

    private (long GsoFrames, long Segmented) Offloads() =>
        (_lab.Path.Workers.Sum(w => w.Offloads.GsoFrames), _lab.Path.Workers.Sum(w => w.Offloads.SoftwareSegmentedFrames));

    private void AssertOffloads((long GsoFrames, long Segmented) before, bool offloads)
    {
        var after = Offloads();
        if (offloads)
        {
            Assert.True(after.GsoFrames > before.GsoFrames, $"no GSO super-frame reached the gateway; {Describe()}");
        }
        else
        {
            Assert.Equal(before.GsoFrames, after.GsoFrames);
        }
        Assert.Equal(before.Segmented, after.Segmented); // both TAPs take GSO: nothing cut in software
    }

    /// <summary>InCsumErrors of TCP and UDP in <paramref name="ns"/> (/proc/net/snmp there: the kernel's own count).</summary>
    internal static (long Tcp, long Udp) ChecksumErrors(string ns)
    {
        string[] lines = Shell.Must("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Split('\n');
        long Read(string protocol)
        {
            var rows = lines.Where(l => l.StartsWith(protocol + ":", StringComparison.Ordinal)).ToArray();
            string[] names = rows[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string[] values = rows[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(values[Array.IndexOf(names, "InCsumErrors")], CultureInfo.InvariantCulture);
        }
        return (Read("Tcp"), Read("Udp"));
    }

    internal static Shell.Result RetryUntilListening(Func<Shell.Result> run)
    {
        Shell.Result result = run();
        for (int i = 0; i < 10 && result.ExitCode != 0 && result.Error.Contains("refused", StringComparison.OrdinalIgnoreCase); i++)
        {
            Thread.Sleep(300);
            result = run();
        }
        return result;
    }

    private string Describe()
    {
        var s = _lab.Path.Snapshot();
        var drops = string.Join(", ", s.NonZeroDrops.Select(kv => $"{kv.Key}={kv.Value}"));
        var (i, v) = _lab.Path.KernelDrops();
        var workers = string.Join("; ", _lab.Path.Workers.Select(w => $"w{w.Index} rx {w.Counters.ReceivedPacketCount} gso {w.Offloads.GsoFrames}"));
        return $"received {s.ReceivedPackets}, forwarded {s.ForwardedPackets}, dropped {s.DroppedPackets} ({drops}); kernel dropped {i.Frames}/{v.Frames}; {workers}";
    }

    internal static BackgroundProcess Background(string ns, string file, params string[] arguments) =>
        new(Shell.Start("ip", ["netns", "exec", ns, file, .. arguments]));

    /// <summary>A server in a namespace: killed on dispose, or waited for and its JSON report read.</summary>
    internal sealed class BackgroundProcess(Process process) : IDisposable
    {
        public Dictionary<string, UdpFlow> Result(TimeSpan timeout)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("the UDP receiver did not finish");
            }
            using var json = JsonDocument.Parse(output.Result);
            return json.RootElement.EnumerateObject().ToDictionary(
                p => p.Name,
                p => new UdpFlow(p.Value.GetProperty("count").GetInt32(), p.Value.GetProperty("ordered").GetBoolean()));
        }

        public void Dispose()
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
            process.Dispose();
        }
    }

    internal sealed record UdpFlow(int Count, bool Ordered);

    /// <summary>dumpcap in a namespace (headers only); <see cref="Stop"/> gives every captured packet's (source, destination).</summary>
    internal sealed class Capture : IDisposable
    {
        private readonly Process _process;
        private readonly string _file;

        private Capture(Process process, string file)
        {
            _process = process;
            _file = file;
        }

        public static Capture Start(string ns, string filter, string directory)
        {
            string file = System.IO.Path.Combine(directory, $"capture-{Guid.NewGuid():N}.pcapng");
            var process = Shell.Start("ip", "netns", "exec", ns, "dumpcap", "-q", "-i", "eth0", "-s", "128", "-f", filter, "-w", file);
            // dumpcap says "Capturing on" once it listens; wait for the file to appear.
            NamespaceLab.Eventually(() => File.Exists(file), seconds: 10);
            Thread.Sleep(200);
            return new Capture(process, file);
        }

        public List<(string Source, string Destination)> Stop()
        {
            Thread.Sleep(300);
            Shell.Run("kill", "-INT", _process.Id.ToString(CultureInfo.InvariantCulture));
            _process.WaitForExit(10_000);
            var read = Shell.Run("tshark", "-r", _file, "-T", "fields", "-e", "ip.src", "-e", "ip.dst");
            return [.. read.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Select(f => (f[0], f[1]))];
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            _process.Dispose();
        }
    }
}

/// <summary>Python senders and receivers for bulk TCP and numbered UDP flows (no third-party tools).</summary>
internal static class OffloadScripts
{
    /// <summary>Writes the four scripts into a new temporary directory (the caller deletes it).</summary>
    public static string WriteAll()
    {
        string directory = Directory.CreateTempSubdirectory("gwt-gso-").FullName;
        File.WriteAllText(System.IO.Path.Combine(directory, "tcpsink.py"), TcpSink);
        File.WriteAllText(System.IO.Path.Combine(directory, "tcpsend.py"), TcpSend);
        File.WriteAllText(System.IO.Path.Combine(directory, "udpsink.py"), UdpSink);
        File.WriteAllText(System.IO.Path.Combine(directory, "udpsend.py"), UdpSend);
        return directory;
    }

    /// <summary>Accepts connections; for each, reads to the end and answers "BYTES SHA256 PEER".</summary>
    public const string TcpSink = """
        import hashlib, socket, sys
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(sys.argv[1])))
        s.listen(8)
        while True:
            c, peer = s.accept()
            h, n = hashlib.sha256(), 0
            while True:
                d = c.recv(1 << 20)
                if not d:
                    break
                h.update(d)
                n += len(d)
            c.sendall(f"{n} {h.hexdigest()} {peer[0]}\n".encode())
            c.close()
        """;

    /// <summary>Sends BYTES pseudo-random bytes to HOST:PORT; prints the sink's answer and the sent bytes' SHA256.</summary>
    public const string TcpSend = """
        import hashlib, random, socket, sys
        host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        data = random.Random(1624).randbytes(n)
        with socket.create_connection((host, port), timeout=30) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while not answer.endswith(b"\n"):
                d = s.recv(256)
                if not d:
                    break
                answer += d
        print(answer.decode().strip(), hashlib.sha256(data).hexdigest())
        """;

    /// <summary>
    /// Counts numbered datagrams per sender (address:port) until 3 s pass without one; prints
    /// {"ADDRESS:PORT": {"count": N, "ordered": true|false}} (ordered: every number larger than the one before).
    /// </summary>
    public const string UdpSink = """
        import json, socket, struct, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE: hold a whole burst
        s.bind(("0.0.0.0", int(sys.argv[1])))
        flows = {}
        s.settimeout(20)
        while True:
            try:
                data, peer = s.recvfrom(65536)
            except socket.timeout:
                break
            s.settimeout(3)
            f = flows.setdefault(f"{peer[0]}:{peer[1]}", {"count": 0, "ordered": True, "last": -1})
            number = struct.unpack("!I", data[:4])[0]
            f["ordered"] &= number > f["last"]
            f["last"] = number
            f["count"] += 1
        print(json.dumps({k: {"count": v["count"], "ordered": v["ordered"]} for k, v in flows.items()}))
        """;

    /// <summary>
    /// FLOWS flows (one socket each) of COUNT numbered datagrams of SIZE bytes to HOST:PORT, interleaved; BURST > 1 sends
    /// BURST datagrams per sendto with UDP_SEGMENT (UDP GSO: one super-frame), 1 sends each on its own.
    /// </summary>
    public const string UdpSend = """
        import socket, struct, sys, time
        host, port, flows, count, size, burst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
        socks = []
        for i in range(flows):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            if burst > 1:
                s.setsockopt(socket.IPPROTO_UDP, 103, size)  # UDP_SEGMENT
            s.connect((host, port))
            socks.append(s)
        pad = bytes(size - 4)
        for start in range(0, count, burst):
            for s in socks:
                n = min(burst, count - start)
                s.send(b"".join(struct.pack("!I", start + k) + pad for k in range(n)))
            time.sleep(0.002)
        """;
}
