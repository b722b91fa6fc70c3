using Gateway.Control.Hosting;
#if GATEWAY_WEB_CONSOLE
using Gateway.WebConsole;
#else
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
#endif

namespace Gateway.Cli.Hosting;

/// <summary>
/// Whether this build of <c>gateway</c> carries the web console, and what the daemon and the lab say about it.
/// </summary>
/// <remarks>
/// The console is Razor Pages, which ASP.NET Core does not support under Native AOT (its AOT compatibility table lists
/// MVC and Razor Pages as unsupported; <c>AddRazorPages</c> is marked RequiresUnreferencedCode and RequiresDynamicCode).
/// The Native AOT publish (<c>scripts/publish.sh</c>) therefore builds without <c>Gateway.WebConsole</c>
/// (<c>GatewayWebConsole=false</c> in Gateway.Cli.csproj, which leaves <c>GATEWAY_WEB_CONSOLE</c> undefined); the
/// managed build (<c>dotnet gateway.dll</c>) has it. Everything else is the same code in both.
/// </remarks>
internal static class WebConsoleSupport
{
    /// <summary>The command that runs the build with the console, as the README names it (relative to a clone).</summary>
    public const string ManagedCommand = "dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll";

#if GATEWAY_WEB_CONSOLE
    /// <summary>True: this build serves the web console at <c>/console</c> on the API's listener.</summary>
    public static bool IsIncluded => true;

    /// <summary>What the daemon serves beside the API.</summary>
    public static IReadOnlyList<IListenerExtension> ListenerExtensions() => [new ConsoleExtension()];
#else
    /// <summary>False: the Native AOT build, without the web console.</summary>
    public static bool IsIncluded => false;

    /// <summary>Beside the API, only the note at <c>/console</c> that says where the console is.</summary>
    public static IReadOnlyList<IListenerExtension> ListenerExtensions() => [new AbsentConsole()];

    /// <summary>
    /// Answers under <c>/console</c> with 404 and the notice, so that a browser pointed at the console by habit or by the
    /// README says why there is none here, instead of the API's JSON error for a GET.
    /// </summary>
    private sealed class AbsentConsole : IListenerExtension
    {
        public void ConfigureServices(IServiceCollection services, GatewayHost host)
        {
        }

        public void Configure(WebApplication app) => app.Use(static (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments(ConsolePath, StringComparison.Ordinal))
            {
                return next(context);
            }
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            context.Response.ContentType = "text/plain; charset=utf-8";
            return context.Response.WriteAsync("gateway: the web console is " + NotInThisBuild("run") + "\n");
        });
    }
#endif

    /// <summary>Where the managed build serves the console (Gateway.WebConsole's ConsoleExtension.BasePath).</summary>
    public const string ConsolePath = "/console";

    /// <summary>
    /// What <c>gateway run</c> and <c>gateway lab up</c> print instead of the console's URL when the console is not in
    /// this build (after "the web console is" / "Web console:"): why, and the command that has it.
    /// </summary>
    /// <param name="command">The command to run instead, after <c>gateway</c>: <c>run</c>, <c>lab up</c>.</param>
    public static string NotInThisBuild(string command) =>
        "not part of this ahead-of-time (Native AOT) build: ASP.NET Core cannot compile its Razor Pages ahead of time. "
        + $"For the console at /console, use the managed build: {ManagedCommand} {command} ... (dotnet build src/Gateway.Cli -c Release builds it).";
}
