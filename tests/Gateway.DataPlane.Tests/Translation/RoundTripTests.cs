using System.Buffers.Binary;
using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>Translating, then translating the result through the inverse bindings (public and private swapped), restores the frame.</summary>
public class RoundTripTests
{
    [Theory]
    [MemberData(nameof(TrafficCorpus.All), MemberType = typeof(TrafficCorpus))]
    public void TranslateThenInverse_RestoresTheFrameByteForByte(string direction, string kind)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        byte[] original = TrafficCorpus.Case(kind).Build(d.Source, d.Destination);

        byte[] translated = new Nat().Forward(original);
        byte[] back = new Nat(inverse: true).Forward(translated);

        Assert.NotEqual(original, translated);
        Assert.Equal(Convert.ToHexString(original), Convert.ToHexString(back));
    }

    [Theory]
    [InlineData("inbound")]
    [InlineData("outbound")]
    public void SnapCutFrame_TranslateThenInverse_RestoresWhatWasCaptured(string direction)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        byte[] whole = Frames.Tcp(d.Source, d.Destination, 1, 2, new byte[500]);
        byte[] cut = whole.AsSpan(0, 68).ToArray();

        var (v1, translated) = new Nat().Translate(cut, wireLength: whole.Length);
        var (v2, back) = new Nat(inverse: true).Translate(translated, wireLength: whole.Length);

        Assert.Equal(DropReason.None, v1);
        Assert.Equal(DropReason.None, v2);
        Assert.Equal(cut, back);
    }

    [Fact]
    public void TcpChecksumHoldingMinusZero_ComesBackAsPlusZero_AndStillVerifies()
    {
        // One's complement has two zeros; a sender may put either in the field when the sum is all ones. RFC 1624
        // eqn. 3 never produces -0 (0xFFFF) from a real change, so a field that arrived as 0xFFFF returns as 0x0000.
        // Byte-for-byte restoration is impossible here; both forms verify.
        byte[] payload = new byte[8];
        byte[] probe = Frames.Tcp(Internet, PublicA, 1, 2, payload);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), BinaryPrimitives.ReadUInt16BigEndian(probe.AsSpan(14 + 20 + 16)));
        byte[] original = Frames.Tcp(Internet, PublicA, 1, 2, payload);
        int at = 14 + 20 + 16;
        Assert.Equal(0x0000, BinaryPrimitives.ReadUInt16BigEndian(original.AsSpan(at)));
        original[at] = original[at + 1] = 0xFF;
        Assert.Contains("tcp", Oracle.AssertChecksumsValid(original).Verified);

        byte[] back = new Nat(inverse: true).Forward(new Nat().Forward(original));

        Assert.Equal(0x0000, BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(at)));
        Assert.Contains("tcp", Oracle.AssertChecksumsValid(back).Verified);
        back[at] = back[at + 1] = 0xFF;
        Assert.Equal(original, back);
    }

    [Fact]
    public void IpHeaderChecksumHoldingMinusZero_ComesBackAsPlusZero_AndStillVerifies()
    {
        // As above for the IPv4 header: pick the IP id that makes the header sum all ones, then write -0 in the field.
        byte[] probe = Frames.Udp(PrivateA, Internet, 1, 2, [1, 2], new FrameOptions { Id = 0 });
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(probe.AsSpan(14 + 10));
        byte[] original = Frames.Udp(PrivateA, Internet, 1, 2, [1, 2], new FrameOptions { Id = id });
        Assert.Equal(0x0000, BinaryPrimitives.ReadUInt16BigEndian(original.AsSpan(14 + 10)));
        original[14 + 10] = original[14 + 11] = 0xFF;
        Assert.Contains("ip", Oracle.AssertChecksumsValid(original).Verified);

        byte[] back = new Nat(inverse: true).Forward(new Nat().Forward(original));

        Assert.Equal(0x0000, BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(14 + 10)));
        back[14 + 10] = back[14 + 11] = 0xFF;
        Assert.Equal(original, back);
    }

    [Fact]
    public void UdpChecksumFfff_WhichIsHowAComputedZeroIsSent_RoundTripsExactly()
    {
        // Thanks to RFC 768's "0 is sent as all ones" rule, UDP has no ±0 exception: ffff → x → ffff.
        byte[] payload = ChecksumRuleTests.PayloadMakingUdpChecksumZero(Internet, PublicA, 3, 4);
        byte[] original = Frames.Udp(Internet, PublicA, 3, 4, payload);
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(original.AsSpan(14 + 20 + 6)));

        byte[] back = new Nat(inverse: true).Forward(new Nat().Forward(original));

        Assert.Equal(original, back);
    }
}
