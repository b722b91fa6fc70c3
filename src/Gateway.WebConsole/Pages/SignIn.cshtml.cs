using System.Security.Cryptography;
using System.Text;
using Gateway.Control.Hosting;
using Gateway.WebConsole.Security;
using Gateway.WebConsole.Sessions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Gateway.WebConsole.Pages;

/// <summary>
/// Sign-in with the account's SecretId and SecretKey. Failed attempts count against the client's address
/// (<see cref="SignInThrottle"/>); while it must wait, attempts are answered 429 without comparing anything.
/// The SecretKey is compared in constant time and never rendered back, not even after a failure.
/// </summary>
internal sealed class SignInModel(GatewayHost host, SessionStore sessions, SignInThrottle throttle) : PageModel
{
    public string? SecretId { get; private set; }

    public string ReturnUrl { get; private set; } = ConsoleGate.SafeReturnUrl(null);

    public string? Message { get; private set; }

    public bool MessageIsError { get; private set; }

    public IActionResult OnGet(string? returnUrl, int? expired, int? signedOut)
    {
        ReturnUrl = ConsoleGate.SafeReturnUrl(returnUrl);
        if (ConsoleGate.SessionOf(HttpContext) is not null)
        {
            return Redirect(ReturnUrl);
        }
        if (expired == 1)
        {
            Message = "Your session expired. Sign in again.";
        }
        else if (signedOut == 1)
        {
            Message = "You are signed out.";
        }
        return Page();
    }

    public IActionResult OnPost(string? secretId, string? secretKey, string? returnUrl)
    {
        ReturnUrl = ConsoleGate.SafeReturnUrl(returnUrl);
        SecretId = secretId?.Length <= 256 ? secretId : null;
        var client = HttpContext.Connection.RemoteIpAddress;
        var wait = throttle.RetryAfter(client);
        if (wait > TimeSpan.Zero)
        {
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            Response.Headers.RetryAfter = ConsoleGate.Seconds(wait);
            return Fail($"Too many failed sign-ins from your address. Try again in {ConsoleGate.Seconds(wait)} seconds.");
        }
        var keys = host.Credentials;
        // Hashing both sides first makes the comparison's time independent of the lengths as well as the contents.
        bool idMatches = CryptographicOperations.FixedTimeEquals(Hash(secretId), Hash(keys.SecretId));
        bool keyMatches = CryptographicOperations.FixedTimeEquals(Hash(secretKey), Hash(keys.SecretKey));
        if (!(idMatches & keyMatches))
        {
            throttle.Failed(client);
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            Response.Headers.WWWAuthenticate = "FormBased";
            return Fail("The SecretId or SecretKey is not right. Check the pair and try again.");
        }
        throttle.Succeeded(client);
        var session = sessions.Create(keys.SecretId);
        Response.Cookies.Append(ConsoleGate.CookieNameFor(Request), session.Id, ConsoleGate.CookieOptionsFor(Request));
        Response.Headers.Location = ReturnUrl;
        return new StatusCodeResult(StatusCodes.Status303SeeOther);
    }

    private PageResult Fail(string message)
    {
        Message = message;
        MessageIsError = true;
        return Page();
    }

    private static byte[] Hash(string? text) => SHA256.HashData(Encoding.UTF8.GetBytes(text ?? ""));
}
