using Gateway.DataPlane.Policing;
using static Gateway.Control.Rules.Tests.ControlPlaneFixture;

namespace Gateway.Control.Rules.Tests;

/// <summary>
/// Caps follow the control plane into the policer before a request returns: RunInstances, ResetInstancesInternetMaxBandwidth
/// and EIP association; out-of-range values are refused with the cloud's codes and change nothing (caps included).
/// </summary>
public sealed class CapsRulesTests : IDisposable
{
    private readonly ControlPlaneFixture _f = new();

    public void Dispose() => _f.Dispose();

    private string Run(int bandwidth, string chargeType = "TRAFFIC_POSTPAID_BY_HOUR") =>
        _f.Plane.RunInstances(new RunInstancesCommand(1, bandwidth, null, chargeType, null, "", "zone-1", "S5.SMALL1", "img")).Single();

    private BandwidthCaps CapsOf(string instanceId) => _f.CapsInPolicer(_f.Instance(instanceId).PublicIp!.Value);

    [Theory]
    [InlineData("TRAFFIC_POSTPAID_BY_HOUR", 5, 5, 10)]
    [InlineData("TRAFFIC_POSTPAID_BY_HOUR", 10, 10, 10)]
    [InlineData("TRAFFIC_POSTPAID_BY_HOUR", 20, 20, 20)]
    [InlineData("BANDWIDTH_POSTPAID_BY_HOUR", 1, 1, 10)]
    [InlineData("BANDWIDTH_POSTPAID_BY_HOUR", 100, 100, 100)]
    [InlineData("BANDWIDTH_PACKAGE", 5, 5, 5)]
    [InlineData("BANDWIDTH_PACKAGE", 2000, 2000, 2000)]
    public void RunInstances_GivesTheBindingItsCaps_InboundByTheChargeTypesRule(string chargeType, int outMbps, int expectedOut, int expectedIn)
    {
        string id = Run(outMbps, chargeType);
        Assert.Equal(BandwidthCaps.FromMbps(expectedOut, expectedIn), CapsOf(id));
        Assert.Contains(_f.FullEvents, e => e.Kind == ControlPlaneEventKind.PublicAddressBound && e.InstanceId == id && e.Caps == BandwidthCaps.FromMbps(expectedOut, expectedIn) && e.BindingId >= 0);
    }

    [Theory]
    [InlineData("TRAFFIC_POSTPAID_BY_HOUR", 101)]
    [InlineData("BANDWIDTH_POSTPAID_BY_HOUR", 101)]
    [InlineData("BANDWIDTH_PACKAGE", 2001)]
    [InlineData("BANDWIDTH_PREPAID", 201)]
    [InlineData("TRAFFIC_POSTPAID_BY_HOUR", -1)]
    public void RunInstances_OutOfItsChargeTypesRange_IsRefusedUnchanged(string chargeType, int bandwidth)
    {
        Run(5);
        var e = _f.AssertRejected(ErrorCodes.InvalidParameterValueRange, () => Run(bandwidth, chargeType));
        Assert.Contains(chargeType, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunInstances_AnUnknownChargeType_IsRefusedUnchanged() =>
        _f.AssertRejected(ErrorCodes.InvalidParameterValue, () => Run(5, "BY_THE_MINUTE"));

    [Fact]
    public void ResetBandwidth_ChangesTheCapsBeforeItReturns_SameBinding()
    {
        string id = Run(20);
        uint publicIp = _f.Instance(id).PublicIp!.Value;
        Assert.True(_f.Table.TryGetPrivate(publicIp, out _, out int bindingId));
        _f.Plane.ResetInternetMaxBandwidth([id], 50);
        Assert.Equal(BandwidthCaps.FromMbps(50, 50), _f.Policer.CapsOf(bindingId));
        var changed = Assert.Single(_f.FullEvents, e => e.Kind == ControlPlaneEventKind.CapsChanged);
        Assert.Equal((bindingId, id, publicIp), (changed.BindingId, changed.InstanceId, changed.PublicAddress));

        _f.Plane.ResetInternetMaxBandwidth([id], 3);
        Assert.Equal(BandwidthCaps.FromMbps(3, 10), _f.Policer.CapsOf(bindingId));
    }

    [Fact]
    public void ResetBandwidth_OutOfTheInstancesRange_IsRefusedUnchanged_EvenWhenAnotherInstanceCouldTakeIt()
    {
        string package = Run(500, "BANDWIDTH_PACKAGE");
        string traffic = Run(20);
        _f.Plane.ResetInternetMaxBandwidth([package], 1500);
        Assert.Equal(BandwidthCaps.FromMbps(1500, 1500), CapsOf(package));
        var e = _f.AssertRejected(ErrorCodes.InvalidParameterValueRange, () => _f.Plane.ResetInternetMaxBandwidth([package, traffic], 150));
        Assert.Contains(traffic, e.Message, StringComparison.Ordinal);
        Assert.Equal(BandwidthCaps.FromMbps(20, 20), CapsOf(traffic));
    }

    [Fact]
    public void AnEipMovedToAnotherInstance_TakesThatInstancesCaps()
    {
        string slow = Run(5);
        string fast = Run(20, "BANDWIDTH_PACKAGE");
        string eip = _f.AllocateOne();
        uint eipIp = _f.Address(eip).Address.Ip;

        _f.Plane.AssociateAddress(eip, slow);
        Assert.Equal(BandwidthCaps.FromMbps(5, 10), _f.CapsInPolicer(eipIp));
        _f.Plane.DisassociateAddress(eip, reallocateNormalPublicIp: true);
        Assert.Equal(BandwidthCaps.Unlimited, _f.CapsInPolicer(eipIp));
        Assert.Equal(BandwidthCaps.FromMbps(5, 10), CapsOf(slow)); // its new ordinary address
        _f.Plane.AssociateAddress(eip, fast);
        Assert.Equal(BandwidthCaps.FromMbps(20, 20), _f.CapsInPolicer(eipIp));
    }

    [Fact]
    public void AnInstanceWithoutBandwidth_ReachedThroughAnEip_TakesTheEipsBandwidth()
    {
        string id = Run(0);
        var (ids, _) = _f.Plane.AllocateAddresses(1, "", 7, "TRAFFIC_POSTPAID_BY_HOUR");
        _f.Plane.AssociateAddress(ids[0], id);
        Assert.Equal(BandwidthCaps.FromMbps(7, 10), _f.CapsInPolicer(_f.Address(ids[0]).Address.Ip));
    }

    [Fact]
    public void AllocateAddresses_OutOfRange_IsRefusedWithTheVpcCode() =>
        _f.AssertRejected(ErrorCodes.BandwidthOutOfRange, () => _f.Plane.AllocateAddresses(1, "", 101, "TRAFFIC_POSTPAID_BY_HOUR"));

    [Fact]
    public void Restart_LoadsEveryBindingsCaps()
    {
        string a = Run(5);
        string b = Run(300, "BANDWIDTH_PACKAGE");
        _f.Restart();
        Assert.Equal(BandwidthCaps.FromMbps(5, 10), CapsOf(a));
        Assert.Equal(BandwidthCaps.FromMbps(300, 300), CapsOf(b));
    }
}
