using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.Control.Api.Tests;
using Gateway.Control.Model;
using Gateway.Packets;

namespace Gateway.Control.Hosting.Tests;

/// <summary>State and bindings survive a clean stop and a kill -9 of the real daemon process.</summary>
public sealed class RestartTests : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "gw-restart-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new();

    public void Dispose()
    {
        _http.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    [Fact]
    public async Task CleanStop_ExitsZeroAndTheNextStartRestoresEverything()
    {
        string before;
        using (var daemon = await DaemonProcess.StartAsync(_state))
        {
            var c = daemon.Client(_http);
            await MakeSomeStateAsync(c);
            before = await DescribeAllAsync(c);
            Assert.Equal(0, await daemon.TerminateAsync());
            Assert.Contains("gateway: stopped", daemon.Output, StringComparison.Ordinal);
        }

        using (var daemon = await DaemonProcess.StartAsync(_state))
        {
            Assert.Equal(before, await DescribeAllAsync(daemon.Client(_http)));
            Assert.Equal(0, await daemon.TerminateAsync());
        }
        await AssertTableRebuiltFromDiskMatchesAsync(before);
    }

    [Fact]
    public async Task KillNine_LosesNoAcknowledgedChange()
    {
        var acknowledged = new List<string>();
        string before;
        using (var daemon = await DaemonProcess.StartAsync(_state, "--eip-quota", "200"))
        {
            var c = daemon.Client(_http);
            await MakeSomeStateAsync(c);
            before = await DescribeAllAsync(c);

            // Requests in flight when the process dies: the ones that were answered must all be there afterwards.
            var inFlight = Enumerable.Range(0, 40).Select(async _ =>
            {
                var r = await c.CallAsync("vpc", "AllocateAddresses");
                return r.GetProperty("AddressSet")[0].GetString()!;
            }).ToList();
            await Task.WhenAny(inFlight);
            daemon.KillHard();
            foreach (var t in inFlight)
            {
                try
                {
                    acknowledged.Add(await t);
                }
                catch (HttpRequestException)
                {
                    // Not acknowledged: the process died first. Either outcome is allowed for these.
                }
            }
            Assert.NotEmpty(acknowledged);
        }

        using (var daemon = await DaemonProcess.StartAsync(_state, "--eip-quota", "200"))
        {
            var c = daemon.Client(_http);
            var eips = (await c.CallAsync("vpc", "DescribeAddresses", new JsonObject { ["Limit"] = 100 })).GetProperty("AddressSet")
                .EnumerateArray().Select(a => a.GetProperty("AddressId").GetString()!).ToHashSet();
            Assert.Superset(acknowledged.ToHashSet(), eips);
            var instances = await c.CallAsync("cvm", "DescribeInstances", new JsonObject { ["Limit"] = 100 });
            Assert.Equal(JsonDocument.Parse(before).RootElement.GetProperty("instances").GetRawText(), instances.GetProperty("InstanceSet").GetRawText());
            Assert.Equal(0, await daemon.TerminateAsync());
        }
    }

    /// <summary>Opens the state in-process and checks that the table it loads holds exactly the bindings the API showed.</summary>
    private async Task AssertTableRebuiltFromDiskMatchesAsync(string described)
    {
        var expected = JsonDocument.Parse(described).RootElement.GetProperty("instances").EnumerateArray()
            .Where(i => i.GetProperty("PublicIpAddresses").ValueKind == JsonValueKind.Array)
            .Select(i => $"{i.GetProperty("PublicIpAddresses")[0].GetString()} <-> {i.GetProperty("PrivateIpAddresses")[0].GetString()}")
            .Order(StringComparer.Ordinal).ToList();
        await using var host = await GatewayHost.StartAsync(new GatewayOptions
        {
            StateDirectory = _state,
            ApiEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            PublicPools = [Ipv4Cidr.Parse("198.51.100.0/24")],
            Subnet = Ipv4Cidr.Parse("10.2.0.0/24"),
            Credentials = ApiFixture.Keys,
        }, TextWriter.Null);
        Assert.Equal(expected, host.Bindings.Snapshot().Select(b => b.ToString()).Order(StringComparer.Ordinal).ToList());
        Assert.Empty(host.CheckTableAgainstStore());
        Assert.Equal(3, host.KnownPrivateAddresses().Count);
        _ = Ipv4Address.Format(0);
    }

    private static async Task MakeSomeStateAsync(ApiClient c)
    {
        var run = await c.CallAsync("cvm", "RunInstances", new JsonObject
        {
            ["InstanceCount"] = 3,
            ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 10 },
        });
        var ids = run.GetProperty("InstanceIdSet").EnumerateArray().Select(e => e.GetString()!).ToList();
        var eips = (await c.CallAsync("vpc", "AllocateAddresses", new JsonObject { ["AddressCount"] = 2 })).GetProperty("AddressSet")
            .EnumerateArray().Select(e => e.GetString()!).ToList();
        await c.CallAsync("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = eips[0], ["InstanceId"] = ids[0] });
        await c.CallAsync("cvm", "ResetInstancesInternetMaxBandwidth", new JsonObject
        {
            ["InstanceIds"] = new JsonArray(ids[2]),
            ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 0 },
        });
    }

    private static async Task<string> DescribeAllAsync(ApiClient c)
    {
        var instances = await c.CallAsync("cvm", "DescribeInstances", new JsonObject { ["Limit"] = 100 });
        var addresses = await c.CallAsync("vpc", "DescribeAddresses", new JsonObject { ["Limit"] = 100 });
        return new JsonObject
        {
            ["instances"] = JsonNode.Parse(instances.GetProperty("InstanceSet").GetRawText()),
            ["addresses"] = JsonNode.Parse(addresses.GetProperty("AddressSet").GetRawText()),
        }.ToJsonString();
    }
}
