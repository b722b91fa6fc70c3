using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>Inbound (DNAT), outbound (SNAT) and hairpin (both), over every kind of traffic.</summary>
public class AddressRewriteTests
{
    [Theory]
    [MemberData(nameof(TrafficCorpus.All), MemberType = typeof(TrafficCorpus))]
    public void EveryTrafficKind_InEveryDirection_BecomesExactlyTheFrameBuiltWithTheTranslatedAddresses(string direction, string kind)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        var c = TrafficCorpus.Case(kind);
        var nat = new Nat();

        byte[] output = nat.Forward(c.Build(d.Source, d.Destination));

        // Every checksum in the expected frame was computed from scratch by PacketDotNet; the translator's
        // incremental updates must land on the same bytes, and nothing else may change.
        Assert.Equal(Convert.ToHexString(c.Build(d.NewSource, d.NewDestination)), Convert.ToHexString(output));
    }

    [Fact]
    public void Inbound_DestinationIsABoundPublicAddress_BecomesItsPrivateAddress_SourceUntouched()
    {
        var nat = new Nat();
        byte[] output = nat.Forward(Frames.Tcp(Internet, PublicA, 443, 40000, "GET /"u8.ToArray()));

        var ip = Oracle.Ipv4(output);
        Assert.Equal(Internet, ip.SourceAddress.ToString());
        Assert.Equal(PrivateA, ip.DestinationAddress.ToString());
        Assert.Contains("tcp", Oracle.Check(output).Verified);
    }

    [Fact]
    public void Outbound_SourceIsABoundPrivateAddress_BecomesItsPublicAddress_DestinationUntouched()
    {
        var nat = new Nat();
        byte[] output = nat.Forward(Frames.Udp(PrivateB, Internet, 5000, 53, [1, 2, 3, 4]));

        var ip = Oracle.Ipv4(output);
        Assert.Equal(PublicB, ip.SourceAddress.ToString());
        Assert.Equal(Internet, ip.DestinationAddress.ToString());
        Assert.Contains("udp", Oracle.Check(output).Verified);
    }

    [Fact]
    public void Hairpin_InstanceToAnotherInstancesPublicAddress_RewritesBothAddresses()
    {
        var nat = new Nat();
        byte[] output = nat.Forward(Frames.Tcp(PrivateA, PublicB, 40000, 443, [7]));

        var ip = Oracle.Ipv4(output);
        Assert.Equal(PublicA, ip.SourceAddress.ToString());
        Assert.Equal(PrivateB, ip.DestinationAddress.ToString());
    }

    [Fact]
    public void Hairpin_InstanceToItsOwnPublicAddress_RewritesBothToTheSameBinding()
    {
        var nat = new Nat();
        byte[] output = nat.Forward(Frames.Tcp(PrivateA, PublicA, 40000, 443, [7]));

        Assert.Equal(Frames.Tcp(PublicA, PrivateA, 40000, 443, [7]), output);
    }

    [Fact]
    public void BareIpv4Packet_TranslateIpv4_RewritesLikeAnEthernetFrame()
    {
        var nat = new Nat();
        byte[] packet = Frames.Ipv4Packet(Frames.Tcp(Internet, PublicA, 1, 2, [1, 2, 3]));

        DropReason verdict = nat.Translator.TranslateIpv4(packet, packet.Length, nat.Counters);

        Assert.Equal(DropReason.None, verdict);
        Assert.Equal(Frames.Ipv4Packet(Frames.Tcp(Internet, PrivateA, 1, 2, [1, 2, 3])), packet);
    }

    [Fact]
    public void BareIpv4Packet_WithPaddingAfterTotalLength_KeepsThePadding()
    {
        var nat = new Nat();
        byte[] packet = [.. Frames.Ipv4Packet(Frames.Udp(PrivateA, Internet, 1, 2, [1])), 0xEE, 0xEE];

        Assert.Equal(DropReason.None, nat.Translator.TranslateIpv4(packet, packet.Length, nat.Counters));
        Assert.Equal([.. Frames.Ipv4Packet(Frames.Udp(PublicA, Internet, 1, 2, [1])), 0xEE, 0xEE], packet);
    }
}
