using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Playwright;
using static Gateway.WebConsole.Tests.Browser.ConsolePages;

namespace Gateway.WebConsole.Tests.Browser;

/// <summary>
/// The daemon with <c>--tls-cert/--tls-key</c>: the console's cookies become Secure, and the session cookie takes the
/// <c>__Host-</c> prefix (path /, no domain), which the browser enforces.
/// </summary>
[Collection(ChromiumGroup.Name)]
public sealed class ConsoleTlsTests(Chromium chromium) : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory($"gwt-{Environment.ProcessId}-tls-").FullName;
    private X509Certificate2 _certificate = null!;
    private ConsoleDaemon _daemon = null!;

    public async Task InitializeAsync()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(_dir, "cert.pem"), _certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        _daemon = await ConsoleDaemon.StartAsync("--tls-cert", Path.Combine(_dir, "cert.pem"), "--tls-key", Path.Combine(_dir, "key.pem"));
    }

    public async Task DisposeAsync()
    {
        await _daemon.DisposeAsync();
        _certificate.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task OverTlsTheSessionCookieIsSecureAndHostOnly()
    {
        Assert.Equal("https", _daemon.Endpoint.Scheme);
        using var handler = new HttpClientHandler
        {
            AllowAutoRedirect = false,
            // Exactly this test's certificate, nothing else.
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) => certificate?.Thumbprint == _certificate.Thumbprint,
        };
        using var http = new HttpClient(handler) { BaseAddress = _daemon.Endpoint };
        string page = await http.GetStringAsync("console/signin");
        string token = Http.Browserless.TokenOf(page);
        using var response = await http.PostAsync("console/signin", new FormUrlEncodedContent([
            new("secretId", ConsoleDaemon.Keys.SecretId), new("secretKey", ConsoleDaemon.Keys.SecretKey), new("__RequestVerificationToken", token)]));
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var cookies = response.Headers.GetValues("Set-Cookie").ToList();
        string session = cookies.Single(c => c.StartsWith("__Host-gw-console=", StringComparison.Ordinal));
        Assert.Contains("secure", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/;", session + ";", StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", session, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("domain=", session, StringComparison.OrdinalIgnoreCase);

        // And Chromium keeps it and signs in with it.
        var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
        var browser = await context.NewPageAsync();
        await browser.GotoAsync(new Uri(_daemon.Endpoint, "console/signin").ToString());
        await browser.GetByLabel("SecretId", new() { Exact = true }).FillAsync(ConsoleDaemon.Keys.SecretId);
        await browser.GetByLabel("SecretKey", new() { Exact = true }).FillAsync(ConsoleDaemon.Keys.SecretKey);
        await browser.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await ExpectHeadingAsync(browser, "Instances");
        var kept = (await context.CookiesAsync()).Single(c => c.Name == "__Host-gw-console");
        Assert.True(kept.Secure);
        Assert.True(kept.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, kept.SameSite);
        Assert.True((await context.CookiesAsync()).Single(c => c.Name == "gw-console-antiforgery").Secure);
        await context.CloseAsync();
    }
}
