using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>
/// Frames whose transport checksum is partial (virtio NEEDS_CSUM: the field holds the pseudo-header sum, finished
/// later over the transport header and payload): after translation with <c>partialChecksum</c>, finishing the checksum
/// (independently, <see cref="PartialChecksums"/>) gives exactly the frame a sender would have sent from the
/// translated addresses, and PacketDotNet accepts it.
/// </summary>
public class PartialChecksumTranslationTests
{
    private static readonly byte[] s_payload = "a partial checksum is a pseudo-header sum"u8.ToArray();

    public static TheoryData<string, string, string, string, TranslateMode> Directions => new()
    {
        // from, to → translated from, translated to
        { Internet, PublicA, Internet, PrivateA, TranslateMode.FromInternet },
        { PrivateA, Internet, PublicA, Internet, TranslateMode.FromVpc },
        { PrivateA, PublicB, PublicA, PrivateB, TranslateMode.FromVpc },
    };

    private static byte[] Translate(byte[] partial, TranslateMode mode)
    {
        var nat = new Nat();
        var copy = (byte[])partial.Clone();
        Assert.Equal(DropReason.None, nat.Translator.TranslateEthernet(copy, copy.Length, nat.Counters, mode, partialChecksum: true));
        return copy;
    }

    [Theory]
    [MemberData(nameof(Directions))]
    public void Tcp_PartialChecksumIsUpdatedAsASum_AndFinishesToTheTranslatedFramesChecksum(string from, string to, string newFrom, string newTo, TranslateMode mode)
    {
        byte[] translated = Translate(PartialChecksums.MakePartial(Frames.Tcp(from, to, 40000, 443, s_payload)), mode);

        // Still partial: exactly the pseudo-header sum a sender of the translated packet would have put there.
        Assert.Equal(PartialChecksums.MakePartial(Frames.Tcp(newFrom, newTo, 40000, 443, s_payload)), translated);
        Assert.Equal(Frames.Tcp(newFrom, newTo, 40000, 443, s_payload), PartialChecksums.Finished(translated));
        Oracle.AssertChecksumsValid(PartialChecksums.Finished(translated));
    }

    [Theory]
    [MemberData(nameof(Directions))]
    public void Udp_PartialChecksumIsUpdatedAsASum_AndFinishesToTheTranslatedFramesChecksum(string from, string to, string newFrom, string newTo, TranslateMode mode)
    {
        byte[] translated = Translate(PartialChecksums.MakePartial(Frames.Udp(from, to, 5000, 53, s_payload)), mode);

        Assert.Equal(PartialChecksums.MakePartial(Frames.Udp(newFrom, newTo, 5000, 53, s_payload)), translated);
        Oracle.AssertChecksumsValid(PartialChecksums.Finished(translated));
    }

    [Fact]
    public void Udp_PartialSumsOverManyPorts_AllFinishToValidChecksums()
    {
        // Many pseudo-header sums, some of whose updates pass through 0x0000/0xFFFF: the "0 means no checksum" rule of
        // RFC 768 must never apply to a partial field.
        for (ushort port = 1; port < 20_000; port++)
        {
            byte[] partial = PartialChecksums.MakePartial(Frames.Udp(PrivateA, Internet, port, 53, s_payload));
            byte[] translated = Translate(partial, TranslateMode.FromVpc);
            Oracle.AssertChecksumsValid(PartialChecksums.Finished(translated));
        }
    }

    [Fact]
    public void Udp_AFieldOfZeroInAPartialFrame_IsUpdatedToo()
    {
        byte[] partial = PartialChecksums.MakePartial(Frames.Udp(PrivateA, Internet, 5000, 53, s_payload));
        int field = PartialChecksums.TransportOffset(partial) + 6;
        // A pseudo-header sum is never 0 for real addresses, but a partial field is updated whatever it holds.
        ushort original = (ushort)((partial[field] << 8) | partial[field + 1]);
        partial[field] = 0;
        partial[field + 1] = 0;
        byte[] translated = Translate(partial, TranslateMode.FromVpc);
        Assert.NotEqual(0, translated[field] | translated[field + 1]);
        Assert.NotEqual(original, (ushort)((translated[field] << 8) | translated[field + 1]));
    }

    [Fact]
    public void IcmpErrorWithAPartialChecksum_LeavesTheOuterChecksumAlone_AndUpdatesTheQuotedPacketsFinishedChecksums()
    {
        // The instance answers a packet from Internet with an error; its stack left the ICMP checksum to offload (0).
        byte[] input = PartialChecksums.MakePartial(Frames.IcmpError(PrivateA, Internet, 3, 3, Frames.Udp(Internet, PrivateA, 5000, 53, s_payload)));
        int icmpChecksum = PartialChecksums.TransportOffset(input) + 2;

        byte[] translated = Translate(input, TranslateMode.FromVpc);

        // The outer ICMP checksum is computed later over the final bytes: not touched (still 0).
        Assert.Equal(0, translated[icmpChecksum] | translated[icmpChecksum + 1]);
        byte[] expected = Frames.IcmpError(PublicA, Internet, 3, 3, Frames.Udp(Internet, PublicA, 5000, 53, s_payload));
        Assert.Equal(expected, PartialChecksums.Finished(translated));
        Assert.Equal(["ip", "icmp", "inner-ip", "inner-udp"], Oracle.AssertChecksumsValid(PartialChecksums.Finished(translated)).Verified);
    }

    [Theory]
    [MemberData(nameof(Directions))]
    public void TaggedFramesAndIpOptions_TakeTheGeneralPath_AndAreUpdatedAsASumToo(string from, string to, string newFrom, string newTo, TranslateMode mode)
    {
        // The translator's straight-line path takes untagged, optionless TCP/UDP; these take the general one.
        var options = new FrameOptions { Vlans = [VlanTag.Dot1Q(7)], IpOptions = [1, 1, 1, 0] };
        byte[] tcp = Translate(PartialChecksums.MakePartial(Frames.Tcp(from, to, 40000, 443, s_payload, options)), mode);
        byte[] udp = Translate(PartialChecksums.MakePartial(Frames.Udp(from, to, 5000, 53, s_payload, options)), mode);

        Assert.Equal(Frames.Tcp(newFrom, newTo, 40000, 443, s_payload, options), PartialChecksums.Finished(tcp));
        Assert.Equal(Frames.Udp(newFrom, newTo, 5000, 53, s_payload, options), PartialChecksums.Finished(udp));
    }

    [Fact]
    public void WithoutThePartialFlag_AFinishedChecksumIsUpdatedAsBefore()
    {
        byte[] frame = Frames.Tcp(PrivateA, Internet, 40000, 443, s_payload);
        Assert.Equal(Frames.Tcp(PublicA, Internet, 40000, 443, s_payload), new Nat().Forward(frame, TranslateMode.FromVpc));
    }
}
