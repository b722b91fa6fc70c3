using Gateway.Control.Hosting;
using Gateway.Control.Rules;
using Gateway.WebConsole.Security;
using Gateway.WebConsole.Sessions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.WebConsole.Pages;

/// <summary>
/// What every signed-in page shares: the session, the one control plane, and post-redirect-get for actions (a change
/// or a refusal becomes a notice on the page the browser is sent back to, so reloading it never repeats the action).
/// Razor Pages validate the antiforgery token of every POST before a handler here runs.
/// </summary>
internal abstract class ConsolePageModel : PageModel
{
    private IReadOnlyList<Notice>? _notices;

    /// <summary>The signed-in session (the gate lets no request without one reach these pages).</summary>
    public ConsoleSession Session => ConsoleGate.SessionOf(HttpContext) ?? throw new InvalidOperationException("a console page ran without a session");

    public GatewayHost Host => HttpContext.RequestServices.GetRequiredService<GatewayHost>();

    internal ControlPlane Plane => HttpContext.RequestServices.GetRequiredService<ControlPlane>();

    /// <summary>The page's heading and title.</summary>
    public abstract string Title { get; }

    /// <summary>The notices kept for this page (taken once: a reload shows none).</summary>
    public IReadOnlyList<Notice> Notices => _notices ??= Session.TakeNotices();

    /// <summary>
    /// Runs a change through the control plane: success or the cloud's refusal (code and message) becomes a notice,
    /// then the browser is sent back with a GET (303). A refused request changed nothing: the rules refuse before
    /// anything is written.
    /// </summary>
    protected IActionResult Act(Func<string> change, string? returnUrl = null)
    {
        try
        {
            Session.Notify(Notice.Done(change()));
        }
        catch (ApiException e)
        {
            Session.Notify(Notice.Refused(e.Code, e.Message));
        }
        return SeeOther(returnUrl ?? (Request.Path + Request.QueryString));
    }

    /// <summary>Input the form itself got wrong (not a number, out of range): refused like the API would.</summary>
    protected IActionResult Refuse(string code, string message, string? returnUrl = null)
    {
        Session.Notify(Notice.Refused(code, message));
        return SeeOther(returnUrl ?? (Request.Path + Request.QueryString));
    }

    protected IActionResult SeeOther(string url)
    {
        Response.Headers.Location = url;
        return new StatusCodeResult(StatusCodes.Status303SeeOther);
    }
}
