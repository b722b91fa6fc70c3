using System.Buffers.Binary;
using Gateway.DataPlane.Translation;
using Gateway.TestSupport;
using PacketDotNet;

namespace Gateway.DataPlane.Offload.Tests;

/// <summary>
/// Software segmentation of GSO super-frames: every segment whole and valid (PacketDotNet re-checks each checksum),
/// with the fields the kernel's own GSO gives it (sequence numbers, flags, IP ids, lengths), and the payload intact.
/// </summary>
public class SegmenterTests
{
    private const string Source = "198.51.100.10";
    private const string Destination = "203.0.113.5";

    private static byte[] Payload(int length, int seed = 6)
    {
        var payload = new byte[length];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    private static List<byte[]> SegmentAll(byte[] superFrame, GsoKind kind, int size, bool fixedId = false)
    {
        Assert.Equal(DropReason.None, Segmenter.TryParse(superFrame, kind, size, out GsoLayout layout));
        layout = layout with { FixedId = fixedId };
        var segments = new List<byte[]>();
        var buffer = new byte[70_000];
        for (int i = 0; i < layout.SegmentCount; i++)
        {
            int length = Segmenter.WriteSegment(superFrame, layout, i, buffer);
            Assert.Equal(layout.SegmentFrameLength(i), length);
            segments.Add(buffer.AsSpan(0, length).ToArray());
        }
        return segments;
    }

    private static byte[] WithTcpFlags(byte[] frame, byte flags)
    {
        var copy = (byte[])frame.Clone();
        copy[PartialChecksums.TransportOffset(copy) + 13] = flags;
        return copy;
    }

    [Theory]
    [InlineData(10_000, 1448)]
    [InlineData(1448 * 4, 1448)]
    [InlineData(64_000, 1448)]
    [InlineData(3000, 536)]
    public void Tcp_EverySegmentIsValid_SequenceNumbersAdvance_PayloadIsIntact(int payloadLength, int mss)
    {
        byte[] payload = Payload(payloadLength);
        byte[] superFrame = Frames.Tcp(Source, Destination, 40000, 443, payload, new FrameOptions { Id = 0xFFFE, DontFragment = true });

        var segments = SegmentAll(superFrame, GsoKind.Tcp, mss);

        Assert.Equal((payloadLength + mss - 1) / mss, segments.Count);
        var joined = new List<byte>();
        for (int i = 0; i < segments.Count; i++)
        {
            Oracle.AssertChecksumsValid(segments[i]);
            var ip = Oracle.Ipv4(segments[i]);
            var tcp = ip.Extract<TcpPacket>();
            Assert.Equal(Source, ip.SourceAddress.ToString());
            Assert.Equal(Destination, ip.DestinationAddress.ToString());
            Assert.Equal((ushort)(0xFFFE + i), ip.Id); // counts up from the super-frame's, wrapping
            Assert.Equal(20 + 20 + tcp.PayloadData.Length, ip.TotalLength);
            Assert.Equal(unchecked(0x01020304u + (uint)(i * mss)), tcp.SequenceNumber);
            Assert.Equal(0x0A0B0C0Du, tcp.AcknowledgmentNumber);
            Assert.Equal((40000, 443), (tcp.SourcePort, tcp.DestinationPort));
            Assert.Equal(i == segments.Count - 1 ? payloadLength - (i * mss) : mss, tcp.PayloadData.Length);
            joined.AddRange(tcp.PayloadData);
        }
        Assert.Equal(payload, joined.ToArray());
    }

    [Fact]
    public void Tcp_FinAndPshOnlyOnTheLastSegment_CwrOnlyOnTheFirst()
    {
        const byte Fin = 0x01, Psh = 0x08, Ack = 0x10, Cwr = 0x80;
        byte[] superFrame = WithTcpFlags(Frames.Tcp(Source, Destination, payload: Payload(5000)), Fin | Psh | Ack | Cwr);

        var segments = SegmentAll(superFrame, GsoKind.Tcp, 1000);

        byte Flags(byte[] s) => s[PartialChecksums.TransportOffset(s) + 13];
        Assert.Equal(5, segments.Count);
        Assert.Equal(Ack | Cwr, Flags(segments[0]));
        Assert.All(segments.Skip(1).SkipLast(1), s => Assert.Equal(Ack, Flags(s)));
        Assert.Equal(Fin | Psh | Ack, Flags(segments[^1]));
        Assert.All(segments, s => Oracle.AssertChecksumsValid(s));
    }

    [Fact]
    public void Tcp_WhateverTheSuperFramesChecksumHeld_PartialOrFinished_SegmentsCarryFinishedChecksums()
    {
        byte[] whole = Frames.Tcp(Source, Destination, payload: Payload(4000));
        var fromFinished = SegmentAll(whole, GsoKind.Tcp, 1448);
        var fromPartial = SegmentAll(PartialChecksums.MakePartial(whole), GsoKind.Tcp, 1448);
        Assert.Equal(fromFinished, fromPartial);
        Assert.All(fromPartial, s => Oracle.AssertChecksumsValid(s));
    }

    [Fact]
    public void Tcp_FixedIdKeepsTheIpIdOfEverySegment()
    {
        byte[] superFrame = Frames.Tcp(Source, Destination, payload: Payload(4000), options: new FrameOptions { Id = 7, DontFragment = true });
        Assert.All(SegmentAll(superFrame, GsoKind.Tcp, 1000, fixedId: true), s => Assert.Equal(7, Oracle.Ipv4(s).Id));
    }

    [Fact]
    public void Tcp_VlanTagsAndIpOptionsAreRepeatedInEverySegment()
    {
        var options = new FrameOptions { Vlans = [VlanTag.Dot1AD(100), VlanTag.Dot1Q(5)], IpOptions = [1, 1, 1, 0] };
        byte[] superFrame = Frames.Tcp(Source, Destination, payload: Payload(3000), options: options);
        int l3 = Frames.Ipv4Offset(superFrame);

        var segments = SegmentAll(superFrame, GsoKind.Tcp, 1000);

        Assert.Equal(3, segments.Count);
        Assert.All(segments, s =>
        {
            Assert.Equal(superFrame.AsSpan(0, l3 + 24).Slice(0, l3).ToArray(), s.AsSpan(0, l3).ToArray());
            Assert.Equal(24, (s[l3] & 0x0F) * 4);
            Oracle.AssertChecksumsValid(s);
        });
    }

    [Fact]
    public void Tcp_ASuperFrameThatFitsInOneSegment_IsOneSegment_TheSameFrame()
    {
        byte[] frame = Frames.Tcp(Source, Destination, payload: Payload(500));
        var segments = SegmentAll(PartialChecksums.MakePartial(frame), GsoKind.Tcp, 1448);
        Assert.Equal([frame], segments);
    }

    [Theory]
    [InlineData(5000, 1400)]
    [InlineData(60_000, 1472)]
    [InlineData(1400 * 3, 1400)]
    public void Udp_OneDatagramPerSegment_EachWithItsLengthAndChecksum(int payloadLength, int size)
    {
        byte[] payload = Payload(payloadLength, seed: 17);
        byte[] superFrame = PartialChecksums.MakePartial(Frames.Udp(Source, Destination, 5000, 5001, payload, new FrameOptions { Id = 100 }));

        var segments = SegmentAll(superFrame, GsoKind.Udp, size);

        Assert.Equal((payloadLength + size - 1) / size, segments.Count);
        var joined = new List<byte>();
        for (int i = 0; i < segments.Count; i++)
        {
            Assert.Contains("udp", Oracle.AssertChecksumsValid(segments[i]).Verified);
            var ip = Oracle.Ipv4(segments[i]);
            var udp = ip.Extract<UdpPacket>();
            Assert.Equal((ushort)(100 + i), ip.Id);
            Assert.Equal(8 + udp.PayloadData.Length, udp.Length);
            Assert.Equal(20 + udp.Length, ip.TotalLength);
            Assert.Equal((5000, 5001), (udp.SourcePort, udp.DestinationPort));
            joined.AddRange(udp.PayloadData);
        }
        Assert.Equal(payload, joined.ToArray());
    }

    [Fact]
    public void EthernetPaddingAfterTheIpPacketIsNotPayload()
    {
        byte[] superFrame = Frames.Udp(Source, Destination, payload: Payload(3000), options: new FrameOptions { Padding = 30 });
        var segments = SegmentAll(superFrame, GsoKind.Udp, 1000);
        Assert.Equal(3, segments.Count);
        Assert.All(segments, s => Assert.Equal(1000, Oracle.Ipv4(s).Extract<UdpPacket>().PayloadData.Length));
    }

    public static TheoryData<string, byte[], GsoKind, int, DropReason> Refused => new()
    {
        { "UDP cut as TCP", Frames.Udp(Source, Destination, payload: new byte[3000]), GsoKind.Tcp, 1000, DropReason.Malformed },
        { "TCP cut as UDP", Frames.Tcp(Source, Destination, payload: new byte[3000]), GsoKind.Udp, 1000, DropReason.Malformed },
        { "segment size 0", Frames.Tcp(Source, Destination, payload: new byte[3000]), GsoKind.Tcp, 0, DropReason.Malformed },
        { "a fragment", Frames.Fragment(Frames.Udp(Source, Destination, payload: new byte[3000]), 1480)[0], GsoKind.Udp, 1000, DropReason.Malformed },
        { "ARP", Frames.Arp(), GsoKind.Tcp, 1000, DropReason.NotIpv4 },
        { "IPv6", Frames.Ipv6Udp(), GsoKind.Udp, 1000, DropReason.NotIpv4 },
        { "TCP header cut off", Frames.Ip(Source, Destination, Frames.ProtocolTcp, new byte[10]), GsoKind.Tcp, 1000, DropReason.Malformed },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void TryParse_RefusesWhatIsNotASuperFrameOfThatKind(string what, byte[] frame, GsoKind kind, int size, DropReason reason)
    {
        Assert.True(reason == Segmenter.TryParse(frame, kind, size, out _), what);
    }

    [Fact]
    public void WriteSegment_AnIndexPastTheLastSegment_Throws()
    {
        byte[] frame = Frames.Tcp(Source, Destination, payload: new byte[3000]);
        Assert.Equal(DropReason.None, Segmenter.TryParse(frame, GsoKind.Tcp, 1000, out GsoLayout layout));
        Assert.Throws<ArgumentOutOfRangeException>(() => Segmenter.WriteSegment(frame, layout, 3, new byte[2000]));
    }

    [Theory]
    [InlineData(Frames.ProtocolTcp)]
    [InlineData(Frames.ProtocolUdp)]
    public void FinishPartialChecksum_GivesTheChecksumTheSenderWouldHaveComputed(byte protocol)
    {
        for (int length = 0; length < 200; length++)
        {
            byte[] frame = protocol == Frames.ProtocolTcp
                ? Frames.Tcp(Source, Destination, payload: Payload(length, length))
                : Frames.Udp(Source, Destination, (ushort)(1000 + length), payload: Payload(length, length));
            byte[] partial = PartialChecksums.MakePartial(frame);
            int start = PartialChecksums.TransportOffset(partial);
            Segmenter.FinishPartialChecksum(partial, start, PartialChecksums.FieldOffset(partial), partial.Length);
            Assert.Equal(frame, partial);
        }
    }

    [Fact]
    public void WritingSegmentsAllocatesNothing()
    {
        byte[] superFrame = Frames.Tcp(Source, Destination, payload: Payload(60_000));
        Assert.Equal(DropReason.None, Segmenter.TryParse(superFrame, GsoKind.Tcp, 1448, out GsoLayout layout));
        var buffer = new byte[2000];
        Segmenter.WriteSegment(superFrame, layout, 0, buffer); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < layout.SegmentCount; i++)
        {
            Segmenter.WriteSegment(superFrame, layout, i, buffer);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
