using System.Security.Cryptography;
using System.Text;
using Gateway.WebConsole.Sessions;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;

namespace Gateway.WebConsole.Security;

/// <summary>
/// Binds every antiforgery token to the session it was rendered for (a hash of the session id, never the id
/// itself, since tokens sit in the page): a token copied from one session is refused in another, and the sign-in
/// form's token (made without a session) is refused once one exists.
/// </summary>
internal sealed class SessionBoundAntiforgery : IAntiforgeryAdditionalDataProvider
{
    public string GetAdditionalData(HttpContext context) => Of(ConsoleGate.SessionOf(context));

    public bool ValidateAdditionalData(HttpContext context, string additionalData) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(additionalData ?? ""), Encoding.ASCII.GetBytes(Of(ConsoleGate.SessionOf(context))));

    private static string Of(ConsoleSession? session) =>
        session is null ? "" : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes("antiforgery:" + session.Id)))[..32];
}
