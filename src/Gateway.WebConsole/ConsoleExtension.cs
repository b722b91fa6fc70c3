using Gateway.Control.Hosting;
using Gateway.Control.Rules;
using Gateway.WebConsole.DataPath;
using Gateway.WebConsole.Security;
using Gateway.WebConsole.Sessions;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.ApplicationParts;
using Microsoft.AspNetCore.Mvc.Razor.Compilation;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.WebConsole;

/// <summary>
/// The web console ("CVM Console") at <c>/console</c> on the API's listener: Razor Pages rendered on the server,
/// sessions in memory, every change through the same <see cref="ControlPlane"/> as the API.
/// </summary>
/// <remarks>
/// <para>Request order under <c>/console</c>: <see cref="ConsoleGate"/> (security headers; embedded assets; the
/// session, without which only the sign-in page answers), then routing to the pages, whose POST handlers validate
/// ASP.NET Core's antiforgery token before they run. Paths outside <c>/console</c> pass straight to the API.</para>
/// <para>The data-protection keys behind antiforgery tokens live in memory, like the sessions: both end with the
/// process, so nothing here is written to the state directory.</para>
/// </remarks>
public sealed class ConsoleExtension : IListenerExtension
{
    /// <summary>Where the console is served.</summary>
    public const string BasePath = "/console";

    private readonly SessionLimits _limits;

    public ConsoleExtension()
        : this(SessionLimits.Default)
    {
    }

    internal ConsoleExtension(SessionLimits limits)
    {
        _limits = limits;
    }

    public void ConfigureServices(IServiceCollection services, GatewayHost host)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(host);
        services.AddSingleton(host);
        services.AddSingleton(host.Plane);
        var sessions = new SessionStore(_limits, host.Clock);
        services.AddSingleton(sessions);
        services.AddSingleton(new SignInThrottle(host.Clock));
        services.AddSingleton(new ConsoleGate(sessions));
        services.AddSingleton(new CountersStream(host, sessions, host.Clock));
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "gw-console-antiforgery";
            options.Cookie.Path = BasePath;
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
            options.HeaderName = null; // forms only: no script posts here
        });
        services.AddSingleton<IAntiforgeryAdditionalDataProvider, SessionBoundAntiforgery>();
        services.AddRazorPages()
            .ConfigureApplicationPartManager(parts =>
            {
                // Only this assembly's pages: whatever the entry assembly is (gateway, a test host), nothing else is mapped.
                parts.ApplicationParts.Clear();
                parts.ApplicationParts.Add(new AssemblyPart(typeof(ConsoleExtension).Assembly));
                parts.ApplicationParts.Add(new CompiledRazorAssemblyPart(typeof(ConsoleExtension).Assembly));
            });
    }

    public void Configure(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var gate = app.Services.GetRequiredService<ConsoleGate>();
        app.UseWhen(context => context.Request.Path.StartsWithSegments(BasePath, StringComparison.Ordinal), console => console.Use(gate.InvokeAsync));
        app.UseRouting();
        app.MapRazorPages();
        app.MapGet(BasePath + "/datapath/stream", (HttpContext context, CountersStream stream) => stream.ServeAsync(context));
        app.UseEndpoints(static _ => { });
    }
}
