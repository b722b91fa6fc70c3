using System.Buffers.Binary;
using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>ICMP errors (types 3, 4, 5, 11, 12) translate the packet they quote (RFC 5508 §3.3 for NAT).</summary>
public class IcmpErrorTranslationTests
{
    private static readonly byte[] s_payload = "quoted payload"u8.ToArray();

    public static TheoryData<byte, byte> ErrorTypes => new()
    {
        { 3, 3 }, { 3, 4 }, { 4, 0 }, { 5, 1 }, { 11, 0 }, { 12, 0 },
    };

    [Theory]
    [MemberData(nameof(ErrorTypes))]
    public void Inbound_RouterReportsAboutAPacketTheInstanceSent_InnerSourceTranslatedLikeOuterDestination(byte type, byte code)
    {
        // The instance (PublicA outside) sent to Internet; a router on the way answers to PublicA.
        byte[] input = Frames.IcmpError(Router, PublicA, type, code, Frames.Tcp(PublicA, Internet, 40000, 443, s_payload));

        byte[] output = new Nat().Forward(input);

        Assert.Equal(Frames.IcmpError(Router, PrivateA, type, code, Frames.Tcp(PrivateA, Internet, 40000, 443, s_payload)), output);
        Assert.Equal(["ip", "icmp", "inner-ip", "inner-tcp"], Oracle.Check(output).Verified);
    }

    [Theory]
    [MemberData(nameof(ErrorTypes))]
    public void Outbound_InstanceReportsAboutAPacketItReceived_InnerDestinationTranslatedLikeOuterSource(byte type, byte code)
    {
        // Internet sent to PublicA (the instance saw it addressed to PrivateA); the instance answers with an error.
        byte[] input = Frames.IcmpError(PrivateA, Internet, type, code, Frames.Udp(Router, PrivateA, 5000, 53, s_payload));

        byte[] output = new Nat().Forward(input);

        Assert.Equal(Frames.IcmpError(PublicA, Internet, type, code, Frames.Udp(Router, PublicA, 5000, 53, s_payload)), output);
        Assert.Equal(["ip", "icmp", "inner-ip", "inner-udp"], Oracle.Check(output).Verified);
    }

    [Theory]
    [MemberData(nameof(ErrorTypes))]
    public void Hairpin_BothInnerAddressesTranslated(byte type, byte code)
    {
        // B sent PrivateB → PublicA; A saw PublicB → PrivateA and answers PrivateA → PublicB.
        byte[] input = Frames.IcmpError(PrivateA, PublicB, type, code, Frames.IcmpEcho(PublicB, PrivateA, 5, 6));

        byte[] output = new Nat().Forward(input);

        Assert.Equal(Frames.IcmpError(PublicA, PrivateB, type, code, Frames.IcmpEcho(PrivateB, PublicA, 5, 6)), output);
        Assert.Equal(["ip", "icmp", "inner-ip", "inner-icmp"], Oracle.Check(output).Verified);
    }

    [Theory]
    [InlineData(28)]
    [InlineData(34)]
    [InlineData(37)]
    public void InnerTcp_WithFewerThan18BytesQuoted_ItsChecksumIsNotThere_AndNothingPastTheInnerHeaderChanges(int quoteLength)
    {
        byte[] about = Frames.Tcp(PublicA, Internet, 40000, 443, s_payload);
        byte[] input = Frames.IcmpError(Router, PublicA, 3, 4, about, quoteLength);

        byte[] output = new Nat().Forward(input);

        int inner = 14 + 20 + 8;
        Assert.Equal(input.AsSpan(inner + 20).ToArray(), output.AsSpan(inner + 20).ToArray());
        Assert.Equal(Frames.Ipv4Packet(Frames.Tcp(PrivateA, Internet, 40000, 443, s_payload)).AsSpan(0, 20).ToArray(), output.AsSpan(inner, 20).ToArray());
        Assert.Equal(["ip", "icmp", "inner-ip"], Oracle.Check(output).Verified);
    }

    [Theory]
    [InlineData(38)]
    [InlineData(40)]
    [InlineData(53)]
    public void InnerTcp_WithAtLeast18BytesQuoted_ItsChecksumIsUpdated(int quoteLength)
    {
        byte[] input = Frames.IcmpError(Router, PublicA, 11, 0, Frames.Tcp(PublicA, Internet, 40000, 443, s_payload), quoteLength);

        byte[] output = new Nat().Forward(input);

        Assert.Equal(Frames.IcmpError(Router, PrivateA, 11, 0, Frames.Tcp(PrivateA, Internet, 40000, 443, s_payload), quoteLength), output);
        Assert.Contains("icmp", Oracle.Check(output).Verified);
    }

    [Fact]
    public void InnerTcp_WithExactly17BytesQuoted_KeepsTheHalfChecksumByte()
    {
        byte[] input = Frames.IcmpError(Router, PublicA, 3, 3, Frames.Tcp(PublicA, Internet, 1, 2, s_payload), quoteLength: 37);
        byte[] output = new Nat().Forward(input);
        Assert.Equal(input[^1], output[^1]);
    }

    [Fact]
    public void InnerUdp_ChecksumZero_StaysZero()
    {
        byte[] input = Frames.IcmpError(Router, PublicA, 3, 3, Frames.Udp(PublicA, Internet, 1, 2, s_payload, noChecksum: true));

        byte[] output = new Nat().Forward(input);

        Assert.Equal(Frames.IcmpError(Router, PrivateA, 3, 3, Frames.Udp(PrivateA, Internet, 1, 2, s_payload, noChecksum: true)), output);
        Assert.Contains("inner-udp-none", Oracle.Check(output).Verified);
    }

    [Fact]
    public void InnerUdp_UpdatedChecksumThatComesOutZero_IsWrittenFfff()
    {
        byte[] payload = ChecksumRuleTests.PayloadMakingUdpChecksumZero(PrivateA, Internet, 7, 9);
        byte[] input = Frames.IcmpError(Router, PublicA, 3, 3, Frames.Udp(PublicA, Internet, 7, 9, payload));

        byte[] output = new Nat().Forward(input);

        int innerUdpChecksum = 14 + 20 + 8 + 20 + 6;
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(innerUdpChecksum)));
        Assert.Contains("inner-udp", Oracle.Check(output).Verified);
    }

    [Fact]
    public void InnerUdp_QuotedWithOnlyItsEightByteHeader_HasItsChecksumUpdated()
    {
        byte[] input = Frames.IcmpError(Router, PublicA, 3, 3, Frames.Udp(PublicA, Internet, 1, 2, s_payload), quoteLength: 28);
        byte[] output = new Nat().Forward(input);
        Assert.Equal(Frames.IcmpError(Router, PrivateA, 3, 3, Frames.Udp(PrivateA, Internet, 1, 2, s_payload), quoteLength: 28), output);
    }

    [Fact]
    public void InnerNonFirstFragment_OnlyTheInnerIpHeaderIsTranslated()
    {
        var fragments = Frames.Fragment(Frames.Tcp(PublicA, Internet, 1, 2, new byte[64]), 24);
        byte[] input = Frames.IcmpError(Router, PublicA, 11, 1, fragments[1]);

        byte[] output = new Nat().Forward(input);

        int inner = 14 + 20 + 8;
        Assert.Equal(input.AsSpan(inner + 20).ToArray(), output.AsSpan(inner + 20).ToArray());
        var expectedFragments = Frames.Fragment(Frames.Tcp(PrivateA, Internet, 1, 2, new byte[64]), 24);
        Assert.Equal(Frames.IcmpError(Router, PrivateA, 11, 1, expectedFragments[1]), output);
    }

    [Fact]
    public void InnerFirstFragment_HasItsTransportChecksumUpdated()
    {
        var fragments = Frames.Fragment(Frames.Udp(PublicA, Internet, 1, 2, new byte[64]), 32);
        byte[] output = new Nat().Forward(Frames.IcmpError(Router, PublicA, 3, 4, fragments[0], restOfHeader: 576));
        var expectedFragments = Frames.Fragment(Frames.Udp(PrivateA, Internet, 1, 2, new byte[64]), 32);
        Assert.Equal(Frames.IcmpError(Router, PrivateA, 3, 4, expectedFragments[0], restOfHeader: 576), output);
    }

    [Fact]
    public void InnerHeaderWithOptions_IsTranslatedAtItsRealLength()
    {
        var withOptions = new FrameOptions { IpOptions = [0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00] };
        byte[] input = Frames.IcmpError(Router, PublicA, 3, 3, Frames.Tcp(PublicA, Internet, 1, 2, s_payload, withOptions), quoteLength: 28 + 18);
        byte[] output = new Nat().Forward(input);
        Assert.Equal(Frames.IcmpError(Router, PrivateA, 3, 3, Frames.Tcp(PrivateA, Internet, 1, 2, s_payload, withOptions), quoteLength: 28 + 18), output);
    }

    [Fact]
    public void InboundFromInternetMode_InnerDestinationIsNotChecked()
    {
        // Only the DNAT side applies: the quoted destination is whatever the instance sent to.
        byte[] input = Frames.IcmpError(Router, PublicA, 3, 1, Frames.Tcp(PublicA, "203.0.113.200", 1, 2));
        byte[] output = new Nat().Forward(input, TranslateMode.FromInternet);
        Assert.Equal(Frames.IcmpError(Router, PrivateA, 3, 1, Frames.Tcp(PrivateA, "203.0.113.200", 1, 2)), output);
    }

    [Fact]
    public void Inbound_InnerSourceIsNotTheOuterDestination_IsDroppedAsIcmpInnerMismatch()
    {
        var nat = new Nat();
        nat.AssertDropped(Frames.IcmpError(Router, PublicA, 3, 3, Frames.Udp(PublicB, Internet, 1, 2)), DropReason.IcmpInnerMismatch);
        nat.AssertDropped(Frames.IcmpError(Router, PublicA, 3, 3, Frames.Udp(PrivateA, Internet, 1, 2)), DropReason.IcmpInnerMismatch);
        Assert.Equal(2, nat.Counters.DropPacketCount(DropReason.IcmpInnerMismatch));
    }

    [Fact]
    public void Outbound_InnerDestinationIsNotTheOuterSource_IsDroppedAsIcmpInnerMismatch()
    {
        var nat = new Nat();
        nat.AssertDropped(Frames.IcmpError(PrivateA, Internet, 3, 3, Frames.Udp(Internet, PrivateB, 1, 2)), DropReason.IcmpInnerMismatch);
        nat.AssertDropped(Frames.IcmpError(PrivateA, Internet, 11, 0, Frames.Udp(Internet, PublicA, 1, 2)), DropReason.IcmpInnerMismatch);
    }

    [Fact]
    public void Hairpin_EitherInnerAddressNotMirroring_IsDroppedAsIcmpInnerMismatch()
    {
        var nat = new Nat();
        // Inner source must be the outer destination (PublicB)...
        nat.AssertDropped(Frames.IcmpError(PrivateA, PublicB, 3, 3, Frames.Udp(Internet, PrivateA, 1, 2)), DropReason.IcmpInnerMismatch);
        // ...and the inner destination the outer source (PrivateA).
        nat.AssertDropped(Frames.IcmpError(PrivateA, PublicB, 3, 3, Frames.Udp(PublicB, Internet, 1, 2)), DropReason.IcmpInnerMismatch);
    }

    [Fact]
    public void IcmpInnerMismatch_IsJudgedAfterTheBindings_SoAnUnboundErrorIsNoBinding()
    {
        new Nat().AssertDropped(Frames.IcmpError(Router, UnboundPublic, 3, 3, Frames.Udp(Internet, Router, 1, 2)), DropReason.NoBinding);
    }
}
