using Gateway.WebConsole.Security;
using Gateway.WebConsole.Sessions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Gateway.WebConsole.Pages;

/// <summary>Sign-out: a POST (with its antiforgery token) ends the session on the server; a GET changes nothing.</summary>
internal sealed class SignOutModel(SessionStore sessions) : PageModel
{
    public IActionResult OnGet() => StatusCode(StatusCodes.Status405MethodNotAllowed);

    public IActionResult OnPost()
    {
        if (ConsoleGate.SessionOf(HttpContext) is { } session)
        {
            sessions.End(session);
        }
        Response.Cookies.Delete(ConsoleGate.CookieNameFor(Request), ConsoleGate.CookieOptionsFor(Request));
        Response.Headers.Location = ConsoleGate.SignInPath + "?signedOut=1";
        return new StatusCodeResult(StatusCodes.Status303SeeOther);
    }
}
