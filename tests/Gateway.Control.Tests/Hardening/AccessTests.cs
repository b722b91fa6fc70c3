using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.Control.Api.Tests;
using Gateway.Control.Auth;
using Gateway.Control.Hosting;
using Gateway.Control.Hosting.Tests;
using Gateway.Control.Rules;
using Gateway.Packets;

namespace Gateway.Control.Hardening.Tests;

/// <summary>Who may do what: signatures required, secrets never printed, state private to its owner, the API on loopback.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AccessTests : IDisposable
{
    private const UnixFileMode Rw = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Rwx = Rw | UnixFileMode.UserExecute;

    private readonly string _state = Path.Combine(Path.GetTempPath(), "gw-access-" + Guid.NewGuid().ToString("N"), "state");
    private readonly HttpClient _http = new();

    public void Dispose()
    {
        _http.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        string parent = Path.GetDirectoryName(_state)!;
        if (Directory.Exists(parent))
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    [Fact]
    public async Task AGeneratedKeyPair_IsNeverPrinted_AndTheStateIsOwnerOnly()
    {
        Credentials keys;
        string output;
        using (var daemon = await DaemonProcess.StartAsync(_state, credentialsFromEnvironment: false, api: "127.0.0.1:0"))
        {
            keys = Credentials.TryRead(_state)!;
            var client = daemon.Client(_http, keys);
            await ExerciseAsync(daemon, client, keys);
            Assert.Equal(0, await daemon.TerminateAsync());
            output = daemon.Output;
        }

        Assert.Contains("credentials generated in", output, StringComparison.Ordinal);
        Assert.DoesNotContain(keys.SecretKey, output, StringComparison.Ordinal);
        Assert.Equal(Rwx, File.GetUnixFileMode(_state));
        Assert.Equal(Rw, File.GetUnixFileMode(Path.Combine(_state, Credentials.FileName)));
        Assert.Equal(Rw, File.GetUnixFileMode(Path.Combine(_state, "gateway.db")));

        // The same state again: the file is reused, still not printed.
        using (var daemon = await DaemonProcess.StartAsync(_state, credentialsFromEnvironment: false, api: "127.0.0.1:0"))
        {
            await daemon.Client(_http, keys).CallAsync("vpc", "DescribeAddressQuota");
            Assert.Equal(0, await daemon.TerminateAsync());
            Assert.DoesNotContain(keys.SecretKey, daemon.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AKeyPairFromTheEnvironment_IsNeverPrintedNorWritten()
    {
        using var daemon = await DaemonProcess.StartAsync(_state);
        var client = daemon.Client(_http);
        await ExerciseAsync(daemon, client, ApiFixture.Keys);
        Assert.Equal(0, await daemon.TerminateAsync());

        Assert.DoesNotContain(ApiFixture.Keys.SecretKey, daemon.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_state, Credentials.FileName)));
        Assert.Equal(Rwx, File.GetUnixFileMode(_state));
        foreach (string file in Directory.GetFiles(_state))
        {
            Assert.Equal(Rw, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    public async Task AnExistingStateDirectoryOpenToOthers_IsReported()
    {
        Directory.CreateDirectory(_state);
        File.SetUnixFileMode(_state, Rwx | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        using var daemon = await DaemonProcess.StartAsync(_state);
        Assert.Equal(0, await daemon.TerminateAsync());

        Assert.Contains($"chmod 700 {_state}", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnsignedAndWronglySignedMutations_AreRefusedWithAuthFailure()
    {
        using var daemon = await DaemonProcess.StartAsync(_state);
        var client = daemon.Client(_http);
        string before = await StateProbe.DescribeEverythingAsync(client);

        var codes = new List<string>();
        foreach (var keys in (Credentials[])[ApiFixture.Keys with { SecretKey = "guess" }, new Credentials("AKIDguess", "guess"), ApiFixture.Keys with { SecretKey = "" }])
        {
            var e = await Assert.ThrowsAsync<ApiErrorException>(() => daemon.Client(_http, keys).CallAsync("vpc", "AllocateAddresses"));
            codes.Add(e.Code);
        }
        using (var unsigned = new HttpRequestMessage(HttpMethod.Post, daemon.Endpoint) { Content = new StringContent("{}", Encoding.UTF8, "application/json") })
        {
            unsigned.Headers.Add("X-TC-Action", "AllocateAddresses");
            unsigned.Headers.Add("X-TC-Version", "2017-03-12");
            unsigned.Headers.Add("X-TC-Region", "ap-guangzhou");
            unsigned.Headers.Add("X-TC-Timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var response = await _http.SendAsync(unsigned);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            codes.Add(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["Response"]!["Error"]!["Code"]!.GetValue<string>());
        }

        Assert.All(codes, c => Assert.StartsWith("AuthFailure.", c, StringComparison.Ordinal));
        Assert.Equal(before, await StateProbe.DescribeEverythingAsync(client));
        Assert.Equal(0, await daemon.TerminateAsync());
    }

    [Fact]
    public void TheDefaultApiAddress_IsLoopback()
    {
        var options = new GatewayOptions { StateDirectory = _state, PublicPools = [], Subnet = Ipv4Cidr.Parse("10.0.0.0/24") };

        Assert.True(IPAddress.IsLoopback(options.ApiEndPoint.Address));
    }

    [Fact]
    public async Task TheDaemonWithoutApi_ListensOnLoopbackOnly()
    {
        // Without --api the daemon takes 127.0.0.1:9700. If another process holds that port the start fails, and the
        // error names the address it tried: either way the default is loopback.
        try
        {
            using var daemon = await DaemonProcess.StartAsync(_state, credentialsFromEnvironment: true, api: null);
            Assert.Equal(new Uri("http://127.0.0.1:9700/"), daemon.Endpoint);
            Assert.Equal(0, await daemon.TerminateAsync());
        }
        catch (InvalidOperationException e)
        {
            Assert.Contains("127.0.0.1:9700", e.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>Successes, refusals by the rules and refused signatures: what a day of use logs.</summary>
    private static async Task ExerciseAsync(DaemonProcess daemon, ApiClient client, Credentials keys)
    {
        var run = await client.CallAsync("cvm", "RunInstances", new JsonObject { ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 5 } });
        string id = run.GetProperty("InstanceIdSet")[0].GetString()!;
        var eip = (await client.CallAsync("vpc", "AllocateAddresses")).GetProperty("AddressSet")[0].GetString()!;
        await client.CallAsync("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = eip, ["InstanceId"] = id });
        await Assert.ThrowsAsync<ApiErrorException>(() => client.CallAsync("vpc", "ReleaseAddresses", new JsonObject { ["AddressIds"] = new JsonArray(eip) }));
        await Assert.ThrowsAsync<ApiErrorException>(() => client.CallAsync("vpc", "DescribeAddresses", new JsonObject { ["Limit"] = "x" }));
        await Assert.ThrowsAsync<ApiErrorException>(() => daemon.Client(new HttpClient(), keys with { SecretKey = keys.SecretKey + "x" }).CallAsync("vpc", "DescribeAddresses"));
        await Assert.ThrowsAsync<ApiErrorException>(() => daemon.Client(new HttpClient(), keys with { SecretKey = keys.SecretKey[..^1] }).CallAsync("vpc", "DescribeAddresses"));
        await client.CallAsync("cvm", "TerminateInstances", new JsonObject { ["InstanceIds"] = new JsonArray(id) });
    }
}
