using System.Text.Json;
using Gateway.Control.Hosting;
using Gateway.WebConsole.Security;
using Gateway.WebConsole.Sessions;
using Microsoft.AspNetCore.Http;

namespace Gateway.WebConsole.DataPath;

/// <summary>
/// The Data path page's live counters as server-sent events (<c>text/event-stream</c>): one <c>counters</c> event
/// a second, so the page is at most about a second behind. The stream ends when the session ends or expires.
/// </summary>
internal sealed class CountersStream(GatewayHost host, SessionStore sessions, TimeProvider clock)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public async Task ServeAsync(HttpContext context)
    {
        var session = ConsoleGate.SessionOf(context)!; // the gate let the request through: there is one
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        // Tell the browser how soon to reconnect after a dropped connection (milliseconds).
        await response.WriteAsync("retry: 2000\n\n", context.RequestAborted).ConfigureAwait(false);
        using var timer = new PeriodicTimer(Interval, clock);
        try
        {
            do
            {
                if (!sessions.IsLive(session))
                {
                    await response.WriteAsync("event: signed-out\ndata: {}\n\n", context.RequestAborted).ConfigureAwait(false);
                    return;
                }
                string json = JsonSerializer.Serialize(CountersView.Of(host, clock));
                await response.WriteAsync($"event: counters\ndata: {json}\n\n", context.RequestAborted).ConfigureAwait(false);
                await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(context.RequestAborted).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The page was closed or left.
        }
    }
}
