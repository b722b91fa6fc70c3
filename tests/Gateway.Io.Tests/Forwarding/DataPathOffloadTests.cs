using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Policing;
using Gateway.DataPlane.Translation;
using Gateway.Io.L2;
using Gateway.Io.Ports;
using Gateway.Packets;
using Gateway.TestSupport;
using PacketDotNet;

namespace Gateway.Io.Forwarding.Tests;

/// <summary>
/// The data path's handling of offload metadata, over ports in memory (<see cref="MemoryPort"/>): inconsistent headers
/// are malformed drops and the workers go on; GSO super-frames and partial checksums are translated once and leave
/// whole with their header on a port that takes them, or segmented and finished on one that does not; a super-frame
/// waiting for ARP is held whole; several workers each keep to their queue and their counters add up.
/// </summary>
public sealed class DataPathOffloadTests
{
    private const string PublicA = "203.0.113.10";
    private const string PrivateA = "10.0.0.10";
    private const string PublicB = "198.51.100.20";
    private const string PrivateB = "10.0.0.20";
    private const string Host = "203.0.113.1";
    private const string GatewayInternetMac = "02-00-00-00-00-01";
    private const string GatewayVpcMac = "02-00-00-00-00-02";
    private const string HostMac = "02-00-00-00-01-01";
    private const string MacA = "02-00-00-00-0a-0a";
    private const string MacB = "02-00-00-00-0b-0b";
    private const string Broadcast = "FF-FF-FF-FF-FF-FF";

    private static readonly FrameOptions s_fromHost = new() { SourceMac = HostMac, DestinationMac = GatewayInternetMac, DontFragment = true };
    private static readonly FrameOptions s_fromA = new() { SourceMac = MacA, DestinationMac = GatewayVpcMac, DontFragment = true };

    /// <summary>A data path between two memory ports, with A and B bound and (optionally) every neighbour resolved.</summary>
    private sealed class Rig : IDisposable
    {
        public Rig(bool internetGso = true, bool vpcGso = true, int workers = 1, bool resolve = true, Policer? policer = null)
        {
            Internet = new MemoryPort("mem-inet", workers, internetGso);
            Vpc = new MemoryPort("mem-vpc", workers, vpcGso);
            var bindings = new BindingTable();
            bindings.Bind(Ip(PublicA), Ip(PrivateA));
            bindings.Bind(Ip(PublicB), Ip(PrivateB));
            var privates = new PrivateAddressSet();
            privates.Add(Ip(PrivateA));
            privates.Add(Ip(PrivateB));
            Assert.True(MacAddress.TryParse(GatewayInternetMac.Replace('-', ':'), out var internetMac));
            Assert.True(MacAddress.TryParse(GatewayVpcMac.Replace('-', ':'), out var vpcMac));
            Path = LabDataPath.Start(
                new LabDataPathOptions { VpcSubnet = Ipv4Subnet.Parse("10.0.0.0/24"), InternetMac = internetMac, VpcMac = vpcMac, Workers = workers },
                bindings, privates, Internet, Vpc, policer);
            Bindings = bindings;
            if (resolve)
            {
                // Each neighbour asks for the gateway, which learns it from the request (RFC 826) and answers.
                Vpc.Inject(Frames.Arp(PrivateA, "10.0.0.1", new FrameOptions { SourceMac = MacA, DestinationMac = Broadcast }));
                Vpc.Inject(Frames.Arp(PrivateB, "10.0.0.1", new FrameOptions { SourceMac = MacB, DestinationMac = Broadcast }));
                Internet.Inject(Frames.Arp(Host, PublicA, new FrameOptions { SourceMac = HostMac, DestinationMac = Broadcast }));
                Assert.True(Eventually(() => Path.VpcNeighbours == 2 && Path.InternetNeighbours == 1
                    && Path.VpcL2.ArpRepliesSent == 2 && Path.InternetL2.ArpRepliesSent == 1));
                DrainSent();
            }
        }

        public MemoryPort Internet { get; }
        public MemoryPort Vpc { get; }
        public LabDataPath Path { get; }
        public BindingTable Bindings { get; }

        public void DrainSent()
        {
            while (Internet.Sent.TryTake(out _) || Vpc.Sent.TryTake(out _))
            {
            }
        }

        /// <summary>The next <paramref name="count"/> IPv4 frames sent on <paramref name="port"/>.</summary>
        public static List<(byte[] Frame, VirtioNetHeader Header, int Queue)> Take(MemoryPort port, int count)
        {
            var frames = new List<(byte[], VirtioNetHeader, int)>();
            while (frames.Count < count && port.Next(f => !IsArp(f)) is { } sent)
            {
                frames.Add(sent);
            }
            Assert.Equal(count, frames.Count);
            return frames;
        }

        public void Dispose()
        {
            Path.Dispose();
            Assert.True(Path.Completion.IsCompletedSuccessfully, "a worker failed");
        }
    }

    private static uint Ip(string text) => Ipv4Address.TryParse(text, out uint ip) ? ip : throw new ArgumentException(text);

    private static bool IsArp(byte[] frame) => frame.Length > 13 && frame[12] == 0x08 && frame[13] == 0x06;

    private static bool Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && !condition())
        {
            Thread.Sleep(20);
        }
        return condition();
    }

    private static byte[] Payload(int length)
    {
        var payload = new byte[length];
        new Random(length).NextBytes(payload);
        return payload;
    }

    private static VirtioNetHeader Tso(byte[] frame, int mss, bool partial = true) => new()
    {
        Flags = partial ? VirtioNetHeader.FlagNeedsChecksum : (byte)0,
        GsoType = VirtioNetHeader.GsoTcpV4,
        GsoSize = (ushort)mss,
        HeaderLength = (ushort)(PartialChecksums.TransportOffset(frame) + 20),
        ChecksumStart = partial ? (ushort)PartialChecksums.TransportOffset(frame) : (ushort)0,
        ChecksumOffset = partial ? (ushort)16 : (ushort)0,
    };

    private static VirtioNetHeader Uso(byte[] frame, int size) => new()
    {
        Flags = VirtioNetHeader.FlagNeedsChecksum,
        GsoType = VirtioNetHeader.GsoUdpL4,
        GsoSize = (ushort)size,
        HeaderLength = (ushort)(PartialChecksums.TransportOffset(frame) + 8),
        ChecksumStart = (ushort)PartialChecksums.TransportOffset(frame),
        ChecksumOffset = 6,
    };

    private static VirtioNetHeader Csum(byte[] frame) => new()
    {
        Flags = VirtioNetHeader.FlagNeedsChecksum,
        ChecksumStart = (ushort)PartialChecksums.TransportOffset(frame),
        ChecksumOffset = (ushort)PartialChecksums.FieldOffset(frame),
    };

    [Fact]
    public void InconsistentHeaders_AreDroppedAsMalformed_AndTheWorkerGoesOn()
    {
        using var rig = new Rig();
        byte[] tcp = PartialChecksums.MakePartial(Frames.Tcp(Host, PublicA, 40000, 80, Payload(3000), s_fromHost));
        int l4 = PartialChecksums.TransportOffset(tcp);
        VirtioNetHeader[] bad =
        [
            Tso(tcp, 0),                                                             // gso_size 0 with a GSO type
            Csum(tcp) with { ChecksumStart = (ushort)(tcp.Length + 1) },             // csum_start past the frame
            Csum(tcp) with { HeaderLength = (ushort)(tcp.Length + 100) },            // hdr_len lies
            Uso(tcp, 1400),                                                          // a GSO type that does not match
            Csum(tcp) with { ChecksumOffset = 2 },                                   // not TCP's checksum field
            new VirtioNetHeader { Flags = 0x40 },                                     // an unknown flag
            Tso(tcp, 1400) with { GsoType = 0x07 },                                  // an unknown GSO type
            Csum(tcp) with { ChecksumStart = (ushort)(l4 - 20) },                    // a range over the IPv4 header
        ];
        foreach (var inconsistent in bad)
        {
            rig.Internet.Inject(tcp, inconsistent);
        }

        Assert.True(Eventually(() => rig.Path.Snapshot().DropPackets(DropReason.Malformed) == bad.Length),
            $"malformed: {rig.Path.Snapshot().DropPackets(DropReason.Malformed)}");
        Assert.Null(rig.Vpc.Next(f => !IsArp(f), milliseconds: 300)); // nothing of them left the gateway

        // The worker is alive and forwards the next good frame.
        rig.Internet.Inject(tcp, Csum(tcp));
        var (frame, header, _) = Rig.Take(rig.Vpc, 1)[0];
        Assert.Equal(PrivateA, Oracle.Ipv4(frame).DestinationAddress.ToString());
        Assert.True(header.NeedsChecksum);
        Oracle.AssertChecksumsValid(PartialChecksums.Finished(frame));
        Assert.False(rig.Path.Completion.IsCompleted);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ATcpSuperFrame_ToAPortWithoutGso_LeavesAsValidTranslatedSegments(bool partial)
    {
        using var rig = new Rig(vpcGso: false);
        byte[] payload = Payload(20_000);
        byte[] whole = Frames.Tcp(Host, PublicA, 40000, 80, payload, s_fromHost);
        byte[] superFrame = partial ? PartialChecksums.MakePartial(whole) : whole;

        rig.Internet.Inject(superFrame, Tso(superFrame, 1448, partial));

        var segments = Rig.Take(rig.Vpc, 14); // 20,000 / 1448, rounded up
        var joined = new List<byte>();
        foreach (var (frame, header, _) in segments)
        {
            Assert.True(header.IsPlain);
            Oracle.AssertChecksumsValid(frame);
            var ip = Oracle.Ipv4(frame);
            Assert.Equal((Host, PrivateA), (ip.SourceAddress.ToString(), ip.DestinationAddress.ToString()));
            Assert.Equal(PhysicalAddress.Parse(MacA), ((EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame)).DestinationHardwareAddress);
            joined.AddRange(ip.Extract<TcpPacket>().PayloadData);
        }
        Assert.Equal(payload, joined.ToArray());
        var offloads = rig.Path.Workers[0].Offloads;
        Assert.Equal((1, 14, 1, 14), (offloads.GsoFrames, offloads.GsoSegments, offloads.SoftwareSegmentedFrames, offloads.SoftwareSegments));
        Assert.Equal(1, rig.Path.Snapshot().ForwardedPackets);
    }

    [Fact]
    public void AUdpSuperFrame_OutboundToAPortWithoutGso_LeavesAsValidDatagramsFromThePublicAddress()
    {
        using var rig = new Rig(internetGso: false);
        byte[] superFrame = PartialChecksums.MakePartial(Frames.Udp(PrivateA, Host, 5000, 5001, Payload(6000), s_fromA));

        rig.Vpc.Inject(superFrame, Uso(superFrame, 1472));

        foreach (var (frame, header, _) in Rig.Take(rig.Internet, 5))
        {
            Assert.True(header.IsPlain);
            Assert.Contains("udp", Oracle.AssertChecksumsValid(frame).Verified);
            Assert.Equal((PublicA, Host), (Oracle.Ipv4(frame).SourceAddress.ToString(), Oracle.Ipv4(frame).DestinationAddress.ToString()));
        }
    }

    [Fact]
    public void ASuperFrame_ToAPortThatTakesGso_LeavesWhole_WithItsHeader_TranslatedOnce()
    {
        using var rig = new Rig();
        byte[] superFrame = PartialChecksums.MakePartial(Frames.Tcp(PrivateA, Host, 40000, 443, Payload(60_000), s_fromA));
        var header = Tso(superFrame, 1448);

        rig.Vpc.Inject(superFrame, header);

        var (frame, sent, _) = Rig.Take(rig.Internet, 1)[0];
        Assert.Equal(header, sent);
        Assert.Equal(superFrame.Length, frame.Length);
        Assert.Equal((PublicA, Host), (Oracle.Ipv4(frame).SourceAddress.ToString(), Oracle.Ipv4(frame).DestinationAddress.ToString()));
        // Still partial, updated as a sum: finishing it gives the checksum of the translated packet.
        Oracle.AssertChecksumsValid(PartialChecksums.Finished(frame));
        Assert.Equal(PartialChecksums.PseudoHeaderSum(frame), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(PartialChecksums.TransportOffset(frame) + 16)));
        Assert.Equal(0, rig.Path.Workers[0].Offloads.SoftwareSegmentedFrames);
    }

    [Fact]
    public void AHairpinSuperFrame_IsTranslatedBothWays_AndGoesBackIntoTheVpcWithItsHeader()
    {
        using var rig = new Rig();
        byte[] superFrame = PartialChecksums.MakePartial(Frames.Udp(PrivateA, PublicB, 5000, 5001, Payload(30_000), s_fromA));
        var header = Uso(superFrame, 1400);

        rig.Vpc.Inject(superFrame, header);

        var (frame, sent, _) = Rig.Take(rig.Vpc, 1)[0];
        Assert.Equal(header, sent);
        Assert.Equal((PublicA, PrivateB), (Oracle.Ipv4(frame).SourceAddress.ToString(), Oracle.Ipv4(frame).DestinationAddress.ToString()));
        Assert.Equal(PhysicalAddress.Parse(MacB), ((EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame)).DestinationHardwareAddress);
        Oracle.AssertChecksumsValid(PartialChecksums.Finished(frame));
    }

    [Fact]
    public void APartialChecksum_ToAPortWithoutOffloads_IsFinished()
    {
        using var rig = new Rig(vpcGso: false);
        byte[] frame = PartialChecksums.MakePartial(Frames.Udp(Host, PublicA, 5000, 53, Payload(100), s_fromHost));

        rig.Internet.Inject(frame, Csum(frame));

        var (sent, header, _) = Rig.Take(rig.Vpc, 1)[0];
        Assert.True(header.IsPlain);
        Assert.Equal(Frames.Udp(Host, PrivateA, 5000, 53, Payload(100), s_fromHost with { SourceMac = GatewayVpcMac, DestinationMac = MacA }), sent);
        Assert.Equal(1, rig.Path.Workers[0].Offloads.ChecksumsFinished);
    }

    [Fact]
    public void ASuperFrameWaitingForArp_IsHeldWhole_AndLeavesWhenTheNeighbourAnswers()
    {
        using var rig = new Rig(vpcGso: false, resolve: false);
        byte[] superFrame = PartialChecksums.MakePartial(Frames.Tcp(Host, PublicA, 40000, 80, Payload(10_000), s_fromHost));

        rig.Internet.Inject(superFrame, Tso(superFrame, 1448));

        // The gateway asks for 10.0.0.10 and holds the super-frame meanwhile.
        Assert.NotNull(rig.Vpc.Next(IsArp));
        Assert.True(Eventually(() => rig.Path.PendingFrames == 1));
        var reply = new ArpPacket(ArpOperation.Response, PhysicalAddress.Parse(GatewayVpcMac), IPAddress.Parse("10.0.0.1"), PhysicalAddress.Parse(MacA), IPAddress.Parse(PrivateA));
        var ethernet = new EthernetPacket(PhysicalAddress.Parse(MacA), PhysicalAddress.Parse(GatewayVpcMac), EthernetType.Arp) { PayloadPacket = reply };
        rig.Vpc.Inject(ethernet.Bytes);

        var segments = Rig.Take(rig.Vpc, 7);
        Assert.All(segments, s => Oracle.AssertChecksumsValid(s.Frame));
        Assert.Equal(0, rig.Path.PendingFrames);
    }

    [Fact]
    public void SeveralWorkers_EachKeepsToItsQueue_InOrder_AndTheirCountersAddUpToTheTotals()
    {
        const int Workers = 3, PerFlow = 200;
        using var rig = new Rig(workers: Workers);
        // One flow per queue (as the kernel steers a flow to one queue), numbered by TCP sequence.
        for (int n = 0; n < PerFlow; n++)
        {
            for (int q = 0; q < Workers; q++)
            {
                byte[] frame = Frames.Tcp(Host, PublicA, (ushort)(41000 + q), 80, BitConverter.GetBytes(n), s_fromHost);
                rig.Internet.Inject(frame, queue: q);
            }
        }

        var sent = Rig.Take(rig.Vpc, Workers * PerFlow);

        for (int q = 0; q < Workers; q++)
        {
            var flow = sent.Where(s => Oracle.Ipv4(s.Frame).Extract<TcpPacket>().SourcePort == 41000 + q).ToList();
            Assert.Equal(PerFlow, flow.Count);
            Assert.All(flow, s => Assert.Equal(q, s.Queue)); // out on the queue it came in on: the same worker
            Assert.Equal(Enumerable.Range(0, PerFlow), flow.Select(s => BitConverter.ToInt32(Oracle.Ipv4(s.Frame).Extract<TcpPacket>().PayloadData)));
        }
        var total = rig.Path.Snapshot();
        var workers = rig.Path.Workers;
        Assert.All(workers, w => Assert.True(w.Counters.ReceivedPacketCount >= PerFlow)); // each its flow, plus ARP it saw
        Assert.Equal(total.ReceivedPackets, workers.Sum(w => w.Counters.ReceivedPacketCount) + rig.Path.MaintenanceCounters.ReceivedPacketCount);
        Assert.Equal(total.ForwardedPackets, workers.Sum(w => w.Counters.ForwardedPacketCount) + rig.Path.MaintenanceCounters.ForwardedPacketCount);
        Assert.Equal(total, CounterSnapshot.Of(rig.Path.Counters), new SnapshotComparer());
        Assert.Equal(Workers * PerFlow, total.ForwardedPackets);
    }

    /// <summary>
    /// Issue 11: a GSO super-frame is charged as the segments it becomes. With an inbound cap whose bucket holds fewer
    /// bytes than the super-frame, the leading segments that fit leave on their own (whole, translated, checksums
    /// valid, the payload's first bytes in order, even to a port that takes GSO) and the rest are metered as dropped;
    /// a second super-frame right after finds the bucket empty and is dropped whole as bandwidth-exceeded.
    /// </summary>
    [Fact]
    public void ASuperFrameOverItsInboundCap_LeavesAsTheSegmentsThatFit_AndTheRestAreDropped()
    {
        var policer = new Policer();
        using var rig = new Rig(policer: policer);
        Assert.True(rig.Bindings.TryGetPrivate(Ip(PublicA), out _, out int id));
        // Inbound 64 kbps, the smallest cap: the bucket holds 1,514 bytes (the floor), and a 1,488-byte segment takes
        // 186 ms to earn back, far longer than the test needs to send the second super-frame.
        policer.SetCaps(id, new BandwidthCaps(OutboundKbps: 100_000, InboundKbps: BandwidthCaps.MinKbps));
        byte[] payload = Payload(20_000);
        byte[] superFrame = PartialChecksums.MakePartial(Frames.Tcp(Host, PublicA, 40000, 80, payload, s_fromHost));

        rig.Internet.Inject(superFrame, Tso(superFrame, 1448));

        // 14 segments of 1,488 IPv4 bytes (20 + 20 + 1,448); one fits in 1,514 bytes.
        var segments = Rig.Take(rig.Vpc, 1);
        var joined = new List<byte>();
        foreach (var (frame, header, _) in segments)
        {
            Assert.True(header.IsPlain);
            Oracle.AssertChecksumsValid(frame);
            var ip = Oracle.Ipv4(frame);
            Assert.Equal((Host, PrivateA), (ip.SourceAddress.ToString(), ip.DestinationAddress.ToString()));
            joined.AddRange(ip.Extract<TcpPacket>().PayloadData);
        }
        Assert.Equal(payload.AsSpan(0, 1448).ToArray(), joined.ToArray());
        var meter = policer.MeterOf(id);
        Assert.Equal((1L, 13L), (meter.InboundPackets, meter.InboundDroppedPackets));
        Assert.Equal(1488L, meter.InboundBytes);

        rig.Internet.Inject(superFrame, Tso(superFrame, 1448));
        Assert.True(Eventually(() => rig.Path.Snapshot().DropPackets(DropReason.BandwidthExceeded) == 1));
        Assert.Null(rig.Vpc.Next(f => !IsArp(f), milliseconds: 200));
        Assert.Equal(27L, policer.MeterOf(id).InboundDroppedPackets);
    }

    private sealed class SnapshotComparer : IEqualityComparer<CounterSnapshot>
    {
        public bool Equals(CounterSnapshot? x, CounterSnapshot? y) =>
            x!.ReceivedPackets == y!.ReceivedPackets && x.ForwardedPackets == y.ForwardedPackets && x.DroppedPackets == y.DroppedPackets
            && x.ReceivedBytes == y.ReceivedBytes && x.ForwardedBytes == y.ForwardedBytes;

        public int GetHashCode(CounterSnapshot obj) => 0;
    }
}
