using Gateway.Control.Rules;
using Gateway.Control.Rules.Tests;

namespace Gateway.Control.Hardening.Tests;

/// <summary>RunInstances' ClientToken is durable: after a restart the same token still creates nothing.</summary>
public abstract class ClientTokenTests : IDisposable
{
    private readonly StoreUnderTest _store;
    private readonly ControlPlaneFixture _f;

    protected ClientTokenTests(StoreUnderTest store)
    {
        _store = store;
        _f = new(store: store);
    }

    public void Dispose()
    {
        _f.Dispose();
        GC.SuppressFinalize(this);
    }

    private IReadOnlyList<string> Run(string? token) =>
        _f.Plane.RunInstances(new RunInstancesCommand(2, 5, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "zone-1", "S5.SMALL1", "img-test") { ClientToken = token });

    [Fact]
    public void TheSameToken_AfterARestart_ReturnsTheSameInstancesAndCreatesNothing()
    {
        var first = Run("token-a");
        _f.Restart();

        Assert.Equal(first, Run("token-a"));
        Assert.Equal(2, _f.Plane.ListInstances().Count);
        Assert.Empty(_f.Plane.CheckTableAgainstStore());
    }

    [Fact]
    public void AnotherToken_CreatesNewInstances()
    {
        var first = Run("token-a");

        Assert.Empty(first.Intersect(Run("token-b")));
        Assert.Equal(4, _f.Plane.ListInstances().Count);
    }

    [Fact]
    public void ARefusedRequest_DoesNotUseUpItsToken()
    {
        // 6 public IPs in the fixture's pool: 7 instances with bandwidth cannot all get one, so nothing is created.
        Assert.Throws<ApiException>(() => _f.Plane.RunInstances(new RunInstancesCommand(7, 5, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "", "z", "t", "i") { ClientToken = "token-c" }));

        Assert.Equal(2, _f.Plane.RunInstances(new RunInstancesCommand(2, 5, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "", "z", "t", "i") { ClientToken = "token-c" }).Count);
    }
}

public sealed class ClientTokenTestsOnSqlite() : ClientTokenTests(StoreUnderTest.Sqlite);

[Collection(EtcdFixture.Collection)]
public sealed class ClientTokenTestsOnEtcd(EtcdFixture etcd) : ClientTokenTests(etcd.Store);
