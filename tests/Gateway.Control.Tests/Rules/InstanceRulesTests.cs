using static Gateway.Control.Rules.Tests.ControlPlaneFixture;

namespace Gateway.Control.Rules.Tests;

public abstract class InstanceRulesTests : IDisposable
{
    private readonly StoreUnderTest _store;
    private readonly ControlPlaneFixture _f;

    protected InstanceRulesTests(StoreUnderTest store)
    {
        _store = store;
        _f = new(store: store);
    }

    public void Dispose()
    {
        _f.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public void RunInstances_WithBandwidth_AssignsAPoolAddressAndBindsIt()
    {
        string id = _f.RunOne(bandwidth: 5);

        var view = _f.Instance(id);
        Assert.Matches("^ins-[0-9a-z]{8}$", id);
        Assert.Equal(Ip("10.0.0.2"), view.Instance.PrivateIp);
        Assert.Equal(Ip("198.51.100.1"), view.PublicIp);
        Assert.Equal(Ip("198.51.100.1"), _f.PublicIpInTable(Ip("10.0.0.2")));
        Assert.Equal(
            [new ControlPlaneEvent(ControlPlaneEventKind.InstanceAdded, Ip("10.0.0.2"), 0), new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressBound, Ip("10.0.0.2"), Ip("198.51.100.1"))],
            _f.Events);
    }

    [Fact]
    public void RunInstances_WithZeroBandwidth_HasNoPublicIpAndNoBinding()
    {
        string id = _f.RunOne(bandwidth: 0);

        Assert.Null(_f.Instance(id).PublicIp);
        Assert.Equal(0, _f.Table.Count);
        Assert.Equal(6, _f.State.Pool.FreeCount);
    }

    [Fact]
    public void RunInstances_WithPublicIpAssignedFalse_HasNoPublicIpDespiteBandwidth()
    {
        string id = _f.RunOne(bandwidth: 10, publicIpAssigned: false);

        Assert.Null(_f.Instance(id).PublicIp);
        Assert.Equal(0, _f.Table.Count);
    }

    [Fact]
    public void RunInstances_PublicIpAssignedWithZeroBandwidth_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.InvalidParameterCombination, () => _f.RunOne(bandwidth: 0, publicIpAssigned: true));

    [Fact]
    public void RunInstances_NegativeBandwidth_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.InvalidParameterValueRange, () => _f.RunOne(bandwidth: -1));

    [Theory]
    [InlineData(0)]
    [InlineData(101)]
    public void RunInstances_CountOutOfRange_IsRefusedUnchanged(int count) =>
        _f.AssertRejected(ErrorCodes.InvalidParameterValueRange, () => Run(count, 1));

    [Fact]
    public void RunInstances_WithGivenPrivateIp_UsesIt()
    {
        string id = _f.RunOne(privateIp: "10.0.0.77");

        Assert.Equal(Ip("10.0.0.77"), _f.Instance(id).Instance.PrivateIp);
    }

    [Theory]
    [InlineData("10.0.1.5")]
    [InlineData("10.0.0.0")]
    [InlineData("10.0.0.1")]
    [InlineData("10.0.0.255")]
    public void RunInstances_PrivateIpOutsideTheSubnetOrReserved_IsRefusedUnchanged(string ip) =>
        _f.AssertRejected(ErrorCodes.VpcAddrNotInSubNet, () => _f.RunOne(privateIp: ip));

    [Fact]
    public void RunInstances_PrivateIpInUse_IsRefusedUnchanged()
    {
        _f.RunOne(privateIp: "10.0.0.9");

        _f.AssertRejected(ErrorCodes.VpcIpIsUsed, () => _f.RunOne(privateIp: "10.0.0.9"));
    }

    [Fact]
    public void RunInstances_PrivateIpCountNotMatchingInstanceCount_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.AmountNotEqual, () => Run(2, 1, [Ip("10.0.0.20")]));

    [Fact]
    public void RunInstances_SamePrivateIpTwiceInOneRequest_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.VpcIpIsUsed, () => Run(2, 1, [Ip("10.0.0.20"), Ip("10.0.0.20")]));

    [Fact]
    public void RunInstances_MorePublicIpsThanThePoolHolds_IsRefusedWholeUnchanged()
    {
        Run(4, 1);

        // 2 free, 3 asked: no instance is created, not even the first two.
        _f.AssertRejected(ErrorCodes.ResourceInsufficient, () => Run(3, 1));
        Assert.Equal(4, _f.Plane.ListInstances().Count);
    }

    [Fact]
    public void RunInstances_SubnetFull_IsRefusedUnchanged()
    {
        using var small = new ControlPlaneFixture(subnet: "10.9.0.0/29", store: _store); // .2 to .6 assignable: 5
        small.Plane.RunInstances(new RunInstancesCommand(5, 0, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "", "z", "t", "i"));

        small.AssertRejected(ErrorCodes.NoAvailableIpInSubnet, () => small.RunOne(bandwidth: 0));
    }

    [Fact]
    public void RunInstances_SeveralInstances_GetDistinctPrivateAndPublicAddresses()
    {
        var ids = Run(3, 1);

        var views = ids.Select(_f.Instance).ToList();
        Assert.Equal(3, views.Select(v => v.Instance.PrivateIp).Distinct().Count());
        Assert.Equal(3, views.Select(v => v.PublicIp).Distinct().Count());
        Assert.Equal(3, _f.Table.Count);
    }

    [Fact]
    public void TerminateInstances_ReleasesThePublicIpAndRemovesTheBinding()
    {
        string id = _f.RunOne();
        uint pub = _f.Instance(id).PublicIp!.Value;

        _f.Plane.TerminateInstances([id], releaseAddress: false);

        Assert.Empty(_f.Plane.ListInstances());
        Assert.Equal(0, _f.Table.Count);
        Assert.True(_f.State.Pool.IsFree(pub));
        Assert.Contains(new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressUnbound, Ip("10.0.0.2"), pub), _f.Events);
        Assert.Equal(ControlPlaneEventKind.InstanceRemoved, _f.Events[^1].Kind);
    }

    [Fact]
    public void TerminateInstances_WithAnEip_KeepsTheEipUnbound()
    {
        string id = _f.RunOne();
        string eip = _f.AllocateOne();
        _f.Plane.AssociateAddress(eip, id);

        _f.Plane.TerminateInstances([id], releaseAddress: false);

        var address = _f.Address(eip);
        Assert.Equal("UNBIND", address.Address.Status);
        Assert.Null(address.Address.InstanceId);
        Assert.False(_f.State.Pool.IsFree(address.Address.Ip));
        Assert.Equal(0, _f.Table.Count);
    }

    [Fact]
    public void TerminateInstances_WithReleaseAddress_ReleasesTheEipToo()
    {
        string id = _f.RunOne();
        string eip = _f.AllocateOne();
        uint eipIp = _f.Address(eip).Address.Ip;
        _f.Plane.AssociateAddress(eip, id);

        _f.Plane.TerminateInstances([id], releaseAddress: true);

        Assert.Empty(_f.Plane.ListAddresses());
        Assert.True(_f.State.Pool.IsFree(eipIp));
    }

    [Fact]
    public void TerminateInstances_UnknownId_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.InstanceIdNotFound, () => _f.Plane.TerminateInstances(["ins-00000000"], false));

    [Fact]
    public void TerminateInstances_MalformedId_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.InstanceIdMalformed, () => _f.Plane.TerminateInstances(["i-123"], false));

    [Fact]
    public void TerminateInstances_OneKnownOneUnknown_TerminatesNeither()
    {
        string id = _f.RunOne();

        _f.AssertRejected(ErrorCodes.InstanceIdNotFound, () => _f.Plane.TerminateInstances([id, "ins-00000000"], false));
        Assert.Single(_f.Plane.ListInstances());
    }

    [Fact]
    public void TerminateInstances_Empty_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.MissingParameter, () => _f.Plane.TerminateInstances([], false));

    [Fact]
    public void TerminateInstances_AlreadyTerminated_IsNotFound()
    {
        string id = _f.RunOne();
        _f.Plane.TerminateInstances([id], false);

        _f.AssertRejected(ErrorCodes.InstanceIdNotFound, () => _f.Plane.TerminateInstances([id], false));
    }

    [Fact]
    public void ResetBandwidth_ToZero_ReleasesThePublicIp()
    {
        string id = _f.RunOne(bandwidth: 10);
        uint pub = _f.Instance(id).PublicIp!.Value;

        _f.Plane.ResetInternetMaxBandwidth([id], 0);

        Assert.Null(_f.Instance(id).PublicIp);
        Assert.Equal(0, _f.Instance(id).Instance.BandwidthOut);
        Assert.True(_f.State.Pool.IsFree(pub));
        Assert.Equal(0, _f.Table.Count);
    }

    [Fact]
    public void ResetBandwidth_FromZero_AssignsAPublicIp()
    {
        string id = _f.RunOne(bandwidth: 0);

        _f.Plane.ResetInternetMaxBandwidth([id], 20);

        var view = _f.Instance(id);
        Assert.NotNull(view.PublicIp);
        Assert.Equal(view.PublicIp, _f.PublicIpInTable(view.Instance.PrivateIp));
    }

    [Fact]
    public void ResetBandwidth_BetweenNonZeroValues_KeepsThePublicIp()
    {
        string id = _f.RunOne(bandwidth: 10);
        uint? pub = _f.Instance(id).PublicIp;

        _f.Plane.ResetInternetMaxBandwidth([id], 50);

        Assert.Equal(pub, _f.Instance(id).PublicIp);
        Assert.Equal(50, _f.Instance(id).Instance.BandwidthOut);
    }

    [Fact]
    public void ResetBandwidth_ToZeroWithAnEip_KeepsTheEipBound()
    {
        string id = _f.RunOne(bandwidth: 10);
        string eip = _f.AllocateOne();
        _f.Plane.AssociateAddress(eip, id);

        _f.Plane.ResetInternetMaxBandwidth([id], 0);

        Assert.Equal(_f.Address(eip).Address.Ip, _f.Instance(id).PublicIp);
    }

    [Fact]
    public void ResetBandwidth_FromZeroWithPoolEmpty_IsRefusedUnchanged()
    {
        string id = _f.RunOne(bandwidth: 0);
        Run(6, 1);

        _f.AssertRejected(ErrorCodes.ResourceInsufficient, () => _f.Plane.ResetInternetMaxBandwidth([id], 5));
    }

    [Fact]
    public void ResetBandwidth_UnknownInstance_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.InstanceIdNotFound, () => _f.Plane.ResetInternetMaxBandwidth(["ins-zzzzzzzz"], 5));

    [Fact]
    public void ReleasedPublicIp_IsHandedOutOnlyAfterEveryOtherFreeAddress()
    {
        string first = _f.RunOne();
        uint released = _f.Instance(first).PublicIp!.Value; // .1
        _f.Plane.TerminateInstances([first], false);

        // 5 other addresses are free: each goes out before the released one comes back.
        var next = Run(5, 1).Select(id => _f.Instance(id).PublicIp!.Value).ToList();
        Assert.DoesNotContain(released, next);
        string last = _f.RunOne();
        Assert.Equal(released, _f.Instance(last).PublicIp);
    }

    [Fact]
    public void ReleaseOrder_SurvivesARestart()
    {
        var ids = Run(3, 1);
        uint a = _f.Instance(ids[0]).PublicIp!.Value;
        uint b = _f.Instance(ids[1]).PublicIp!.Value;
        _f.Plane.TerminateInstances([ids[1]], false);
        _f.Plane.TerminateInstances([ids[0]], false);

        _f.Restart();

        // Never-used .4 .5 .6 first, then b (freed first), then a.
        var got = Run(5, 1).Select(id => _f.Instance(id).PublicIp!.Value).ToList();
        Assert.Equal([Ip("198.51.100.4"), Ip("198.51.100.5"), Ip("198.51.100.6"), b, a], got);
    }

    private IReadOnlyList<string> Run(int count, int bandwidth, IReadOnlyList<uint>? privateIps = null) =>
        _f.Plane.RunInstances(new RunInstancesCommand(count, bandwidth, null, "TRAFFIC_POSTPAID_BY_HOUR", privateIps, "web", "zone-1", "S5.SMALL1", "img-test"));
}

public abstract class ObserverTests(StoreUnderTest store)
{
    [Fact]
    public void AFailingObserver_DoesNotTurnAnAppliedChangeIntoAnError()
    {
        using var f = new ControlPlaneFixture(store: store);
        f.Plane.Changed += _ => throw new InvalidOperationException("observer bug");
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try
        {
            string id = f.RunOne();

            Assert.NotNull(f.Instance(id).PublicIp);
            Assert.Equal(1, f.Table.Count);
            Assert.Equal(2, f.Events.Count); // the other observer still saw both events
        }
        finally
        {
            Console.SetError(original);
        }
        Assert.Contains("observer bug", error.ToString(), StringComparison.Ordinal);
    }
}

public sealed class InstanceRulesTestsOnSqlite() : InstanceRulesTests(StoreUnderTest.Sqlite);

[Collection(EtcdFixture.Collection)]
public sealed class InstanceRulesTestsOnEtcd(EtcdFixture etcd) : InstanceRulesTests(etcd.Store);

public sealed class ObserverTestsOnSqlite() : ObserverTests(StoreUnderTest.Sqlite);

[Collection(EtcdFixture.Collection)]
public sealed class ObserverTestsOnEtcd(EtcdFixture etcd) : ObserverTests(etcd.Store);
