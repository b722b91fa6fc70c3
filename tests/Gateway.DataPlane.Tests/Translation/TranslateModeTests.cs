using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>Ports with one direction: the internet port only DNATs, the VPC port must SNAT.</summary>
public class TranslateModeTests
{
    [Fact]
    public void FromInternet_InboundFrame_IsDnatted()
    {
        byte[] output = new Nat().Forward(Frames.Tcp(Internet, PublicA, 1, 2), TranslateMode.FromInternet);
        Assert.Equal(Frames.Tcp(Internet, PrivateA, 1, 2), output);
    }

    [Fact]
    public void FromInternet_SourceThatIsABoundPrivateAddress_IsNotSnatted()
    {
        // Hairpin does not apply on the internet port: a bound private source arriving from outside stays as it is.
        byte[] output = new Nat().Forward(Frames.Udp(PrivateA, PublicB, 1, 2, [1]), TranslateMode.FromInternet);
        Assert.Equal(Frames.Udp(PrivateA, PrivateB, 1, 2, [1]), output);
    }

    [Fact]
    public void FromInternet_OutboundLookingFrame_IsNoBinding()
    {
        var nat = new Nat();
        nat.AssertDropped(Frames.Tcp(PrivateA, Internet, 1, 2), DropReason.NoBinding, TranslateMode.FromInternet);
        Assert.Equal(0, nat.Counters.ForBinding(nat.IdA).OutboundPackets);
    }

    [Fact]
    public void FromVpc_OutboundFrame_IsSnatted()
    {
        byte[] output = new Nat().Forward(Frames.Tcp(PrivateA, Internet, 1, 2), TranslateMode.FromVpc);
        Assert.Equal(Frames.Tcp(PublicA, Internet, 1, 2), output);
    }

    [Fact]
    public void FromVpc_HairpinFrame_IsSnattedAndDnatted()
    {
        byte[] output = new Nat().Forward(Frames.Tcp(PrivateA, PublicB, 1, 2), TranslateMode.FromVpc);
        Assert.Equal(Frames.Tcp(PublicA, PrivateB, 1, 2), output);
    }

    [Fact]
    public void FromVpc_SourceNotABoundPrivateAddress_IsNoBinding_EvenWhenTheDestinationIsBound()
    {
        var nat = new Nat();
        nat.AssertDropped(Frames.Tcp(UnboundPrivate, PublicB, 1, 2), DropReason.NoBinding, TranslateMode.FromVpc);
        nat.AssertDropped(Frames.Tcp(Internet, PublicA, 1, 2), DropReason.NoBinding, TranslateMode.FromVpc);
        Assert.Equal(0, nat.Counters.ForBinding(nat.IdB).InboundPackets);
        Assert.Equal(0, nat.Counters.ForBinding(nat.IdA).InboundPackets);
    }

    [Fact]
    public void FromVpc_IcmpErrorFromAnInstance_IsTranslatedWithItsQuote()
    {
        byte[] output = new Nat().Forward(Frames.IcmpError(PrivateA, Internet, 3, 3, Frames.Udp(Internet, PrivateA, 1, 2)), TranslateMode.FromVpc);
        Assert.Equal(Frames.IcmpError(PublicA, Internet, 3, 3, Frames.Udp(Internet, PublicA, 1, 2)), output);
    }

    [Fact]
    public void FromInternet_IcmpErrorToAnInstance_IsTranslatedWithItsQuote()
    {
        byte[] output = new Nat().Forward(Frames.IcmpError(Router, PublicA, 11, 0, Frames.Tcp(PublicA, Internet, 1, 2)), TranslateMode.FromInternet);
        Assert.Equal(Frames.IcmpError(Router, PrivateA, 11, 0, Frames.Tcp(PrivateA, Internet, 1, 2)), output);
    }

    [Theory]
    [InlineData(TranslateMode.Infer)]
    [InlineData(TranslateMode.FromInternet)]
    [InlineData(TranslateMode.FromVpc)]
    public void EveryMode_NeitherAddressBound_IsNoBinding(TranslateMode mode)
    {
        new Nat().AssertDropped(Frames.Tcp(Internet, UnboundPublic, 1, 2), DropReason.NoBinding, mode);
    }

    [Fact]
    public void Infer_DecidesPerFrame()
    {
        var nat = new Nat();
        Assert.Equal(Frames.Tcp(Internet, PrivateA, 1, 2), nat.Forward(Frames.Tcp(Internet, PublicA, 1, 2)));
        Assert.Equal(Frames.Tcp(PublicA, Internet, 1, 2), nat.Forward(Frames.Tcp(PrivateA, Internet, 1, 2)));
        Assert.Equal(Frames.Tcp(PublicA, PrivateB, 1, 2), nat.Forward(Frames.Tcp(PrivateA, PublicB, 1, 2)));
    }
}
