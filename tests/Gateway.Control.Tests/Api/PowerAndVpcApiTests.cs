using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Rules;

namespace Gateway.Control.Api.Tests;

/// <summary>
/// The power actions and the VPC reads on the wire: parameter names as the SDKs send them (StoppedMode, string Offset
/// and Limit for vpc Describe* calls), response shapes, and refusals that change nothing.
/// </summary>
public sealed class PowerAndVpcApiTests : IAsyncLifetime
{
    private readonly ApiFixture _f = new();

    public Task InitializeAsync() => _f.InitializeAsync();

    public Task DisposeAsync() => _f.DisposeAsync();

    private Task<JsonElement> Cvm(string action, JsonObject? p = null) => _f.Client.CallAsync("cvm", action, p);

    private Task<JsonElement> Vpc(string action, JsonObject? p = null) => _f.Client.CallAsync("vpc", action, p);

    private async Task<string> ErrorOf(Func<Task> call) => (await Assert.ThrowsAsync<ApiErrorException>(call)).Code;

    private async Task<JsonElement> Instance(string id) =>
        (await Cvm("DescribeInstances", new JsonObject { ["InstanceIds"] = new JsonArray(id) })).GetProperty("InstanceSet")[0];

    private async Task<string> RunOne(int bandwidth = 10) =>
        (await Cvm("RunInstances", new JsonObject { ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = bandwidth } }))
            .GetProperty("InstanceIdSet")[0].GetString()!;

    private static JsonArray Ids(params string[] ids) => new([.. ids.Select(i => (JsonNode)i)]);

    /// <summary>Everything a client can see, to prove a refusal changed nothing.</summary>
    private Task<string> Everything() => Hardening.Tests.StateProbe.DescribeEverythingAsync(_f.Client);

    private async Task AssertRefusedUnchanged(string code, Func<Task> call)
    {
        string before = await Everything();
        Assert.Equal(code, await ErrorOf(call));
        Assert.Equal(before, await Everything());
        Assert.Empty(_f.Host.CheckTableAgainstStore());
    }

    [Fact]
    public async Task StopAndStart_ShowStateStopChargingModeAndLatestOperation()
    {
        string id = await RunOne();
        var running = await Instance(id);
        Assert.Equal("RUNNING", running.GetProperty("InstanceState").GetString());
        Assert.Equal("NOT_APPLICABLE", running.GetProperty("StopChargingMode").GetString());
        string first = running.GetProperty("PublicIpAddresses")[0].GetString()!;

        await Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(id), ["StopType"] = "SOFT", ["StoppedMode"] = "STOP_CHARGING" });

        var stopped = await Instance(id);
        Assert.Equal("STOPPED", stopped.GetProperty("InstanceState").GetString());
        Assert.Equal("STOP_CHARGING", stopped.GetProperty("StopChargingMode").GetString());
        Assert.Equal(JsonValueKind.Null, stopped.GetProperty("PublicIpAddresses").ValueKind);
        Assert.Equal("StopInstances", stopped.GetProperty("LatestOperation").GetString());
        Assert.Equal("SUCCESS", stopped.GetProperty("LatestOperationState").GetString());
        Assert.Matches("^[0-9a-f-]{36}$", stopped.GetProperty("LatestOperationRequestId").GetString());
        Assert.Empty(_f.Host.Bindings.Snapshot());

        var status = await Cvm("DescribeInstancesStatus", new JsonObject { ["InstanceIds"] = Ids(id) });
        Assert.Equal(1, status.GetProperty("TotalCount").GetInt32());
        Assert.Equal(id, status.GetProperty("InstanceStatusSet")[0].GetProperty("InstanceId").GetString());
        Assert.Equal("STOPPED", status.GetProperty("InstanceStatusSet")[0].GetProperty("InstanceState").GetString());

        var filtered = await Cvm("DescribeInstances", new JsonObject { ["Filters"] = new JsonArray(new JsonObject { ["Name"] = "instance-state", ["Values"] = new JsonArray("STOPPED") }) });
        Assert.Equal(1, filtered.GetProperty("TotalCount").GetInt32());

        await Cvm("StartInstances", new JsonObject { ["InstanceIds"] = Ids(id) });

        var started = await Instance(id);
        Assert.Equal("RUNNING", started.GetProperty("InstanceState").GetString());
        Assert.NotEqual(first, started.GetProperty("PublicIpAddresses")[0].GetString());
        Assert.Single(_f.Host.Bindings.Snapshot());
    }

    [Fact]
    public async Task StopInstances_DefaultsToKeepCharging_AndAcceptsStopChargingModeAsASynonym()
    {
        string a = await RunOne();
        string b = await RunOne();
        await Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(a) });
        await Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(b), ["StopChargingMode"] = "STOP_CHARGING" });

        Assert.Equal("KEEP_CHARGING", (await Instance(a)).GetProperty("StopChargingMode").GetString());
        Assert.Equal(JsonValueKind.Array, (await Instance(a)).GetProperty("PublicIpAddresses").ValueKind);
        Assert.Equal("STOP_CHARGING", (await Instance(b)).GetProperty("StopChargingMode").GetString());
    }

    [Fact]
    public async Task PowerRefusals_CarryTheCloudsCodes_AndChangeNothing()
    {
        string id = await RunOne();
        await AssertRefusedUnchanged("UnsupportedOperation.InstanceStateRunning", () => Cvm("StartInstances", new JsonObject { ["InstanceIds"] = Ids(id) }));
        await AssertRefusedUnchanged(ErrorCodes.InvalidParameterValue, () => Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(id), ["StoppedMode"] = "FREE" }));
        await AssertRefusedUnchanged(ErrorCodes.InvalidParameterValue, () => Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(id), ["StopType"] = "NOW" }));
        await AssertRefusedUnchanged(ErrorCodes.InvalidParameterConflict, () => Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(id), ["StopType"] = "HARD", ["ForceStop"] = true }));
        await AssertRefusedUnchanged(ErrorCodes.InvalidParameterConflict, () => Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(id), ["StoppedMode"] = "KEEP_CHARGING", ["StopChargingMode"] = "STOP_CHARGING" }));
        await AssertRefusedUnchanged(ErrorCodes.InstanceIdNotFound, () => Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(id, "ins-zzzzzzzz") }));
        await AssertRefusedUnchanged(ErrorCodes.MissingParameter, () => Cvm("RebootInstances", []));
        await Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(id) });
        await AssertRefusedUnchanged("UnsupportedOperation.InstanceStateStopped", () => Cvm("RebootInstances", new JsonObject { ["InstanceIds"] = Ids(id) }));
        await AssertRefusedUnchanged("UnsupportedOperation.InstanceStateStopped", () => Cvm("StopInstances", new JsonObject { ["InstanceIds"] = Ids(id) }));
    }

    [Fact]
    public async Task ModifyInstancesAttribute_RenamesAndRefusesWhatItDoesNotEmulate()
    {
        string id = await RunOne();
        await Cvm("ModifyInstancesAttribute", new JsonObject { ["InstanceIds"] = Ids(id), ["InstanceName"] = "renamed" });
        Assert.Equal("renamed", (await Instance(id)).GetProperty("InstanceName").GetString());

        await AssertRefusedUnchanged(ErrorCodes.InstanceNameTooLong, () => Cvm("ModifyInstancesAttribute", new JsonObject { ["InstanceIds"] = Ids(id), ["InstanceName"] = new string('x', 61) }));
        await AssertRefusedUnchanged(ErrorCodes.MissingParameterAtLeastOne, () => Cvm("ModifyInstancesAttribute", new JsonObject { ["InstanceIds"] = Ids(id) }));
        await AssertRefusedUnchanged(ErrorCodes.UnsupportedOperation, () => Cvm("ModifyInstancesAttribute", new JsonObject { ["InstanceIds"] = Ids(id), ["InstanceName"] = "a", ["SecurityGroups"] = new JsonArray("sg-12345678") }));
    }

    [Fact]
    public async Task ModifyAddressAttribute_RenamesAnEip()
    {
        var allocated = await Vpc("AllocateAddresses", new JsonObject { ["AddressCount"] = 1 });
        string eip = allocated.GetProperty("AddressSet")[0].GetString()!;

        await Vpc("ModifyAddressAttribute", new JsonObject { ["AddressId"] = eip, ["AddressName"] = "web-eip" });

        var described = await Vpc("DescribeAddresses", new JsonObject { ["Filters"] = new JsonArray(new JsonObject { ["Name"] = "address-name", ["Values"] = new JsonArray("web-eip") }) });
        Assert.Equal(eip, described.GetProperty("AddressSet")[0].GetProperty("AddressId").GetString());
        await AssertRefusedUnchanged(ErrorCodes.AddressIdNotFound, () => Vpc("ModifyAddressAttribute", new JsonObject { ["AddressId"] = "eip-zzzzzzzz", ["AddressName"] = "x" }));
        await AssertRefusedUnchanged(ErrorCodes.InvalidParameterValueTooLong, () => Vpc("ModifyAddressAttribute", new JsonObject { ["AddressId"] = eip, ["AddressName"] = new string('x', 129) }));
        await AssertRefusedUnchanged(ErrorCodes.UnsupportedOperation, () => Vpc("ModifyAddressAttribute", new JsonObject { ["AddressId"] = eip, ["EipDirectConnection"] = "TRUE" }));
    }

    [Fact]
    public async Task DescribeVpcsAndSubnets_ShowTheDaemonsVpcAndSubnet_AsTheSdkAsksForThem()
    {
        var vpcs = await Vpc("DescribeVpcs", new JsonObject { ["Offset"] = "0", ["Limit"] = "20" });
        Assert.Equal(1, vpcs.GetProperty("TotalCount").GetInt32());
        var vpc = vpcs.GetProperty("VpcSet")[0];
        Assert.Equal(_f.Host.VpcId, vpc.GetProperty("VpcId").GetString());
        Assert.Equal("10.1.0.0/24", vpc.GetProperty("CidrBlock").GetString());
        Assert.True(vpc.GetProperty("IsDefault").GetBoolean());
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", vpc.GetProperty("CreatedTime").GetString());

        await RunOne();
        var subnets = await Vpc("DescribeSubnets", new JsonObject
        {
            ["Filters"] = new JsonArray(new JsonObject { ["Name"] = "vpc-id", ["Values"] = new JsonArray(_f.Host.VpcId) }),
        });
        var subnet = subnets.GetProperty("SubnetSet")[0];
        Assert.Equal(_f.Host.SubnetId, subnet.GetProperty("SubnetId").GetString());
        Assert.Equal("10.1.0.0/24", subnet.GetProperty("CidrBlock").GetString());
        Assert.Equal("ap-guangzhou-1", subnet.GetProperty("Zone").GetString());
        Assert.Equal(253, subnet.GetProperty("TotalIpAddressCount").GetInt32());
        Assert.Equal(252, subnet.GetProperty("AvailableIpAddressCount").GetInt32());

        // The subnet the SDK found is the one RunInstances takes.
        var run = await Cvm("RunInstances", new JsonObject
        {
            ["VirtualPrivateCloud"] = new JsonObject { ["VpcId"] = vpc.GetProperty("VpcId").GetString(), ["SubnetId"] = subnet.GetProperty("SubnetId").GetString() },
        });
        Assert.Single(run.GetProperty("InstanceIdSet").EnumerateArray());

        Assert.Equal(1, (await Vpc("DescribeSubnets", new JsonObject { ["SubnetIds"] = Ids(_f.Host.SubnetId) })).GetProperty("TotalCount").GetInt32());
        Assert.Equal(1, (await Vpc("DescribeVpcs", new JsonObject { ["VpcIds"] = Ids(_f.Host.VpcId), ["Limit"] = 5 })).GetProperty("TotalCount").GetInt32());
        Assert.Equal(0, (await Vpc("DescribeVpcs", new JsonObject { ["Filters"] = new JsonArray(new JsonObject { ["Name"] = "is-default", ["Values"] = new JsonArray("false") }) })).GetProperty("TotalCount").GetInt32());
        Assert.Equal(1, (await Vpc("DescribeVpcs", new JsonObject { ["Filters"] = new JsonArray(new JsonObject { ["Name"] = "vpc-name", ["Values"] = new JsonArray("default") }) })).GetProperty("TotalCount").GetInt32());
        Assert.Equal(0, (await Vpc("DescribeSubnets", new JsonObject { ["Filters"] = new JsonArray(new JsonObject { ["Name"] = "zone", ["Values"] = new JsonArray("ap-guangzhou-7") }) })).GetProperty("TotalCount").GetInt32());
    }

    [Theory]
    [InlineData("DescribeVpcs", """{"VpcIds":["vpc-12345678"],"Filters":[{"Name":"vpc-id","Values":["vpc-12345678"]}]}""", ErrorCodes.ParameterCoexist)]
    [InlineData("DescribeVpcs", """{"VpcIds":["vpc-1"]}""", ErrorCodes.ValueMalformed)]
    [InlineData("DescribeVpcs", """{"VpcIds":["vpc-zzzzzzzz"]}""", ErrorCodes.ResourceNotFound)]
    [InlineData("DescribeVpcs", """{"Filters":[{"Name":"colour","Values":["red"]}]}""", ErrorCodes.FilterInvalidKey)]
    [InlineData("DescribeVpcs", """{"Limit":"many"}""", ErrorCodes.InvalidParameterValue)]
    [InlineData("DescribeVpcs", """{"Limit":"101"}""", ErrorCodes.InvalidParameterValueRange)]
    [InlineData("DescribeSubnets", """{"SubnetIds":["subnet-12345678"],"Filters":[{"Name":"zone","Values":["z"]}]}""", ErrorCodes.ParameterCoexist)]
    [InlineData("DescribeSubnets", """{"SubnetIds":["sub-12345678"]}""", ErrorCodes.ValueMalformed)]
    [InlineData("DescribeSubnets", """{"Filters":[{"Name":"available-ip","Values":["1"]}]}""", ErrorCodes.FilterInvalidKey)]
    [InlineData("DescribeSubnets", """{"Offset":"-1"}""", ErrorCodes.InvalidParameterValueRange)]
    public async Task BadVpcReads_AreRefusedWithTheCloudsCodes(string action, string body, string code)
    {
        var (_, envelope) = await _f.SendAsync(new ApiFixture.Raw { Action = action, Body = System.Text.Encoding.UTF8.GetBytes(body) });
        Assert.Equal(code, envelope.GetProperty("Error").GetProperty("Code").GetString());
    }

    [Fact]
    public async Task DescribeZones_ListsTheSubnetsZone()
    {
        var zones = await Cvm("DescribeZones");
        Assert.Equal(1, zones.GetProperty("TotalCount").GetInt32());
        var zone = zones.GetProperty("ZoneSet")[0];
        Assert.Equal("ap-guangzhou-1", zone.GetProperty("Zone").GetString());
        Assert.Equal("AVAILABLE", zone.GetProperty("ZoneState").GetString());
        Assert.Equal("100001", zone.GetProperty("ZoneId").GetString());
        Assert.Equal("Guangzhou Zone 1", zone.GetProperty("ZoneName").GetString());
    }
}
