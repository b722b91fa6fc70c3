using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Gateway.Control.Auth;
using Gateway.Control.Hosting;
using Gateway.Control.Rules;
using Gateway.Packets;
using Gateway.WebConsole.Sessions;

namespace Gateway.WebConsole.Tests.Http;

/// <summary>A clock that moves only when told (sessions and throttles expire by it).</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>
/// The daemon's composition in this process (real Kestrel on a loopback port, real SQLite, the console extension)
/// with a clock the test moves, and browsers-without-a-browser: HTTP clients with their own cookie jars.
/// </summary>
internal sealed partial class ConsoleHost : IAsyncDisposable
{
    public static readonly Credentials Keys = new("AKIDhttpTest0123456789abcdefghijk", "httpTestSecretKey0123456789abcdef");

    private readonly string _state;

    private ConsoleHost(GatewayHost host, ManualClock clock, string state)
    {
        Host = host;
        Clock = clock;
        _state = state;
        BaseUri = new Uri($"http://127.0.0.1:{host.ApiEndPoint.Port}/");
    }

    public GatewayHost Host { get; }

    internal ControlPlane Plane => Host.Plane;

    public ManualClock Clock { get; }

    public Uri BaseUri { get; }

    public static async Task<ConsoleHost> StartAsync(SessionLimits? limits = null)
    {
        string state = Path.Combine(Path.GetTempPath(), $"gwt-{Environment.ProcessId}-console-http-{Guid.NewGuid():N}");
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var host = await GatewayHost.StartAsync(new GatewayOptions
        {
            StateDirectory = state,
            ApiEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            PublicPools = [Ipv4Cidr.Parse("198.51.100.0/28")],
            Subnet = Ipv4Cidr.Parse("10.5.0.0/24"),
            EipQuota = 3,
            Credentials = Keys,
            Clock = clock,
            ListenerExtensions = [new ConsoleExtension(limits ?? SessionLimits.Default)],
        }, TextWriter.Null);
        return new ConsoleHost(host, clock, state);
    }

    /// <summary>A client with its own cookies that does not follow redirects (the tests look at each answer).</summary>
    /// <param name="from">The loopback address the client connects from (another "client" for the sign-in throttle).</param>
    public Browserless Client(string from = "127.0.0.1")
    {
        var cookies = new CookieContainer();
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            CookieContainer = cookies,
            UseCookies = true,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new Browserless(new HttpClient(handler) { BaseAddress = BaseUri }, cookies, BaseUri);
    }

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_state, recursive: true);
    }
}

/// <summary>An HTTP client with a cookie jar, and the few things a browser does with a form.</summary>
internal sealed partial class Browserless(HttpClient http, CookieContainer cookies, Uri baseUri) : IDisposable
{
    public HttpClient Http => http;

    public CookieContainer Cookies => cookies;

    public string? SessionCookie => cookies.GetCookies(new Uri(baseUri, "console/")).FirstOrDefault(c => c.Name == "gw-console")?.Value;

    public async Task<string> GetPageAsync(string path)
    {
        using var response = await http.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {response.Headers.Location}");
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The antiforgery token of the first form on the page (the hidden field ASP.NET Core renders).</summary>
    public async Task<string> TokenAsync(string path) => TokenOf(await GetPageAsync(path));

    public static string TokenOf(string html)
    {
        var m = TokenField().Match(html);
        Assert.True(m.Success, "the page has no antiforgery token");
        return m.Groups[1].Value;
    }

    public async Task<HttpResponseMessage> PostAsync(string path, IEnumerable<KeyValuePair<string, string>> fields) =>
        await http.PostAsync(path, new FormUrlEncodedContent(fields));

    public async Task<HttpResponseMessage> SignInAsync(string? secretId = null, string? secretKey = null)
    {
        string token = await TokenAsync("console/signin");
        return await PostAsync("console/signin", [
            new("secretId", secretId ?? ConsoleHost.Keys.SecretId),
            new("secretKey", secretKey ?? ConsoleHost.Keys.SecretKey),
            new("__RequestVerificationToken", token),
        ]);
    }

    public async Task SignedInAsync()
    {
        using var response = await SignInAsync();
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.NotNull(SessionCookie);
    }

    public void Dispose() => http.Dispose();

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();
}
