using static Gateway.EndToEnd.Tests.Forwarding.NamespaceLab;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>With <c>--internet-gateway</c>, every frame to the internet goes to the upstream router's MAC.</summary>
[Trait("Category", "RootNamespaces")]
public sealed class UpstreamGatewayTests : IClassFixture<UpstreamNamespaceLab>
{
    private readonly UpstreamNamespaceLab _lab;

    public UpstreamGatewayTests(UpstreamNamespaceLab lab)
    {
        _lab = lab;
        _lab.ResetBindings();
    }

    [Fact]
    public void AnAddressBeyondTheSegmentIsReachedThroughTheUpstreamRouter()
    {
        Assert.True(Ping(_lab.InstanceA, RemoteAddress));
        Assert.Equal($"inet {PublicA} {RemoteAddress}", _lab.Ask(_lab.InstanceA, "tcp", RemoteAddress));
    }

    [Fact]
    public void OnLinkInternetHostsAreReachedThroughTheUpstreamRouterToo()
    {
        Assert.Equal($"inet {PublicB} {InternetHostAddress}", _lab.Ask(_lab.InstanceB, "udp", InternetHostAddress));
        // Only the router was ever resolved on the internet side.
        Assert.Equal(1, _lab.Path.InternetNeighbours);
    }
}
