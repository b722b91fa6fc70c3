using System.Globalization;
using Gateway.WebConsole.Assets;
using Gateway.WebConsole.Sessions;
using Microsoft.AspNetCore.Http;

namespace Gateway.WebConsole.Security;

/// <summary>
/// The first thing every <c>/console</c> request meets: security headers, the embedded assets, and the session.
/// Without a live session only the sign-in page (and the stylesheet it needs) answers; any other request is sent
/// to sign in and changes nothing.
/// </summary>
internal sealed class ConsoleGate(SessionStore sessions)
{
    public const string CookieName = "gw-console";

    /// <summary>The cookie name over TLS: the <c>__Host-</c> prefix makes the browser refuse it unless it is Secure,
    /// host-only and for path <c>/</c>, so no sibling host or plain-HTTP page can set or shadow it.</summary>
    public const string SecureCookieName = "__Host-gw-console";

    public const string SignInPath = ConsoleExtension.BasePath + "/signin";

    /// <summary>
    /// Scripts only from this origin (the one small file that follows the data-path counters), no inline script or
    /// style, no plugins, no framing, forms only back to the console, nothing fetched from anywhere else.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    private static readonly object s_sessionKey = new();

    public static ConsoleSession? SessionOf(HttpContext context) =>
        context.Items.TryGetValue(s_sessionKey, out object? session) ? (ConsoleSession?)session : null;

    public static string CookieNameFor(HttpRequest request) => request.IsHttps ? SecureCookieName : CookieName;

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var request = context.Request;
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";

        if (request.Path.StartsWithSegments(ConsoleAssets.BasePath, StringComparison.Ordinal, out var assetPath))
        {
            await ConsoleAssets.ServeAsync(context, assetPath).ConfigureAwait(false);
            return;
        }

        // Pages show resources and carry antiforgery tokens: no cache may keep them.
        headers.CacheControl = "no-store";
        var session = sessions.Find(request.Cookies[CookieNameFor(request)], out bool expired);
        if (session is not null)
        {
            context.Items[s_sessionKey] = session;
        }
        bool signInPage = request.Path.Equals(SignInPath, StringComparison.Ordinal);
        if (session is null && !signInPage)
        {
            string returnUrl = request.Path + request.QueryString;
            string target = SignInPath + "?returnUrl=" + Uri.EscapeDataString(returnUrl) + (expired ? "&expired=1" : "");
            if (expired)
            {
                context.Response.Cookies.Delete(CookieNameFor(request), CookieOptionsFor(request));
            }
            // 303 for a POST: the browser follows with a GET, nothing is posted again.
            context.Response.StatusCode = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)
                ? StatusCodes.Status302Found
                : StatusCodes.Status303SeeOther;
            headers.Location = target;
            return;
        }
        await next().ConfigureAwait(false);
    }

    /// <summary>HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure over TLS.</summary>
    public static CookieOptions CookieOptionsFor(HttpRequest request) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = request.IsHttps,
        Path = request.IsHttps ? "/" : ConsoleExtension.BasePath,
        IsEssential = true,
    };

    /// <summary>A return address after sign-in: only a console path of this origin, else the Instances page.</summary>
    public static string SafeReturnUrl(string? returnUrl) =>
        returnUrl is { Length: > 0 and < 2048 }
        && returnUrl.StartsWith(ConsoleExtension.BasePath + "/", StringComparison.Ordinal)
        && !returnUrl.Contains("//", StringComparison.Ordinal)
        && !returnUrl.Contains('\\', StringComparison.Ordinal)
        && !returnUrl.StartsWith(SignInPath, StringComparison.Ordinal)
        && returnUrl.All(c => c > ' ' && c < 127)
            ? returnUrl
            : ConsoleExtension.BasePath + "/instances";

    internal static string Seconds(TimeSpan wait) => Math.Ceiling(wait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
}
