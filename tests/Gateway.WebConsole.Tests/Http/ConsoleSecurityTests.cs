using System.Net;
using System.Text.RegularExpressions;
using Gateway.WebConsole.Sessions;

namespace Gateway.WebConsole.Tests.Http;

/// <summary>
/// The console's security over plain HTTP against the real listener: no page or action without a session, no
/// change without an antiforgery token or on a GET, the sign-in throttle, cookie attributes, the headers, session
/// expiry, refusals that change nothing, and no secret in any page.
/// </summary>
public sealed partial class ConsoleSecurityTests : IAsyncLifetime
{
    private static readonly string[] s_pages = ["console/instances", "console/eips", "console/datapath", "console/quota"];

    private ConsoleHost _host = null!;

    public async Task InitializeAsync() => _host = await ConsoleHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("console")]
    [InlineData("console/instances")]
    [InlineData("console/instances?q=web")]
    [InlineData("console/instances/ins-00000000")]
    [InlineData("console/eips")]
    [InlineData("console/datapath")]
    [InlineData("console/datapath/stream")]
    [InlineData("console/quota")]
    [InlineData("console/no-such-page")]
    public async Task EveryPageWithoutASessionRedirectsToSignIn(string path)
    {
        using var client = _host.Client();
        using var response = await client.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/console/signin?returnUrl=" + Uri.EscapeDataString("/" + path), response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task AnActionWithoutASessionIsSentToSignInAndChangesNothing()
    {
        using var client = _host.Client();
        using var response = await client.PostAsync("console/eips?handler=Allocate", [new("count", "1")]);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.StartsWith("/console/signin", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Empty(_host.Plane.ListAddresses());
    }

    [Fact]
    public async Task AFormPostWithoutItsAntiforgeryTokenIsRefusedAndChangesNothing()
    {
        using var client = _host.Client();
        await client.SignedInAsync();
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        string id = _host.Plane.ListInstances().Single().Instance.Id;
        var before = Describe();

        // No token at all, on every action of every page.
        foreach (var (path, fields) in Actions(id))
        {
            using var response = await client.PostAsync(path, fields);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)response.StatusCode}");
        }
        Assert.Equal(before, Describe());

        // A token of another session (signed in too, same client) is refused as well.
        using var other = _host.Client();
        await other.SignedInAsync();
        string foreign = await other.TokenAsync("console/eips");
        using (var response = await client.PostAsync("console/eips?handler=Allocate", [new("count", "1"), new("__RequestVerificationToken", foreign)]))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        // And the sign-in form's token (made before any session) opens no action.
        using var fresh = _host.Client();
        string signInToken = await fresh.TokenAsync("console/signin");
        using (var response = await client.PostAsync("console/eips?handler=Allocate", [new("count", "1"), new("__RequestVerificationToken", signInToken)]))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        Assert.Equal(before, Describe());

        // With its own token the same post works (the refusals above were about the token, nothing else).
        string token = await client.TokenAsync("console/eips");
        using (var response = await client.PostAsync("console/eips?handler=Allocate", [new("count", "1"), new("__RequestVerificationToken", token)]))
        {
            Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        }
        Assert.Single(_host.Plane.ListAddresses());
    }

    [Fact]
    public async Task NothingChangesOnGet()
    {
        using var client = _host.Client();
        await client.SignedInAsync();
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        string id = _host.Plane.ListInstances().Single().Instance.Id;
        var before = Describe();
        foreach (var (path, fields) in Actions(id))
        {
            string query = string.Join("&", fields.Select(f => $"{f.Key}={Uri.EscapeDataString(f.Value)}"));
            using var response = await client.Http.GetAsync(path + "&" + query);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.MethodNotAllowed, $"GET {path}: {(int)response.StatusCode}");
        }
        using (var response = await client.Http.GetAsync("console/signout"))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        }
        Assert.Equal(before, Describe());
        await client.GetPageAsync("console/instances"); // still signed in
    }

    [Fact]
    public async Task FailedSignInsAreRateLimitedPerClient()
    {
        using var client = _host.Client("127.0.0.1");
        for (int n = 0; n < 5; n++)
        {
            using var wrong = await client.SignInAsync(secretKey: "wrong" + n);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.Contains("not right", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        // The throttle engages: refused before the credentials are compared, right ones included.
        using (var throttled = await client.SignInAsync())
        {
            Assert.Equal((HttpStatusCode)429, throttled.StatusCode);
            Assert.True(throttled.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            Assert.Contains("Too many failed sign-ins", await throttled.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Null(client.SessionCookie);

        // Another client address is not held back by this one's failures.
        using (var other = _host.Client("127.0.0.2"))
        {
            await other.SignedInAsync();
        }

        // One refill period later, one more try is allowed.
        _host.Clock.Advance(TimeSpan.FromSeconds(12));
        await client.SignedInAsync();
    }

    [Fact]
    public async Task TheSessionCookieIsHttpOnlyAndSameSiteStrictAndHoldsNoCredential()
    {
        using var client = _host.Client();
        using var response = await client.SignInAsync();
        var cookies = response.Headers.GetValues("Set-Cookie").ToList();
        string session = cookies.Single(c => c.StartsWith("gw-console=", StringComparison.Ordinal));
        Assert.Contains("httponly", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/console", session, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", session, StringComparison.OrdinalIgnoreCase); // plain HTTP: a Secure cookie would never come back
        Assert.DoesNotContain("expires", session, StringComparison.OrdinalIgnoreCase); // the server decides when it ends
        Assert.DoesNotContain(ConsoleHost.Keys.SecretKey, string.Join("\n", cookies), StringComparison.Ordinal);
        Assert.DoesNotContain(ConsoleHost.Keys.SecretId, string.Join("\n", cookies), StringComparison.Ordinal);
        Assert.Matches("^[A-Za-z0-9_-]{43}$", client.SessionCookie!); // 256 random bits
    }

    [Fact]
    public async Task EveryPageCarriesTheSecurityHeadersAndNoInlineScriptOrStyle()
    {
        using var client = _host.Client();
        await client.SignedInAsync();
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        _host.Plane.AllocateAddresses(1, "spare", 1, "TRAFFIC_POSTPAID_BY_HOUR");
        string id = _host.Plane.ListInstances().Single().Instance.Id;
        foreach (string path in s_pages.Append($"console/instances/{id}").Append("console/signin"))
        {
            using var response = await client.Http.GetAsync(path);
            string csp = response.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
            Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
            Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
            Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
            Assert.Contains("no-store", response.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
            string html = await response.Content.ReadAsStringAsync();
            Assert.DoesNotMatch(InlineScript(), html);
            Assert.DoesNotMatch(InlineStyle(), html);
            Assert.DoesNotMatch(EventHandlerAttribute(), html);
            Assert.DoesNotMatch(ExternalReference(), html);
        }
    }

    [Fact]
    public async Task EveryFormThatPostsCarriesAnAntiforgeryToken()
    {
        using var client = _host.Client();
        await client.SignedInAsync();
        _host.Plane.RunInstances(new(2, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        var (eips, _) = _host.Plane.AllocateAddresses(2, "", 1, "TRAFFIC_POSTPAID_BY_HOUR");
        string id = _host.Plane.ListInstances()[0].Instance.Id;
        _host.Plane.AssociateAddress(eips[0], id);
        int forms = 0;
        foreach (string path in s_pages.Append($"console/instances/{id}"))
        {
            string html = await client.GetPageAsync(path);
            foreach (Match form in PostForm().Matches(html))
            {
                forms++;
                Assert.Contains("name=\"__RequestVerificationToken\"", form.Value, StringComparison.Ordinal);
            }
        }
        Assert.True(forms >= 10, $"only {forms} forms seen");
    }

    [Fact]
    public async Task AnIdleSessionExpiresAndSoDoesAnOldOne()
    {
        var limits = SessionLimits.Default;
        using var client = _host.Client();
        await client.SignedInAsync();
        _host.Clock.Advance(limits.Idle - TimeSpan.FromSeconds(1));
        await client.GetPageAsync("console/instances"); // still alive, and touched
        _host.Clock.Advance(limits.Idle);
        using (var response = await client.Http.GetAsync("console/instances"))
        {
            Assert.Equal(HttpStatusCode.Found, response.StatusCode);
            Assert.EndsWith("&expired=1", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }
        Assert.Contains("Your session expired", await client.GetPageAsync("console/signin?returnUrl=%2Fconsole%2Finstances&expired=1"), StringComparison.Ordinal);

        // Busy all along: it still ends at the absolute limit.
        await client.SignedInAsync();
        var busy = TimeSpan.Zero;
        for (; busy + (limits.Idle / 2) < limits.Absolute; busy += limits.Idle / 2)
        {
            _host.Clock.Advance(limits.Idle / 2);
            await client.GetPageAsync("console/quota");
        }
        _host.Clock.Advance(limits.Absolute - busy);
        using (var response = await client.Http.GetAsync("console/quota"))
        {
            Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        }
    }

    [Fact]
    public async Task ARefusalShowsTheCloudsErrorCodeAndChangesNothing()
    {
        using var client = _host.Client();
        await client.SignedInAsync();
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        string id = _host.Plane.ListInstances().Single().Instance.Id;
        var (eips, _) = _host.Plane.AllocateAddresses(1, "", 1, "TRAFFIC_POSTPAID_BY_HOUR");
        _host.Plane.AssociateAddress(eips[0], id);
        var before = Describe();

        string token = await client.TokenAsync("console/eips");
        using (var response = await client.PostAsync("console/eips?handler=Release", [new("addressId", eips[0]), new("__RequestVerificationToken", token)]))
        {
            Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        }
        string page = await client.GetPageAsync("console/eips");
        Assert.Contains("<strong class=\"code\">InvalidAddressState</strong>", page, StringComparison.Ordinal);
        Assert.Contains($"{eips[0]} is BIND", page, StringComparison.Ordinal);
        Assert.Equal(before, Describe());

        // Over the quota (3): AddressQuotaLimitExceeded, nothing allocated.
        token = Browserless.TokenOf(page);
        using (await client.PostAsync("console/eips?handler=Allocate", [new("count", "3"), new("__RequestVerificationToken", token)]))
        {
        }
        Assert.Contains("AddressQuotaLimitExceeded", await client.GetPageAsync("console/eips"), StringComparison.Ordinal);
        Assert.Equal(before, Describe());

        // Input the form got wrong is refused the API's way too.
        token = await client.TokenAsync("console/instances");
        using (await client.PostAsync("console/instances?handler=Bandwidth", [new("instanceId", id), new("bandwidth", "ten"), new("__RequestVerificationToken", token)]))
        {
        }
        Assert.Contains("InvalidParameterValue", await client.GetPageAsync("console/instances"), StringComparison.Ordinal);
        Assert.Equal(before, Describe());

        // A notice is shown once: a reload does not repeat it (and never repeats the action).
        Assert.DoesNotContain("InvalidParameterValue", await client.GetPageAsync("console/instances"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoSecretIsEverRendered()
    {
        using var client = _host.Client();
        using (var failed = await client.SignInAsync(secretKey: ConsoleHost.Keys.SecretKey + "x"))
        {
            string html = await failed.Content.ReadAsStringAsync();
            Assert.DoesNotContain(ConsoleHost.Keys.SecretKey, html, StringComparison.Ordinal);
        }
        await client.SignedInAsync();
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        string id = _host.Plane.ListInstances().Single().Instance.Id;
        foreach (string path in s_pages.Append($"console/instances/{id}"))
        {
            string html = await client.GetPageAsync(path);
            Assert.DoesNotContain(ConsoleHost.Keys.SecretKey, html, StringComparison.Ordinal);
            Assert.DoesNotContain(ConsoleHost.Keys.SecretId, html, StringComparison.Ordinal); // shown shortened only
        }
    }

    [Fact]
    public async Task AMarkupNameIsEncodedEverywhere()
    {
        const string Name = "<script>alert(1)</script>";
        using var client = _host.Client();
        await client.SignedInAsync();
        string token = await client.TokenAsync("console/instances");
        using (await client.PostAsync("console/instances?handler=Create", [new("bandwidth", "1"), new("count", "1"), new("name", Name), new("assignPublicIp", "true"), new("__RequestVerificationToken", token)]))
        {
        }
        var instance = _host.Plane.ListInstances().Single().Instance;
        Assert.Equal(Name, instance.Name);
        _host.Plane.AllocateAddresses(1, Name, 1, "TRAFFIC_POSTPAID_BY_HOUR");
        foreach (string path in (string[])["console/instances", $"console/instances/{instance.Id}", "console/eips", "console/instances?q=" + Uri.EscapeDataString(Name)])
        {
            string html = await client.GetPageAsync(path);
            Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
            Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task SignOutEndsTheSessionOnTheServer()
    {
        using var client = _host.Client();
        await client.SignedInAsync();
        string cookie = client.SessionCookie!;
        string token = await client.TokenAsync("console/instances");
        using (var response = await client.PostAsync("console/signout", [new("__RequestVerificationToken", token)]))
        {
            Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
            Assert.Equal("/console/signin?signedOut=1", response.Headers.Location!.OriginalString);
        }
        // The same cookie value, presented again, opens nothing.
        using var replay = _host.Client();
        replay.Cookies.Add(new Uri(_host.BaseUri, "console/"), new System.Net.Cookie("gw-console", cookie, "/console"));
        using var again = await replay.Http.GetAsync("console/instances");
        Assert.Equal(HttpStatusCode.Found, again.StatusCode);
    }

    [Theory]
    [InlineData(null, "/console/instances")]
    [InlineData("/console/eips", "/console/eips")]
    [InlineData("/console/instances?q=web", "/console/instances?q=web")]
    [InlineData("https://evil.example/", "/console/instances")]
    [InlineData("//evil.example/console/", "/console/instances")]
    [InlineData("/console//evil.example", "/console/instances")]
    [InlineData("/console\\..\\x", "/console/instances")]
    [InlineData("/console/signin", "/console/instances")]
    [InlineData("/api", "/console/instances")]
    public void ReturnAddressesStayInTheConsole(string? asked, string expected) =>
        Assert.Equal(expected, Security.ConsoleGate.SafeReturnUrl(asked));

    private string Describe() =>
        string.Join("\n", _host.Plane.ListInstances().Select(i => i.ToString()).Concat(_host.Plane.ListAddresses().Select(a => a.ToString())))
        + $"\n{_host.Plane.PoolUsage()}";

    private static IEnumerable<(string Path, List<KeyValuePair<string, string>> Fields)> Actions(string instanceId) =>
    [
        ("console/instances?handler=Create", [new("bandwidth", "10"), new("count", "1"), new("name", "x")]),
        ("console/instances?handler=Terminate", [new("instanceId", instanceId)]),
        ("console/instances?handler=Bandwidth", [new("instanceId", instanceId), new("bandwidth", "20")]),
        ("console/eips?handler=Allocate", [new("count", "1")]),
        ("console/eips?handler=Release", [new("addressId", "eip-00000000")]),
        ($"console/instances/{instanceId}?handler=Associate", [new("addressId", "eip-00000000")]),
        ("console/signout?x=1", []),
    ];

    [GeneratedRegex(@"<script(?![^>]*\bsrc=)[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex InlineScript();

    [GeneratedRegex(@"\sstyle\s*=|<style", RegexOptions.IgnoreCase)]
    private static partial Regex InlineStyle();

    [GeneratedRegex(@"\son[a-z]+\s*=", RegexOptions.IgnoreCase)]
    private static partial Regex EventHandlerAttribute();

    [GeneratedRegex(@"(src|href|action)=""(https?:)?//", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();

    [GeneratedRegex(@"<form[^>]*method=""post""[\s\S]*?</form>", RegexOptions.IgnoreCase)]
    private static partial Regex PostForm();
}
