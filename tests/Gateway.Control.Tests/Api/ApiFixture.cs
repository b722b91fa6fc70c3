using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Auth;
using Gateway.Control.Hosting;
using Gateway.Control.Model;
using Gateway.Packets;

namespace Gateway.Control.Api.Tests;

/// <summary>A real daemon (Kestrel on a loopback port, SQLite in a temporary directory) and clients for it.</summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public static readonly Credentials Keys = new("AKIDtestTESTtest0123456789abcdefgh", "secretKeyForTestsOnly0123456789ab");

    public string StateDirectory { get; } = Path.Combine(Path.GetTempPath(), "gw-api-" + Guid.NewGuid().ToString("N"));
    public GatewayHost Host { get; private set; } = null!;
    public HttpClient Http { get; } = new();
    public ApiClient Client { get; private set; } = null!;
    public Uri Endpoint { get; private set; } = null!;
    public long MaxBody { get; init; } = 64 * 1024;

    public async Task InitializeAsync()
    {
        Host = await GatewayHost.StartAsync(new GatewayOptions
        {
            StateDirectory = StateDirectory,
            ApiEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            PublicPools = [Ipv4Cidr.Parse("198.51.100.0/28")],
            Subnet = Ipv4Cidr.Parse("10.1.0.0/24"),
            EipQuota = 3,
            Credentials = Keys,
            MaxRequestBodyBytes = MaxBody,
        }, TextWriter.Null);
        Endpoint = new Uri($"http://127.0.0.1:{Host.ApiEndPoint.Port}/");
        Client = new ApiClient(Http, Endpoint, Keys);
    }

    public async Task DisposeAsync()
    {
        await Host.StopAsync();
        Http.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(StateDirectory, recursive: true);
    }

    /// <summary>Options for a hand-built request; every field defaults to what a correct SDK sends.</summary>
    public sealed record Raw
    {
        public string Method { get; init; } = "POST";
        public string Action { get; init; } = "DescribeAddressQuota";
        public string? Version { get; init; } = "2017-03-12";
        public string? Region { get; init; } = "ap-guangzhou";
        public long? Timestamp { get; init; }
        public byte[] Body { get; init; } = "{}"u8.ToArray();
        /// <summary>The body the signature is computed over (default: <see cref="Body"/>).</summary>
        public byte[]? SignedBody { get; init; }
        public string ContentType { get; init; } = "application/json";
        public string Service { get; init; } = "vpc";
        public bool SignHostWithPort { get; init; } = true;
        public Credentials? SignWith { get; init; }
        public string? Authorization { get; init; }
        public bool OmitAuthorization { get; init; }
        public bool OmitAction { get; init; }
    }

    public async Task<(HttpResponseMessage Response, JsonElement Envelope)> SendAsync(Raw raw)
    {
        long ts = raw.Timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(new HttpMethod(raw.Method), Endpoint);
        if (raw.Method == "POST")
        {
            request.Content = new ByteArrayContent(raw.Body);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(raw.ContentType);
        }
        string hostWithPort = $"127.0.0.1:{Endpoint.Port}";
        request.Headers.Host = hostWithPort;
        if (!raw.OmitAction)
        {
            request.Headers.TryAddWithoutValidation("X-TC-Action", raw.Action);
        }
        if (raw.Version is not null)
        {
            request.Headers.TryAddWithoutValidation("X-TC-Version", raw.Version);
        }
        if (raw.Region is not null)
        {
            request.Headers.TryAddWithoutValidation("X-TC-Region", raw.Region);
        }
        request.Headers.TryAddWithoutValidation("X-TC-Timestamp", ts.ToString(CultureInfo.InvariantCulture));
        if (!raw.OmitAuthorization)
        {
            request.Headers.TryAddWithoutValidation("Authorization", raw.Authorization ?? Tc3Signature.Authorization(
                raw.SignWith ?? Keys, raw.Service, ts, raw.ContentType, raw.SignHostWithPort ? hostWithPort : "127.0.0.1", raw.SignedBody ?? raw.Body));
        }
        var response = await Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return (response, doc.RootElement.GetProperty("Response").Clone());
    }

    public static byte[] Json(JsonObject o) => Encoding.UTF8.GetBytes(o.ToJsonString());
}
