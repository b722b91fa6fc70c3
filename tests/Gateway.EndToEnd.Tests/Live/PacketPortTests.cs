using System.Buffers.Binary;
using System.Globalization;
using Gateway.EndToEnd.Tests.Forwarding;
using Gateway.Io.Live;
using Gateway.Io.Ports;
using Gateway.Packets;
using Gateway.TestSupport;
using Xunit.Abstractions;
using static Gateway.EndToEnd.Tests.Live.PacketPortLab;

namespace Gateway.EndToEnd.Tests.Live;

/// <summary>
/// The AF_PACKET port on a real veth pair: frames in through its ring, out through sendmmsg, GSO super-frames both
/// ways, fanout, kernel drops. The oracle is the kernel in the namespaces behind the veth: its counters say whether
/// every segment arrived with a valid checksum.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class PacketPortTests : IClassFixture<PacketPortLab>
{
    private const int SinkPort = 9;
    private readonly PacketPortLab _lab;
    private readonly ITestOutputHelper _output;

    public PacketPortTests(PacketPortLab lab, ITestOutputHelper output)
    {
        _lab = lab;
        _output = output;
    }

    // ---------------------------------------------------------------- receive

    [Fact]
    public void FramesFromTheSegmentArriveInOrderWithTheirOffloadMetadata()
    {
        using var port = PacketPort.Open(_lab.Interface, queueCount: 1);
        var batch = new FrameBatch(32, port.MaxFrameLength);
        Send(_lab.Router, PortAddress, flows: 1, perFlow: 300);
        var frames = Collect(port.Queue(0), batch, expected: 300);

        Assert.Equal(300, frames.Count);
        for (int i = 0; i < frames.Count; i++)
        {
            var (frame, offload) = frames[i];
            Assert.Equal((0, i), Sequence(frame));
            Assert.Equal(_lab.PortMac.Value, Io.L2.MacAddress.Read(frame).Value);
            // A datagram from a local socket over a veth leaves its checksum to "the hardware": the header says where it is.
            if (offload.NeedsChecksum)
            {
                Assert.Equal(14 + 20, offload.ChecksumStart);
                Assert.Equal(6, offload.ChecksumOffset);
            }
            else
            {
                Oracle.AssertChecksumsValid(frame);
            }
            Assert.False(offload.IsGso);
        }
    }

    [Fact]
    public void AVlanTagTheKernelTookOutIsPutBack()
    {
        using var port = PacketPort.Open(_lab.Interface, queueCount: 1);
        var batch = new FrameBatch(32, port.MaxFrameLength);
        // A tagged frame put on the wire raw (this kernel has no 802.1Q devices to make one): the receiving side moves
        // the tag into skb metadata before packet sockets see the frame, and the port must put it back.
        byte[] tagged = Frames.Udp(RouterAddress, PortAddress, 20000, SinkPort, [0, 0, 0, 0, 0, 0, 0, 0],
            Options(_lab.RouterMac, _lab.PortMac) with { Vlans = [VlanTag.Dot1Q(7)] });
        Python(_lab.Router, $"""
            import socket
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind(("eth0", 0))
            for _ in range(5):
                s.send(bytes.fromhex("{Convert.ToHexString(tagged)}"))
            """);
        var frames = Collect(port.Queue(0), batch, expected: 5);

        Assert.Equal(5, frames.Count);
        var (frame, offload) = frames[0];
        Assert.Equal(tagged, frame);
        Assert.False(offload.NeedsChecksum);
    }

    [Fact]
    public void AGsoSuperFrameFromTheSegmentArrivesWholeWithItsHeader()
    {
        using var port = PacketPort.Open(_lab.Interface, queueCount: 1);
        var batch = new FrameBatch(8, port.MaxFrameLength);
        // UDP_SEGMENT (UDP GSO, linux/udp.h 103): one send of 10 × 1400 bytes leaves the socket as one GSO skb, which a
        // veth hands on whole; far larger than a ring slot, it comes through the copy path.
        Python(_lab.Router, $"""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(17, 103, 1400)
            s.sendto(bytes(range(256)) * 54 + bytes(176), ("{PortAddress}", {SinkPort}))
            """);
        var frames = Collect(port.Queue(0), batch, expected: 1);

        var (frame, offload) = Assert.Single(frames);
        Assert.Equal(14 + 20 + 8 + 14_000, frame.Length);
        Assert.Equal(VirtioNetHeader.GsoUdpL4, offload.GsoType);
        Assert.Equal(1400, offload.GsoSize);
        Assert.True(offload.NeedsChecksum);
        Assert.Equal(14 + 20, offload.ChecksumStart);
        Assert.Equal(14 + 20 + 8 + 14_000, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(14 + 2)) + 14);
        Assert.Equal(255, frame[14 + 20 + 8 + 255]);
    }

    [Fact]
    public void FanoutKeepsEachFlowOnOneQueueInOrder()
    {
        const int flows = 16, perFlow = 200;
        using var port = PacketPort.Open(_lab.Interface, queueCount: 2);
        var perQueue = new List<(byte[] Frame, VirtioNetHeader Offload)>[2];
        // Each reader stops once its queue has been quiet for 3 s.
        var readers = Enumerable.Range(0, 2).Select(q => new Thread(() =>
        {
            var batch = new FrameBatch(32, port.MaxFrameLength);
            perQueue[q] = Collect(port.Queue(q), batch, expected: flows * perFlow, seconds: 3);
        })).ToList();
        readers.ForEach(t => t.Start());
        Send(_lab.Router, PortAddress, flows, perFlow);
        readers.ForEach(t => t.Join());

        var queueOfFlow = new Dictionary<int, int>();
        for (int q = 0; q < 2; q++)
        {
            var last = new Dictionary<int, int>();
            foreach (var (frame, _) in perQueue[q])
            {
                var (flow, sequence) = Sequence(frame);
                Assert.True(queueOfFlow.TryAdd(flow, q) || queueOfFlow[flow] == q, $"flow {flow} arrived on both queues");
                Assert.Equal(last.GetValueOrDefault(flow, -1) + 1, sequence);
                last[flow] = sequence;
            }
        }
        _output.WriteLine($"queue 0: {perQueue[0].Count} frames, queue 1: {perQueue[1].Count} frames; flows per queue: {queueOfFlow.Count(p => p.Value == 0)} / {queueOfFlow.Count(p => p.Value == 1)}");
        Assert.Equal(flows * perFlow, perQueue[0].Count + perQueue[1].Count);
        Assert.Equal(flows, queueOfFlow.Count);
        Assert.Contains(0, queueOfFlow.Values); // 16 flows all on one queue: 2 in 65,536
        Assert.Contains(1, queueOfFlow.Values);
    }

    [Fact]
    public void FramesTheRingHadNoRoomForAreReportedAsKernelDrops()
    {
        // The smallest ring (one 128 KiB block of 2 KiB slots: 64 frames), not drained while 1,000 frames arrive.
        using var port = PacketPort.Open(_lab.Interface, queueCount: 1, ringFrames: 64);
        var batch = new FrameBatch(32, port.MaxFrameLength);
        Assert.Equal(new PortKernelDrops(0, true), port.KernelDrops());
        long before = LinkCounter(_lab.Router, "eth0", "tx_packets");
        Send(_lab.Router, PortAddress, flows: 1, perFlow: 1000);
        long sent = LinkCounter(_lab.Router, "eth0", "tx_packets") - before;
        // Every frame the router put on the wire meanwhile (ours, and any late ICMP error of an earlier test) is either in
        // the ring or counted as dropped there; a stray one after the reading can only add to the right-hand side.
        int received = DrainAll(port.Queue(0), batch);
        var (drops, known) = port.KernelDrops();

        _output.WriteLine($"sent {sent}, received {received}, kernel drops {drops}");
        Assert.True(known);
        Assert.True(sent >= 1000, $"sent {sent}");
        Assert.True(drops > 0);
        Assert.InRange(received + drops, sent, sent + 3);
        Assert.Equal(drops, port.KernelDrops().Frames); // read again: cumulative, not cleared by the read
    }

    [Fact]
    public unsafe void ReceivingAndSendingAllocateNothingPerFrame()
    {
        using var port = PacketPort.Open(_lab.Interface, queueCount: 1);
        var queue = port.Queue(0);
        var batch = new FrameBatch(32, port.MaxFrameLength);
        byte[] reply = Frames.Udp(PortAddress, HostAddress, 40000, 7781, [1, 2, 3, 4], Options());

        // Warm-up (every path jitted: ring slots, the copy path for a super-frame, send and flush), then the same again, measured.
        long Round(int frames)
        {
            Send(_lab.Router, PortAddress, flows: 1, perFlow: frames);
            Python(_lab.Router, $"""
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(17, 103, 1400)
                s.sendto(bytes(7000), ("{PortAddress}", {SinkPort}))
                """);
            long before = GC.GetAllocatedBytesForCurrentThread();
            int received = 0;
            var poll = new Io.Tap.LibC.PollFd { Fd = queue.PollDescriptor, Events = Io.Tap.LibC.PollIn };
            for (int idle = 0; idle < 10;)
            {
                if (Io.Tap.LibC.Poll(&poll, 1, 50) <= 0)
                {
                    idle++;
                    continue;
                }
                int n = queue.Receive(batch);
                for (int i = 0; i < n; i++)
                {
                    queue.Send(batch.Frame(i), batch.Offload(i)); // out again, as the data path does
                    queue.Send(reply, VirtioNetHeader.None);
                }
                queue.Flush();
                received += n;
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(received >= frames + 1, $"received {received}"); // and the host's ICMP answers to the replies
            return allocated;
        }

        Round(50);
        Assert.Equal(0, Round(500));
    }

    // ---------------------------------------------------------------- send

    [Fact]
    public void FramesSentReachTheFarKernelWithValidChecksums()
    {
        using var port = PacketPort.Open(_lab.Interface, queueCount: 1);
        var queue = port.Queue(0);
        long noPorts = Snmp(_lab.Host, "Udp", "NoPorts"), errors = Snmp(_lab.Host, "Udp", "InCsumErrors");
        for (int i = 0; i < 100; i++)
        {
            Assert.True(queue.Send(Frames.Udp(PortAddress, HostAddress, 40000, 7777, [(byte)i, 1, 2, 3], Options()), VirtioNetHeader.None));
            if (i % 32 == 31)
            {
                queue.Flush();
            }
        }
        queue.Flush();

        // Every datagram to a port nobody listens on counts in NoPorts once its checksum has verified.
        Assert.True(Eventually(() => Snmp(_lab.Host, "Udp", "NoPorts") - noPorts == 100), $"NoPorts +{Snmp(_lab.Host, "Udp", "NoPorts") - noPorts}");
        Assert.Equal(errors, Snmp(_lab.Host, "Udp", "InCsumErrors"));
        Assert.Equal(0, queue.SendFailures);
    }

    /// <summary>
    /// Frames another sender on this host puts out of the interface (the host's own stack, a tcpdump -w replay) pass the
    /// packet taps as outgoing: the port ignores them (PACKET_IGNORE_OUTGOING, and the fanout group's flag), so they are
    /// never taken for frames from the segment. (Its own frames the kernel keeps from it anyway: skb_loop_sk.)
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void FramesThisHostSendsOutOfTheInterfaceAreNotReadAsArrivals(int queues)
    {
        using var port = PacketPort.Open(_lab.Interface, queueCount: queues);
        byte[] outgoing = Frames.Udp("10.9.0.77", RouterAddress, 20000, SinkPort, [0, 0, 0, 0, 0, 0, 0, 0], Options());
        var local = Shell.Run(Shell.Python, "-c", $"""
            import socket
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind(("{_lab.Interface}", 0))
            for _ in range(20):
                s.send(bytes.fromhex("{Convert.ToHexString(outgoing)}"))
            """);
        Assert.True(local.ExitCode == 0, local.ToString());
        Send(_lab.Router, PortAddress, flows: 1, perFlow: 20);

        var frames = new List<byte[]>();
        for (int q = 0; q < queues; q++)
        {
            frames.AddRange(Collect(port.Queue(q), new FrameBatch(64, port.MaxFrameLength), expected: 20, seconds: 1).Select(f => f.Frame));
        }

        Assert.Equal(20, frames.Count);
        Assert.All(frames, f => Assert.Equal(RouterAddress, Ipv4Address.Format(BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(14 + 12)))));
    }

    [Fact]
    public void ATcpSuperFrameWithAPartialChecksumIsSegmentedAndEverySegmentVerifies()
    {
        const int mss = 1448, segments = 8;
        using var port = PacketPort.Open(_lab.Interface, queueCount: 1);
        var queue = port.Queue(0);
        var (frame, offload) = TcpSuperFrame(mss, segments);
        long segmentsIn = Snmp(_lab.Host, "Tcp", "InSegs"), resets = Snmp(_lab.Host, "Tcp", "OutRsts"), errors = Snmp(_lab.Host, "Tcp", "InCsumErrors");

        Assert.True(queue.Send(frame, offload));
        queue.Flush();

        // No socket on port 5555: the host answers every segment whose checksum verifies with a reset.
        Assert.True(Eventually(() => Snmp(_lab.Host, "Tcp", "OutRsts") - resets == segments), $"resets +{Snmp(_lab.Host, "Tcp", "OutRsts") - resets}");
        Assert.Equal(segments, Snmp(_lab.Host, "Tcp", "InSegs") - segmentsIn);
        Assert.Equal(errors, Snmp(_lab.Host, "Tcp", "InCsumErrors"));
        Assert.Equal(0, queue.SendFailures);
    }

    /// <summary>
    /// A super-frame to an interface that cannot take it whole (its TSO turned off): through the normal transmit path the
    /// kernel segments it; with PACKET_QDISC_BYPASS, __dev_direct_xmit drops it (why the port does not bypass by default).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ASuperFrameToAnInterfaceWithoutTsoIsSegmentedUnlessTheQdiscIsBypassed(bool qdiscBypass)
    {
        const int mss = 1448, segments = 4;
        Shell.Must("ethtool", "-K", _lab.Interface, "tso", "off", "gso", "off");
        try
        {
            using var port = PacketPort.Open(_lab.Interface, queueCount: 1, qdiscBypass: qdiscBypass);
            var queue = port.Queue(0);
            var (frame, offload) = TcpSuperFrame(mss, segments);
            long resets = Snmp(_lab.Host, "Tcp", "OutRsts");

            Assert.True(queue.Send(frame, offload));
            queue.Flush();

            if (qdiscBypass)
            {
                Assert.Equal(1, queue.SendFailures); // ENOBUFS: the device dropped it
                Thread.Sleep(500);
                Assert.Equal(resets, Snmp(_lab.Host, "Tcp", "OutRsts"));
            }
            else
            {
                Assert.Equal(0, queue.SendFailures);
                Assert.True(Eventually(() => Snmp(_lab.Host, "Tcp", "OutRsts") - resets == segments), $"resets +{Snmp(_lab.Host, "Tcp", "OutRsts") - resets}");
            }
        }
        finally
        {
            Shell.Run("ethtool", "-K", _lab.Interface, "tso", "on", "gso", "on");
        }
    }

    [Fact]
    public void AUdpSuperFrameIsSegmentedAndEveryDatagramVerifies()
    {
        const int size = 1400, segments = 10;
        using var port = PacketPort.Open(_lab.Interface, queueCount: 1);
        var queue = port.Queue(0);
        byte[] frame = Frames.Udp(PortAddress, HostAddress, 40000, 7778, [.. Enumerable.Range(0, size * segments).Select(i => (byte)i)], Options());
        int l4 = 14 + 20;
        WritePartialChecksum(frame, l4, l4 + 6, Frames.ProtocolUdp);
        var offload = new VirtioNetHeader
        {
            Flags = VirtioNetHeader.FlagNeedsChecksum,
            GsoType = VirtioNetHeader.GsoUdpL4,
            HeaderLength = (ushort)(l4 + 8),
            GsoSize = size,
            ChecksumStart = (ushort)l4,
            ChecksumOffset = 6,
        };
        long noPorts = Snmp(_lab.Host, "Udp", "NoPorts"), errors = Snmp(_lab.Host, "Udp", "InCsumErrors");

        Assert.True(queue.Send(frame, offload));
        queue.Flush();

        Assert.True(Eventually(() => Snmp(_lab.Host, "Udp", "NoPorts") - noPorts == segments), $"NoPorts +{Snmp(_lab.Host, "Udp", "NoPorts") - noPorts}");
        Assert.Equal(errors, Snmp(_lab.Host, "Udp", "InCsumErrors"));
    }

    [Fact]
    public void AHeaderTheKernelRefusesCostsOnlyItsOwnFrame()
    {
        using var port = PacketPort.Open(_lab.Interface, queueCount: 1);
        var queue = port.Queue(0);
        byte[] Good(byte i) => Frames.Udp(PortAddress, HostAddress, 40000, 7779, [i], Options());
        long noPorts = Snmp(_lab.Host, "Udp", "NoPorts");

        queue.Send(Good(1), VirtioNetHeader.None);
        // csum_start past the end of the frame; hdr_len longer than the frame: both refused by packet_snd (EINVAL).
        queue.Send(Good(2), new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsChecksum, ChecksumStart = 60_000, ChecksumOffset = 6 });
        queue.Send(Good(3), new VirtioNetHeader { HeaderLength = 5_000 });
        queue.Send(Good(4), VirtioNetHeader.None);
        queue.Flush();

        Assert.Equal(2, queue.SendFailures);
        Assert.True(Eventually(() => Snmp(_lab.Host, "Udp", "NoPorts") - noPorts == 2), $"NoPorts +{Snmp(_lab.Host, "Udp", "NoPorts") - noPorts}");
        // The queue keeps working after the refusals.
        queue.Send(Good(5), VirtioNetHeader.None);
        queue.Flush();
        Assert.True(Eventually(() => Snmp(_lab.Host, "Udp", "NoPorts") - noPorts == 3));
    }

    [Fact]
    public void OpeningAnInterfaceThatIsNotThereSaysWhatToDo()
    {
        var e = Assert.Throws<IOException>(() => PacketPort.Open("gwt-nosuch0", queueCount: 1));
        Assert.Contains("No interface named 'gwt-nosuch0'", e.Message, StringComparison.Ordinal);
        Assert.Contains("ip link show", e.Message, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- helpers

    private FrameOptions Options() => Options(_lab.PortMac, _lab.RouterMac);

    /// <summary>A TCP super-frame to the host (no listener there) of <paramref name="segments"/> × <paramref name="mss"/> bytes, with a partial checksum, and its TSO header.</summary>
    private (byte[] Frame, VirtioNetHeader Offload) TcpSuperFrame(int mss, int segments)
    {
        byte[] payload = [.. Enumerable.Range(0, mss * segments).Select(i => (byte)(i * 7))];
        byte[] frame = Frames.Tcp(PortAddress, HostAddress, 40000, 5555, payload, Options());
        int l4 = 14 + 20;
        WritePartialChecksum(frame, l4, l4 + 16, Frames.ProtocolTcp);
        return (frame, new VirtioNetHeader
        {
            Flags = VirtioNetHeader.FlagNeedsChecksum,
            GsoType = VirtioNetHeader.GsoTcpV4,
            HeaderLength = (ushort)(l4 + 20),
            GsoSize = (ushort)mss,
            ChecksumStart = (ushort)l4,
            ChecksumOffset = 16,
        });
    }

    private static FrameOptions Options(Io.L2.MacAddress source, Io.L2.MacAddress destination) =>
        new() { SourceMac = Dashed(source), DestinationMac = Dashed(destination) };

    private static string Dashed(Io.L2.MacAddress mac) => mac.ToString().Replace(':', '-');

    /// <summary>Puts the pseudo-header sum (RFC 793 §3.1 / RFC 768), folded and not complemented, where the L4 checksum goes: CHECKSUM_PARTIAL.</summary>
    private static void WritePartialChecksum(byte[] frame, int l4, int field, byte protocol)
    {
        Span<byte> pseudo = stackalloc byte[12];
        frame.AsSpan(14 + 12, 8).CopyTo(pseudo);
        pseudo[8] = 0;
        pseudo[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.Slice(10), (ushort)(frame.Length - l4));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(field), Checksum.FoldTo16(Checksum.Sum(pseudo)));
    }

    /// <summary>Sends <paramref name="perFlow"/> datagrams on each of <paramref name="flows"/> source ports, interleaved; payload: flow, sequence.</summary>
    private static void Send(string ns, string destination, int flows, int perFlow) =>
        Python(ns, string.Create(CultureInfo.InvariantCulture, $"""
            import socket, struct
            socks = []
            for f in range({flows}):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("0.0.0.0", 20000 + f))
                socks.append(s)
            for seq in range({perFlow}):
                for f, s in enumerate(socks):
                    s.sendto(struct.pack("!II", f, seq), ("{destination}", {SinkPort}))
            """));

    /// <summary>(flow, sequence) from a datagram <see cref="Send"/> sent, VLAN tags skipped.</summary>
    private static (int Flow, int Sequence) Sequence(byte[] frame)
    {
        int l3 = Frames.Ipv4Offset(frame);
        int payload = l3 + (frame[l3] & 0x0F) * 4 + 8;
        return (BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(payload)), BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(payload + 4)));
    }

    /// <summary>
    /// Receives from <paramref name="queue"/> until <paramref name="expected"/> UDP frames to the sink port arrived, or the
    /// queue stayed empty for <paramref name="seconds"/>. Other frames are skipped.
    /// </summary>
    private static unsafe List<(byte[] Frame, VirtioNetHeader Offload)> Collect(
        PacketQueue queue, FrameBatch batch, int expected, int seconds = 10)
    {
        var frames = new List<(byte[], VirtioNetHeader)>();
        var quietUntil = DateTime.UtcNow.AddSeconds(seconds);
        while (frames.Count < expected && DateTime.UtcNow < quietUntil)
        {
            var poll = new Io.Tap.LibC.PollFd { Fd = queue.PollDescriptor, Events = Io.Tap.LibC.PollIn };
            Io.Tap.LibC.Poll(&poll, 1, 50);
            int n = queue.Receive(batch);
            for (int i = 0; i < n; i++)
            {
                byte[] frame = batch.Frame(i).ToArray();
                int l3 = Frames.Ipv4Offset(frame);
                if (frame.Length >= l3 + 28 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 - 2)) == 0x0800
                    && frame[l3 + 9] == Frames.ProtocolUdp && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 20 + 2)) == SinkPort)
                {
                    frames.Add((frame, batch.Offload(i)));
                }
            }
            if (n > 0)
            {
                quietUntil = DateTime.UtcNow.AddSeconds(seconds);
            }
        }
        return frames;
    }

    /// <summary>Takes every frame the queue holds, whatever it is, until it has been empty for half a second.</summary>
    private static unsafe int DrainAll(PacketQueue queue, FrameBatch batch)
    {
        int total = 0;
        var poll = new Io.Tap.LibC.PollFd { Fd = queue.PollDescriptor, Events = Io.Tap.LibC.PollIn };
        while (Io.Tap.LibC.Poll(&poll, 1, 500) > 0)
        {
            int n = queue.Receive(batch);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    private static bool Eventually(Func<bool> condition, int seconds = 10) => Forwarding.NamespaceLab.Eventually(condition, seconds);
}
