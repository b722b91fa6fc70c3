using Gateway.DataPlane.Translation;
using static Gateway.EndToEnd.Tests.Forwarding.NamespaceLab;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>The data path on existing interfaces (veth ends) through AF_PACKET rings (<c>--if-backend packet</c>, the default).</summary>
[Trait("Category", "RootNamespaces")]
public sealed class LivePortTests(LiveNamespaceLab lab) : LiveInterfaceTests(lab), IClassFixture<LiveNamespaceLab>
{
}

/// <summary>The same tests through libpcap capture and injection (<c>--if-backend pcap</c>).</summary>
[Trait("Category", "RootNamespaces")]
public sealed class PcapLivePortTests(PcapLiveNamespaceLab lab) : LiveInterfaceTests(lab), IClassFixture<PcapLiveNamespaceLab>
{
}

/// <summary>The live-interface tests, run once per backend by the classes above.</summary>
public abstract class LiveInterfaceTests
{
    private readonly NamespaceLab _lab;

    protected LiveInterfaceTests(NamespaceLab lab)
    {
        ArgumentNullException.ThrowIfNull(lab);
        _lab = lab;
        _lab.ResetBindings();
    }

    [Fact]
    public void InboundOutboundAndHairpinWorkOverLiveInterfaces()
    {
        Assert.True(Ping(_lab.Internet, PublicA));
        Assert.Equal($"A {InternetHostAddress} {PrivateA}", _lab.Ask(_lab.Internet, "tcp", PublicA));
        Assert.Equal($"inet {PublicB} {InternetHostAddress}", _lab.Ask(_lab.InstanceB, "udp", InternetHostAddress));
        Assert.Equal($"B {PublicA} {PrivateB}", _lab.Ask(_lab.InstanceA, "tcp", PublicB));
    }

    [Fact]
    public void ASpoofedSourceIsDroppedOverLiveInterfacesToo()
    {
        long spoofed = _lab.Path.Snapshot().DropPackets(DropReason.SpoofedSource);
        Shell.Must("ip", "-n", _lab.InstanceB, "addr", "add", "10.0.0.98/32", "dev", "eth0");
        try
        {
            Assert.NotEqual(0, Shell.InNamespace(_lab.InstanceB, "ping", "-c", "2", "-i", "0.2", "-W", "1", "-I", "10.0.0.98", InternetHostAddress).ExitCode);
        }
        finally
        {
            Shell.Run("ip", "-n", _lab.InstanceB, "addr", "del", "10.0.0.98/32", "dev", "eth0");
        }
        Assert.True(_lab.Path.Snapshot().DropPackets(DropReason.SpoofedSource) >= spoofed + 2);
    }
}
