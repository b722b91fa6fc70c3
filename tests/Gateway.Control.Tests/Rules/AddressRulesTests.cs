using Gateway.DataPlane.Bindings;
using static Gateway.Control.Rules.Tests.ControlPlaneFixture;

namespace Gateway.Control.Rules.Tests;

public abstract class AddressRulesTests : IDisposable
{
    private readonly StoreUnderTest _store;
    private readonly ControlPlaneFixture _f;

    protected AddressRulesTests(StoreUnderTest store)
    {
        _store = store;
        _f = new(limits: new ControlPlaneLimits(EipQuota: 3), store: store);
    }

    public void Dispose()
    {
        _f.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public void AllocateAddresses_TakesPoolAddressesAsUnboundEips()
    {
        var (ids, taskId) = _f.Plane.AllocateAddresses(2, "office", 5, "TRAFFIC_POSTPAID_BY_HOUR");

        Assert.All(ids, id => Assert.Matches("^eip-[0-9a-z]{8}$", id));
        Assert.All(ids, id => Assert.Equal("UNBIND", _f.Address(id).Address.Status));
        Assert.Equal(4, _f.State.Pool.FreeCount);
        Assert.True(_f.Plane.TaskExists(taskId));
        Assert.Equal(0, _f.Table.Count);
    }

    [Fact]
    public void AllocateAddresses_BeyondTheQuota_IsRefusedUnchanged()
    {
        _f.Plane.AllocateAddresses(3, "", 1, "T");

        var e = _f.AssertRejected(ErrorCodes.AddressQuotaLimitExceeded, () => _f.AllocateOne());
        Assert.Contains("quota of 3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AllocateAddresses_ACountThatWouldCrossTheQuota_AllocatesNone()
    {
        _f.AllocateOne();

        _f.AssertRejected(ErrorCodes.AddressQuotaLimitExceeded, () => _f.Plane.AllocateAddresses(3, "", 1, "T"));
        Assert.Single(_f.Plane.ListAddresses());
    }

    [Fact]
    public void AllocateAddresses_PoolExhausted_IsRefusedUnchanged()
    {
        using var f = new ControlPlaneFixture(pools: ["203.0.113.8/31"], limits: new ControlPlaneLimits(EipQuota: 20), store: _store);
        f.Plane.AllocateAddresses(2, "", 1, "T");

        f.AssertRejected(ErrorCodes.ResourceInsufficient, () => f.AllocateOne());
    }

    [Fact]
    public void AllocateAddresses_QuotaCountsOnlyHeldEips()
    {
        var (ids, _) = _f.Plane.AllocateAddresses(3, "", 1, "T");
        _f.Plane.ReleaseAddresses([ids[0]]);

        _f.AllocateOne();

        Assert.Equal((3, 3), _f.Plane.AddressQuota());
    }

    [Fact]
    public void AssociateAddress_ReleasesTheInstancesOrdinaryPublicIpAndBindsTheEip()
    {
        string ins = _f.RunOne();
        uint ordinary = _f.Instance(ins).PublicIp!.Value;
        string eip = _f.AllocateOne();
        uint eipIp = _f.Address(eip).Address.Ip;
        _f.Events.Clear();

        _f.Plane.AssociateAddress(eip, ins);

        var view = _f.Instance(ins);
        Assert.Equal(eipIp, view.PublicIp);
        Assert.Null(view.Instance.OrdinaryPublicIp);
        Assert.Equal(eip, view.AddressId);
        Assert.Equal("BIND", _f.Address(eip).Address.Status);
        Assert.Equal(view.Instance.PrivateIp, _f.Address(eip).PrivateIp);
        Assert.True(_f.State.Pool.IsFree(ordinary));
        Assert.Equal(eipIp, _f.PublicIpInTable(view.Instance.PrivateIp));
        Assert.False(_f.Table.TryGetPrivate(ordinary, out _, out _));
        Assert.Equal(
            [new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressBound, view.Instance.PrivateIp, eipIp),
             new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressUnbound, view.Instance.PrivateIp, ordinary)],
            _f.Events);
    }

    [Fact]
    public void AssociateAddress_ToAnInstanceWithoutBandwidth_BindsTheEip()
    {
        string ins = _f.RunOne(bandwidth: 0);
        string eip = _f.AllocateOne();

        _f.Plane.AssociateAddress(eip, ins);

        Assert.Equal(_f.Address(eip).Address.Ip, _f.PublicIpInTable(_f.Instance(ins).Instance.PrivateIp));
    }

    [Fact]
    public void AssociateAddress_ABoundEip_IsRefusedUnchanged()
    {
        string a = _f.RunOne();
        string b = _f.RunOne();
        string eip = _f.AllocateOne();
        _f.Plane.AssociateAddress(eip, a);

        _f.AssertRejected(ErrorCodes.AddressIdStatusNotPermit, () => _f.Plane.AssociateAddress(eip, b));
    }

    [Fact]
    public void AssociateAddress_ToAnInstanceThatHasAnEip_IsRefusedUnchanged()
    {
        string ins = _f.RunOne();
        string first = _f.AllocateOne();
        string second = _f.AllocateOne();
        _f.Plane.AssociateAddress(first, ins);

        _f.AssertRejected(ErrorCodes.InstanceAlreadyBindEip, () => _f.Plane.AssociateAddress(second, ins));
    }

    [Fact]
    public void AssociateAddress_UnknownEip_IsRefusedUnchanged()
    {
        string ins = _f.RunOne();

        _f.AssertRejected(ErrorCodes.AddressIdNotFound, () => _f.Plane.AssociateAddress("eip-00000000", ins));
    }

    [Fact]
    public void AssociateAddress_MalformedEip_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.AddressIdMalformed, () => _f.Plane.AssociateAddress("eip-XYZ", "ins-00000000"));

    [Fact]
    public void AssociateAddress_UnknownInstance_IsRefusedUnchanged()
    {
        string eip = _f.AllocateOne();

        _f.AssertRejected(ErrorCodes.InstanceIdNotFound, () => _f.Plane.AssociateAddress(eip, "ins-00000000"));
    }

    [Fact]
    public void AssociateAddress_MalformedInstance_IsRefusedUnchanged()
    {
        string eip = _f.AllocateOne();

        _f.AssertRejected(ErrorCodes.InstanceIdMalformedVpc, () => _f.Plane.AssociateAddress(eip, "lb-1"));
    }

    [Fact]
    public void DisassociateAddress_GivesTheInstanceANewPublicIpNotTheReleasedOne()
    {
        string ins = _f.RunOne();
        uint original = _f.Instance(ins).PublicIp!.Value;
        string eip = _f.AllocateOne();
        uint eipIp = _f.Address(eip).Address.Ip;
        _f.Plane.AssociateAddress(eip, ins);
        _f.Events.Clear();

        _f.Plane.DisassociateAddress(eip, null);

        var view = _f.Instance(ins);
        Assert.NotNull(view.PublicIp);
        Assert.NotEqual(original, view.PublicIp);
        Assert.NotEqual(eipIp, view.PublicIp);
        Assert.Equal("UNBIND", _f.Address(eip).Address.Status);
        Assert.Null(_f.Address(eip).PrivateIp);
        Assert.Equal(view.PublicIp, _f.PublicIpInTable(view.Instance.PrivateIp));
        Assert.False(_f.Table.TryGetPrivate(eipIp, out _, out _));
        Assert.Equal(ControlPlaneEventKind.PublicAddressBound, _f.Events[0].Kind);
        Assert.Equal(new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressUnbound, view.Instance.PrivateIp, eipIp), _f.Events[1]);
    }

    [Fact]
    public void DisassociateAddress_FromAnInstanceWithoutBandwidth_LeavesItWithoutPublicIp()
    {
        string ins = _f.RunOne(bandwidth: 0);
        string eip = _f.AllocateOne();
        _f.Plane.AssociateAddress(eip, ins);

        _f.Plane.DisassociateAddress(eip, null);

        Assert.Null(_f.Instance(ins).PublicIp);
        Assert.Equal(0, _f.Table.Count);
    }

    [Fact]
    public void DisassociateAddress_WithReallocateFalse_LeavesTheInstanceWithoutPublicIp()
    {
        string ins = _f.RunOne();
        string eip = _f.AllocateOne();
        _f.Plane.AssociateAddress(eip, ins);

        _f.Plane.DisassociateAddress(eip, reallocateNormalPublicIp: false);

        Assert.Null(_f.Instance(ins).PublicIp);
        Assert.Equal(0, _f.Table.Count);
    }

    [Fact]
    public void DisassociateAddress_AnUnboundEip_IsRefusedUnchanged()
    {
        string eip = _f.AllocateOne();

        _f.AssertRejected(ErrorCodes.InvalidAddressState, () => _f.Plane.DisassociateAddress(eip, null));
    }

    [Fact]
    public void DisassociateAddress_UnknownEip_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.AddressIdNotFound, () => _f.Plane.DisassociateAddress("eip-00000000", null));

    [Fact]
    public void DisassociateAddress_WithThePoolExhausted_IsRefusedUnchanged()
    {
        using var f = new ControlPlaneFixture(pools: ["203.0.113.8/31"], store: _store); // 2 addresses
        string ins = f.RunOne();
        string eip = f.AllocateOne();
        f.Plane.AssociateAddress(eip, ins); // the instance's address is free again...
        f.RunOne(); // ...and taken by another instance.

        f.AssertRejected(ErrorCodes.ResourceInsufficient, () => f.Plane.DisassociateAddress(eip, null));
    }

    [Fact]
    public void ReleaseAddresses_ReturnsTheAddressesToThePool()
    {
        var (ids, _) = _f.Plane.AllocateAddresses(2, "", 1, "T");
        var ips = ids.Select(id => _f.Address(id).Address.Ip).ToList();

        _f.Plane.ReleaseAddresses(ids);

        Assert.Empty(_f.Plane.ListAddresses());
        Assert.All(ips, ip => Assert.True(_f.State.Pool.IsFree(ip)));
    }

    [Fact]
    public void ReleaseAddresses_ABoundEip_IsRefusedUnchanged()
    {
        string ins = _f.RunOne();
        string eip = _f.AllocateOne();
        _f.Plane.AssociateAddress(eip, ins);

        _f.AssertRejected(ErrorCodes.InvalidAddressState, () => _f.Plane.ReleaseAddresses([eip]));
    }

    [Fact]
    public void ReleaseAddresses_OneKnownOneUnknown_ReleasesNeither()
    {
        string eip = _f.AllocateOne();

        _f.AssertRejected(ErrorCodes.AddressIdNotFound, () => _f.Plane.ReleaseAddresses([eip, "eip-00000000"]));
        Assert.Single(_f.Plane.ListAddresses());
    }

    [Fact]
    public void ReleaseAddresses_Twice_IsNotFoundTheSecondTime()
    {
        string eip = _f.AllocateOne();
        _f.Plane.ReleaseAddresses([eip]);

        _f.AssertRejected(ErrorCodes.AddressIdNotFound, () => _f.Plane.ReleaseAddresses([eip]));
    }

    [Fact]
    public void ReleaseAddresses_Empty_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.MissingParameter, () => _f.Plane.ReleaseAddresses([]));

    [Fact]
    public void EipRebinding_NeverLeavesTheInstanceWithoutATranslation()
    {
        using var f = new ControlPlaneFixture(pools: ["198.51.100.0/24"], store: _store);
        string ins = f.RunOne();
        uint priv = f.Instance(ins).Instance.PrivateIp;
        string eip = f.AllocateOne();
        int misses = 0;
        bool stop = false;
        var reader = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                // The instance always leaves through some public address: old or new, never none.
                if (!f.Table.TryGetPublic(priv, out _, out _))
                {
                    Interlocked.Increment(ref misses);
                }
            }
        });
        reader.Start();

        for (int i = 0; i < 100; i++)
        {
            f.Plane.AssociateAddress(eip, ins);
            f.Plane.DisassociateAddress(eip, null);
        }
        Volatile.Write(ref stop, true);
        reader.Join();

        Assert.Equal(0, misses);
        Assert.Empty(f.Plane.CheckTableAgainstStore());
    }
}

public sealed class AddressRulesTestsOnSqlite() : AddressRulesTests(StoreUnderTest.Sqlite);

[Collection(EtcdFixture.Collection)]
public sealed class AddressRulesTestsOnEtcd(EtcdFixture etcd) : AddressRulesTests(etcd.Store);
