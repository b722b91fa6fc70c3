using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.Control.Api.Tests;
using Gateway.Control.Hosting;
using Gateway.Control.Model;
using Gateway.Packets;

namespace Gateway.Control.Hardening.Tests;

/// <summary>
/// A started gateway (in process, loopback port, SQLite in a temporary directory) holding a little of everything:
/// ins0 with the EIP eip0, ins1 with an ordinary public IP, ins2 without bandwidth, eip1 unbound.
/// </summary>
public sealed class PopulatedGateway : IAsyncLifetime
{
    public const string Pool = "198.51.100.0/27";
    public const string Subnet = "10.3.0.0/24";
    public const long MaxBody = 4 << 20;

    public string StateDirectory { get; } = Path.Combine(Path.GetTempPath(), "gw-hard-" + Guid.NewGuid().ToString("N"));
    public GatewayHost Host { get; private set; } = null!;
    public HttpClient Http { get; } = new();
    public ApiClient Client { get; private set; } = null!;
    public int Port => Host.ApiEndPoint.Port;
    public IReadOnlyCollection<uint> Members { get; } = StateProbe.Members(Pool);
    public string[] Instances { get; private set; } = [];
    public string[] Eips { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Host = await GatewayHost.StartAsync(new GatewayOptions
        {
            StateDirectory = StateDirectory,
            ApiEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            PublicPools = [Ipv4Cidr.Parse(Pool)],
            Subnet = Ipv4Cidr.Parse(Subnet),
            EipQuota = 6,
            Credentials = ApiFixture.Keys,
            MaxRequestBodyBytes = MaxBody,
        }, TextWriter.Null);
        Client = new ApiClient(Http, new Uri($"http://127.0.0.1:{Port}/"), ApiFixture.Keys);
        var run = await Client.CallAsync("cvm", "RunInstances", new JsonObject
        {
            ["InstanceCount"] = 3,
            ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 10 },
        });
        Instances = [.. run.GetProperty("InstanceIdSet").EnumerateArray().Select(e => e.GetString()!)];
        var eips = await Client.CallAsync("vpc", "AllocateAddresses", new JsonObject { ["AddressCount"] = 2 });
        Eips = [.. eips.GetProperty("AddressSet").EnumerateArray().Select(e => e.GetString()!)];
        await Client.CallAsync("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = Eips[0], ["InstanceId"] = Instances[0] });
        await Client.CallAsync("cvm", "ResetInstancesInternetMaxBandwidth", new JsonObject
        {
            ["InstanceIds"] = new JsonArray(Instances[2]),
            ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 0 },
        });
    }

    public async Task DisposeAsync()
    {
        await Host.StopAsync();
        Http.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(StateDirectory, recursive: true);
    }

    /// <summary>Everything described, after checking the invariants and that the binding table equals the database.</summary>
    public async Task<string> CheckedSnapshotAsync()
    {
        Assert.Empty(Host.CheckTableAgainstStore());
        Assert.Empty(StateProbe.InvariantViolations(StateDirectory, Members));
        string described = await StateProbe.DescribeEverythingAsync(Client);
        Assert.Equal(StateProbe.DatabaseBindings(StateDirectory), StateProbe.DescribedBindings(described));
        Assert.Equal(StateProbe.DatabaseBindings(StateDirectory), Host.Bindings.Snapshot().Select(b => b.ToString()).Order(StringComparer.Ordinal).ToList());
        return described;
    }

    internal RawRequest Signed(string action, string body, long? timestamp = null) =>
        RawRequest.Signed(Port, ApiFixture.Keys, action, Encoding.UTF8.GetBytes(body), timestamp);

    internal RawRequest Signed(string action, byte[] body, long? timestamp = null) =>
        RawRequest.Signed(Port, ApiFixture.Keys, action, body, timestamp);

    /// <summary>Sends the request and returns the error code of the envelope (null for a success), checking the envelope's shape.</summary>
    internal async Task<string?> ErrorCodeOfAsync(RawRequest request)
    {
        var (status, body) = await RawHttp.SendAsync(Port, request);
        Assert.True(status == 200, $"HTTP {status}: {body}");
        using var doc = JsonDocument.Parse(body);
        var response = doc.RootElement.GetProperty("Response");
        Assert.False(string.IsNullOrEmpty(response.GetProperty("RequestId").GetString()));
        if (!response.TryGetProperty("Error", out var error))
        {
            return null;
        }
        Assert.False(string.IsNullOrEmpty(error.GetProperty("Message").GetString()));
        return error.GetProperty("Code").GetString();
    }
}
