using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Rules;

namespace Gateway.Control.Api.Tests;

/// <summary>The vpc and cvm actions through the signed API: field names, ids, statuses and error codes on the wire.</summary>
public sealed class ApiActionsTests : IAsyncLifetime
{
    private readonly ApiFixture _f = new();

    public Task InitializeAsync() => _f.InitializeAsync();

    public Task DisposeAsync() => _f.DisposeAsync();

    private Task<JsonElement> Cvm(string action, JsonObject? p = null) => _f.Client.CallAsync("cvm", action, p);

    private Task<JsonElement> Vpc(string action, JsonObject? p = null) => _f.Client.CallAsync("vpc", action, p);

    private async Task<string> ErrorOf(Func<Task> call) => (await Assert.ThrowsAsync<ApiErrorException>(call)).Code;

    private async Task<JsonElement> Instance(string id) =>
        (await Cvm("DescribeInstances", new JsonObject { ["InstanceIds"] = new JsonArray(id) })).GetProperty("InstanceSet")[0];

    private async Task<JsonElement> Address(string id) =>
        (await Vpc("DescribeAddresses", new JsonObject { ["AddressIds"] = new JsonArray(id) })).GetProperty("AddressSet")[0];

    private async Task<string> RunOne(int bandwidth)
    {
        var r = await Cvm("RunInstances", new JsonObject
        {
            ["InstanceCount"] = 1,
            ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = bandwidth, ["InternetChargeType"] = "TRAFFIC_POSTPAID_BY_HOUR" },
        });
        return r.GetProperty("InstanceIdSet")[0].GetString()!;
    }

    [Fact]
    public async Task Lifecycle_RunAssociateDisassociateReleaseTerminate()
    {
        string ins = await RunOne(10);
        var described = await Instance(ins);
        Assert.Equal("RUNNING", described.GetProperty("InstanceState").GetString());
        Assert.StartsWith("10.1.0.", described.GetProperty("PrivateIpAddresses")[0].GetString(), StringComparison.Ordinal);
        string first = described.GetProperty("PublicIpAddresses")[0].GetString()!;
        Assert.Equal(10, described.GetProperty("InternetAccessible").GetProperty("InternetMaxBandwidthOut").GetInt32());
        Assert.StartsWith("vpc-", described.GetProperty("VirtualPrivateCloud").GetProperty("VpcId").GetString(), StringComparison.Ordinal);

        var allocated = await Vpc("AllocateAddresses", new JsonObject { ["AddressCount"] = 1 });
        string eip = allocated.GetProperty("AddressSet")[0].GetString()!;
        string allocateTask = allocated.GetProperty("TaskId").GetString()!;
        Assert.Equal("SUCCESS", (await Vpc("DescribeTaskResult", new JsonObject { ["TaskId"] = long.Parse(allocateTask) })).GetProperty("Result").GetString());
        var address = await Address(eip);
        Assert.Equal("UNBIND", address.GetProperty("AddressStatus").GetString());
        Assert.Equal(JsonValueKind.Null, address.GetProperty("InstanceId").ValueKind);
        string eipIp = address.GetProperty("AddressIp").GetString()!;

        await Vpc("AssociateAddress", new JsonObject { ["AddressId"] = eip, ["InstanceId"] = ins });
        described = await Instance(ins);
        Assert.Equal(eipIp, described.GetProperty("PublicIpAddresses")[0].GetString());
        address = await Address(eip);
        Assert.Equal("BIND", address.GetProperty("AddressStatus").GetString());
        Assert.Equal(ins, address.GetProperty("InstanceId").GetString());
        Assert.Equal(described.GetProperty("PrivateIpAddresses")[0].GetString(), address.GetProperty("PrivateAddressIp").GetString());
        // The released ordinary address no longer translates.
        Assert.Empty((await Cvm("DescribeInstances", Filter("public-ip-address", first))).GetProperty("InstanceSet").EnumerateArray());

        await Vpc("DisassociateAddress", new JsonObject { ["AddressId"] = eip });
        described = await Instance(ins);
        string second = described.GetProperty("PublicIpAddresses")[0].GetString()!;
        Assert.NotEqual(first, second);
        Assert.NotEqual(eipIp, second);

        await Vpc("ReleaseAddresses", new JsonObject { ["AddressIds"] = new JsonArray(eip) });
        Assert.Equal(0, (await Vpc("DescribeAddresses")).GetProperty("TotalCount").GetInt32());

        await Cvm("TerminateInstances", new JsonObject { ["InstanceIds"] = new JsonArray(ins) });
        Assert.Equal(0, (await Cvm("DescribeInstances")).GetProperty("TotalCount").GetInt32());
        Assert.Equal(0, _f.Host.Bindings.Count);
        Assert.Empty(_f.Host.CheckTableAgainstStore());
    }

    [Fact]
    public async Task DescribeAddresses_FiltersAndPages()
    {
        string ins = await RunOne(1);
        var ids = (await Vpc("AllocateAddresses", new JsonObject { ["AddressCount"] = 3 })).GetProperty("AddressSet").EnumerateArray().Select(e => e.GetString()!).ToList();
        await Vpc("AssociateAddress", new JsonObject { ["AddressId"] = ids[1], ["InstanceId"] = ins });
        string privateIp = (await Instance(ins)).GetProperty("PrivateIpAddresses")[0].GetString()!;
        string ip0 = (await Address(ids[0])).GetProperty("AddressIp").GetString()!;

        Assert.Equal([ids[1]], await Ids(Filter("address-status", "BIND")));
        Assert.Equal([ids[0], ids[2]], await Ids(Filter("address-status", "UNBIND")));
        Assert.Equal([ids[1]], await Ids(Filter("instance-id", ins)));
        Assert.Equal([ids[1]], await Ids(Filter("private-ip-address", privateIp)));
        Assert.Equal([ids[0]], await Ids(Filter("address-ip", ip0)));
        Assert.Equal([ids[0], ids[2]], await Ids(Filter("address-id", ids[0], ids[2])));
        Assert.Equal([ids[1], ids[2]], await Ids(new JsonObject { ["Offset"] = 1, ["Limit"] = 5 }));
        Assert.Equal([ids[0]], await Ids(new JsonObject { ["Limit"] = 1 }));
        var page = await Vpc("DescribeAddresses", new JsonObject { ["Limit"] = 1 });
        Assert.Equal(3, page.GetProperty("TotalCount").GetInt32());
        Assert.Empty(await Ids(new JsonObject { ["AddressIds"] = new JsonArray("eip-00000000") }));
        Assert.Equal(ErrorCodes.FilterInvalidKey, await ErrorOf(() => Vpc("DescribeAddresses", Filter("colour", "red"))));
        Assert.Equal(ErrorCodes.AddressIdMalformed, await ErrorOf(() => Vpc("DescribeAddresses", new JsonObject { ["AddressIds"] = new JsonArray("nope") })));
    }

    [Fact]
    public async Task DescribeInstances_FiltersByAddresses()
    {
        string a = await RunOne(1);
        string b = await RunOne(0);
        var va = await Instance(a);

        Assert.Equal([a], await InstanceIds(Filter("public-ip-address", va.GetProperty("PublicIpAddresses")[0].GetString()!)));
        Assert.Equal([b], await InstanceIds(Filter("private-ip-address", (await Instance(b)).GetProperty("PrivateIpAddresses")[0].GetString()!)));
        Assert.Equal([a, b], await InstanceIds(Filter("instance-id", a, b)));
        Assert.Equal(JsonValueKind.Null, (await Instance(b)).GetProperty("PublicIpAddresses").ValueKind);
        Assert.Empty(await InstanceIds(new JsonObject { ["InstanceIds"] = new JsonArray("ins-00000000") }));
        Assert.Equal(ErrorCodes.InvalidFilter, await ErrorOf(() => Cvm("DescribeInstances", Filter("colour", "red"))));
    }

    [Fact]
    public async Task RunInstances_WithPrivateIpAddresses_UsesThem()
    {
        var r = await Cvm("RunInstances", new JsonObject
        {
            ["InstanceCount"] = 2,
            ["VirtualPrivateCloud"] = new JsonObject { ["VpcId"] = "DEFAULT", ["SubnetId"] = "DEFAULT", ["PrivateIpAddresses"] = new JsonArray("10.1.0.50", "10.1.0.51") },
        });
        var ids = r.GetProperty("InstanceIdSet").EnumerateArray().Select(e => e.GetString()!).ToList();

        Assert.Equal("10.1.0.50", (await Instance(ids[0])).GetProperty("PrivateIpAddresses")[0].GetString());
        Assert.Equal("10.1.0.51", (await Instance(ids[1])).GetProperty("PrivateIpAddresses")[0].GetString());
        Assert.Equal(ErrorCodes.VpcIpIsUsed, await ErrorOf(() => Cvm("RunInstances", new JsonObject
        {
            ["VirtualPrivateCloud"] = new JsonObject { ["PrivateIpAddresses"] = new JsonArray("10.1.0.50") },
        })));
        Assert.Equal(ErrorCodes.InvalidIpFormat, await ErrorOf(() => Cvm("RunInstances", new JsonObject
        {
            ["VirtualPrivateCloud"] = new JsonObject { ["PrivateIpAddresses"] = new JsonArray("10.1.0") },
        })));
    }

    [Fact]
    public async Task ErrorCodes_OfTheRulesReachTheWire()
    {
        string ins = await RunOne(1);
        string eip = (await Vpc("AllocateAddresses")).GetProperty("AddressSet")[0].GetString()!;
        await Vpc("AssociateAddress", new JsonObject { ["AddressId"] = eip, ["InstanceId"] = ins });

        Assert.Equal(ErrorCodes.InvalidAddressState, await ErrorOf(() => Vpc("ReleaseAddresses", new JsonObject { ["AddressIds"] = new JsonArray(eip) })));
        Assert.Equal(ErrorCodes.AddressIdStatusNotPermit, await ErrorOf(() => Vpc("AssociateAddress", new JsonObject { ["AddressId"] = eip, ["InstanceId"] = ins })));
        Assert.Equal(ErrorCodes.AddressIdNotFound, await ErrorOf(() => Vpc("DisassociateAddress", new JsonObject { ["AddressId"] = "eip-00000000" })));
        Assert.Equal(ErrorCodes.InstanceIdNotFound, await ErrorOf(() => Cvm("TerminateInstances", new JsonObject { ["InstanceIds"] = new JsonArray("ins-00000000") })));
        Assert.Equal(ErrorCodes.MissingParameter, await ErrorOf(() => Vpc("AssociateAddress", new JsonObject { ["AddressId"] = eip })));
        Assert.Equal(ErrorCodes.UnsupportedOperation, await ErrorOf(() => Vpc("AssociateAddress", new JsonObject { ["AddressId"] = eip, ["NetworkInterfaceId"] = "eni-12345678" })));
        Assert.Equal(ErrorCodes.AddressQuotaLimitExceeded, await ErrorOf(() => Vpc("AllocateAddresses", new JsonObject { ["AddressCount"] = 3 })));
        Assert.Equal(ErrorCodes.ResourceNotFound, await ErrorOf(() => Vpc("DescribeTaskResult", new JsonObject { ["TaskId"] = 999999 })));
        Assert.Equal(ErrorCodes.SubnetNotExist, await ErrorOf(() => Cvm("RunInstances", new JsonObject { ["VirtualPrivateCloud"] = new JsonObject { ["SubnetId"] = "subnet-zzzzzzzz" } })));
        Assert.Equal("DryRunOperation", await ErrorOf(() => Cvm("RunInstances", new JsonObject { ["DryRun"] = true })));
        Assert.Single((await Cvm("DescribeInstances")).GetProperty("InstanceSet").EnumerateArray());
    }

    [Fact]
    public async Task DescribeAddressQuota_CountsHeldEips()
    {
        await Vpc("AllocateAddresses", new JsonObject { ["AddressCount"] = 2 });

        var quota = (await Vpc("DescribeAddressQuota")).GetProperty("QuotaSet")[0];

        Assert.Equal("TOTAL_EIP_QUOTA", quota.GetProperty("QuotaId").GetString());
        Assert.Equal(2, quota.GetProperty("QuotaCurrent").GetInt32());
        Assert.Equal(3, quota.GetProperty("QuotaLimit").GetInt32());
    }

    [Fact]
    public async Task ResetInstancesInternetMaxBandwidth_ToZeroAndBack()
    {
        string ins = await RunOne(5);

        await Cvm("ResetInstancesInternetMaxBandwidth", new JsonObject { ["InstanceIds"] = new JsonArray(ins), ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 0 } });
        Assert.Equal(JsonValueKind.Null, (await Instance(ins)).GetProperty("PublicIpAddresses").ValueKind);

        await Cvm("ResetInstancesInternetMaxBandwidth", new JsonObject { ["InstanceIds"] = new JsonArray(ins), ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 3 } });
        Assert.Equal(JsonValueKind.Array, (await Instance(ins)).GetProperty("PublicIpAddresses").ValueKind);
    }

    [Fact]
    public async Task ChangedEvents_ReachASubscriberOfTheHost()
    {
        var seen = new List<ControlPlaneEvent>();
        _f.Host.Changed += seen.Add;

        string ins = await RunOne(1);

        Assert.Equal(ControlPlaneEventKind.InstanceAdded, seen[0].Kind);
        Assert.Equal(ControlPlaneEventKind.PublicAddressBound, seen[1].Kind);
        Assert.Contains(seen[0].PrivateAddress, _f.Host.KnownPrivateAddresses());
        Assert.True(_f.Host.Bindings.TryGetPrivate(seen[1].PublicAddress, out uint priv, out _));
        Assert.Equal(seen[0].PrivateAddress, priv);
    }

    [Fact]
    public async Task ConcurrentRequests_NeverHandOutAnAddressTwice()
    {
        // 14 pool addresses, 20 concurrent RunInstances: 14 succeed with distinct addresses, 6 get ResourceInsufficient.
        var calls = Enumerable.Range(0, 20).Select(async _ =>
        {
            try
            {
                return await RunOne(1);
            }
            catch (ApiErrorException e) when (e.Code == ErrorCodes.ResourceInsufficient)
            {
                return null;
            }
        }).ToList();
        var ids = (await Task.WhenAll(calls)).OfType<string>().ToList();

        Assert.Equal(14, ids.Count);
        var all = (await Cvm("DescribeInstances", new JsonObject { ["Limit"] = 100 })).GetProperty("InstanceSet").EnumerateArray().ToList();
        Assert.Equal(14, all.Count); // refused requests created nothing
        Assert.Equal(14, all.Select(i => i.GetProperty("PublicIpAddresses")[0].GetString()).Distinct().Count());
        Assert.Equal(14, all.Select(i => i.GetProperty("PrivateIpAddresses")[0].GetString()).Distinct().Count());
        Assert.Equal(14, _f.Host.Bindings.Count);
        Assert.Empty(_f.Host.CheckTableAgainstStore());
    }

    private static JsonObject Filter(string name, params string[] values) =>
        new() { ["Filters"] = new JsonArray(new JsonObject { ["Name"] = name, ["Values"] = new JsonArray([.. values.Select(v => (JsonNode)v)]) }) };

    private async Task<List<string>> Ids(JsonObject p) =>
        (await Vpc("DescribeAddresses", p)).GetProperty("AddressSet").EnumerateArray().Select(e => e.GetProperty("AddressId").GetString()!).ToList();

    private async Task<List<string>> InstanceIds(JsonObject p) =>
        (await Cvm("DescribeInstances", p)).GetProperty("InstanceSet").EnumerateArray().Select(e => e.GetProperty("InstanceId").GetString()!).ToList();
}
