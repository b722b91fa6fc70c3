using Gateway.DataPlane.Translation;
using static Gateway.EndToEnd.Tests.Forwarding.NamespaceLab;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>The data path on existing interfaces (veth ends) through libpcap capture and injection.</summary>
[Trait("Category", "RootNamespaces")]
public sealed class LivePortTests : IClassFixture<LiveNamespaceLab>
{
    private readonly LiveNamespaceLab _lab;

    public LivePortTests(LiveNamespaceLab lab)
    {
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
