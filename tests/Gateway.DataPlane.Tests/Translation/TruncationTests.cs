using System.Buffers.Binary;
using Gateway.TestSupport;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>
/// Every prefix of every kind of frame (Kestrel-style enumeration), two ways: frames that really are that
/// short on the wire, and frames a capture cut at that length (snap length) whose wire length is known.
/// </summary>
public class TruncationTests
{
    [Theory]
    [MemberData(nameof(TrafficCorpus.All), MemberType = typeof(TrafficCorpus))]
    public void EveryPrefixShorterOnTheWireThanItsIpv4TotalLength_IsMalformed_AndLongerOnesAreForwarded(string direction, string kind)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        byte[] whole = TrafficCorpus.Case(kind).Build(d.Source, d.Destination);
        int l3 = Frames.Ipv4Offset(whole);
        int end = l3 + BinaryPrimitives.ReadUInt16BigEndian(whole.AsSpan(l3 + 2));
        byte[] translatedWhole = new Nat().Forward(whole);
        var nat = new Nat();

        for (int length = 0; length < whole.Length; length++)
        {
            byte[] prefix = whole.AsSpan(0, length).ToArray();
            if (length < end)
            {
                nat.AssertDropped(prefix, DropReason.Malformed, wireLength: length);
            }
            else
            {
                // Only Ethernet padding is missing: the packet is whole.
                var (verdict, output) = nat.Translate(prefix, wireLength: length);
                Assert.Equal(DropReason.None, verdict);
                Assert.Equal(translatedWhole.AsSpan(0, length).ToArray(), output);
            }
        }
        Assert.Equal(end, nat.Counters.DropPacketCount(DropReason.Malformed));
    }

    [Theory]
    [MemberData(nameof(TrafficCorpus.All), MemberType = typeof(TrafficCorpus))]
    public void EverySnapLengthCut_IsMalformedUntilTheIpv4HeaderIsWhole_ThenTranslatedAsFarAsCaptured(string direction, string kind)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        byte[] whole = TrafficCorpus.Case(kind).Build(d.Source, d.Destination);
        int l3 = Frames.Ipv4Offset(whole);
        int ihl = (whole[l3] & 0x0F) * 4;
        byte[] translatedWhole = new Nat().Forward(whole);
        var (icmpErrorQuote, exactFrom) = QuotedRegion(whole);
        int transportChecksumAt = TransportChecksumOffset(whole);
        var nat = new Nat();

        for (int captured = 0; captured < whole.Length; captured++)
        {
            byte[] cut = whole.AsSpan(0, captured).ToArray();
            if (captured < l3 + ihl)
            {
                nat.AssertDropped(cut, DropReason.Malformed, wireLength: whole.Length);
                continue;
            }
            var (verdict, output) = nat.Translate(cut, wireLength: whole.Length);
            Assert.Equal(DropReason.None, verdict);
            if (captured >= exactFrom)
            {
                // Every captured field is exactly what the whole frame's translation has there. A checksum cut in
                // half is a field the capture cut off: its new value depends on the missing byte, so the captured
                // byte stays as it came.
                byte[] expected = translatedWhole.AsSpan(0, captured).ToArray();
                if (transportChecksumAt >= 0 && captured == transportChecksumAt + 1)
                {
                    expected[^1] = whole[captured - 1];
                }
                Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(output));
            }
            else
            {
                // An ICMP error cut inside the fields of its quoted packet that the checksums depend on (see
                // QuotedRegion): the outer IPv4 header is exact; the quoted IPv4 header is translated when it was
                // captured whole and left as it came otherwise. The outer ICMP checksum is then not asserted:
                // it would need the quoted fields the capture cut off (a cut UDP checksum may be 0, "none").
                Assert.Equal(translatedWhole.AsSpan(0, l3 + ihl).ToArray(), output.AsSpan(0, l3 + ihl).ToArray());
                var (quoteStart, quoteHeaderEnd) = icmpErrorQuote;
                byte[] reference = captured >= quoteHeaderEnd ? translatedWhole : whole;
                int upTo = Math.Min(captured, quoteHeaderEnd);
                if (upTo > quoteStart)
                {
                    Assert.Equal(reference.AsSpan(quoteStart, upTo - quoteStart).ToArray(), output.AsSpan(quoteStart, upTo - quoteStart).ToArray());
                }
            }
        }
        Assert.Equal(l3 + ihl, nat.Counters.DropPacketCount(DropReason.Malformed));
    }

    /// <summary>
    /// For an ICMP error: where the quoted IPv4 header starts and ends, and the capture length from which a cut frame
    /// translates exactly like the whole one (the quoted header and, when present, the quoted TCP/UDP checksum are captured).
    /// For any other frame: exact from the end of the IPv4 header.
    /// </summary>
    private static ((int Start, int HeaderEnd) Quote, int ExactFrom) QuotedRegion(byte[] frame)
    {
        int l3 = Frames.Ipv4Offset(frame);
        int ihl = (frame[l3] & 0x0F) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 2));
        bool unfragmented = (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 6)) & 0x1FFF) == 0;
        if (!unfragmented || frame[l3 + 9] != Frames.ProtocolIcmp || frame[l3 + ihl] is not (3 or 4 or 5 or 11 or 12))
        {
            return ((0, 0), l3 + ihl);
        }
        int q = l3 + ihl + 8;
        int innerIhl = (frame[q] & 0x0F) * 4;
        int quoteEnd = l3 + total;
        bool innerUnfragmented = (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(q + 6)) & 0x1FFF) == 0;
        int exactFrom = q + innerIhl;
        if (innerUnfragmented && frame[q + 9] == Frames.ProtocolTcp && q + innerIhl + 18 <= quoteEnd)
        {
            exactFrom = q + innerIhl + 18;
        }
        if (innerUnfragmented && frame[q + 9] == Frames.ProtocolUdp)
        {
            exactFrom = q + innerIhl + 8;
        }
        return ((q, q + innerIhl), exactFrom);
    }

    /// <summary>Offset of the outer TCP/UDP checksum field of an unfragmented packet or first fragment, else -1.</summary>
    private static int TransportChecksumOffset(byte[] frame)
    {
        int l3 = Frames.Ipv4Offset(frame);
        int ihl = (frame[l3] & 0x0F) * 4;
        if ((BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 6)) & 0x1FFF) != 0)
        {
            return -1;
        }
        return frame[l3 + 9] switch
        {
            Frames.ProtocolTcp => l3 + ihl + 16,
            Frames.ProtocolUdp => l3 + ihl + 6,
            _ => -1,
        };
    }

    [Fact]
    public void SnapCutInsideTheTcpChecksum_LeavesItsCapturedHalfAsItCame()
    {
        byte[] whole = Frames.Tcp(Nat.Internet, Nat.PublicA, 1, 2, new byte[100]);
        var (verdict, output) = new Nat().Translate(whole.AsSpan(0, 14 + 20 + 17).ToArray(), wireLength: whole.Length);
        Assert.Equal(DropReason.None, verdict);
        Assert.Equal(whole[14 + 20 + 16], output[^1]);
    }

    [Fact]
    public void SnapCutFrame_CountsItsWireLengthNotItsCapturedLength()
    {
        var nat = new Nat();
        byte[] whole = Frames.Tcp(Nat.Internet, Nat.PublicA, 1, 2, new byte[1400]);
        var (verdict, _) = nat.Translate(whole.AsSpan(0, 96).ToArray(), wireLength: whole.Length);

        Assert.Equal(DropReason.None, verdict);
        Assert.Equal(whole.Length, nat.Counters.ReceivedByteCount);
        Assert.Equal(whole.Length, nat.Counters.ForwardedByteCount);
        Assert.Equal(whole.Length, nat.Counters.ForBinding(nat.IdA).InboundBytes);
    }

    [Fact]
    public void SnapCutJustBeforeTheTcpChecksum_TranslatesTheIpHeaderAndLeavesTheRestAsCaptured()
    {
        byte[] whole = Frames.Tcp(Nat.PrivateA, Nat.Internet, 1, 2, new byte[100]);
        var (verdict, output) = new Nat().Translate(whole.AsSpan(0, 14 + 20 + 17).ToArray(), wireLength: whole.Length);

        Assert.Equal(DropReason.None, verdict);
        byte[] expected = Frames.Tcp(Nat.PublicA, Nat.Internet, 1, 2, new byte[100]);
        Assert.Equal(expected.AsSpan(0, 34).ToArray(), output.AsSpan(0, 34).ToArray());
        Assert.Equal(whole.AsSpan(34, 17).ToArray(), output.AsSpan(34).ToArray());
    }
}
