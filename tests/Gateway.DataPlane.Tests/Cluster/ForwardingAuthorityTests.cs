using Gateway.DataPlane.Cluster;

namespace Gateway.DataPlane.Cluster.Tests;

public sealed class ForwardingAuthorityTests
{
    [Fact]
    public void TheDeadline_OnlyMovesForward_UntilRevoked()
    {
        var authority = ForwardingAuthority.None();
        Assert.False(authority.Permits(0));
        Assert.True(authority.ExtendTo(100));
        Assert.False(authority.ExtendTo(50));
        Assert.Equal(100, authority.Until);
        Assert.True(authority.Permits(99));
        Assert.False(authority.Permits(100));
        authority.Revoke();
        Assert.False(authority.Permits(0));
        Assert.True(authority.ExtendTo(10));
    }

    [Fact]
    public void ConcurrentExtensions_KeepTheLatest()
    {
        var authority = ForwardingAuthority.None();
        Parallel.For(0, 10_000, i => authority.ExtendTo(i));
        Assert.Equal(9_999, authority.Until);
    }
}
