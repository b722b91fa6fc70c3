using System.Globalization;
using System.Net;
using Gateway.Control.Api;
using Gateway.Control.Hosting;
using Gateway.Control.Metering;
using Gateway.Control.Rules;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;
using Gateway.Packets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace Gateway.Control.Metrics;

/// <summary>
/// The Prometheus scrape endpoint (<c>GET /metrics</c>, text exposition format 0.0.4), written with prometheus-net.
/// </summary>
/// <remarks>
/// Nothing here runs per packet: at each scrape a before-collect callback reads the workers' counters and the
/// meters (plain loads of numbers the workers keep anyway) and sets the library's counters to them
/// (<c>IncTo</c>). API requests are counted as they are answered (one call per request, not per packet).
/// Series (label names in braces):
/// <list type="bullet">
/// <item><c>gateway_traffic_bytes_total{public_ip,direction}</c>, <c>gateway_traffic_packets_total{public_ip,direction}</c>:
/// IPv4 bytes (total lengths) and packets forwarded per public address, direction <c>out</c> (to the internet) or <c>in</c>.</item>
/// <item><c>gateway_bandwidth_dropped_bytes_total</c>, <c>gateway_bandwidth_dropped_packets_total{public_ip,direction}</c>: what the caps dropped.</item>
/// <item><c>gateway_bandwidth_cap_mbps{instance_id,public_ip,direction}</c>: each instance's caps.</item>
/// <item><c>gateway_frames_received_total</c>, <c>gateway_frames_forwarded_total</c>, <c>gateway_frames_dropped_total{reason}</c>: the data path.</item>
/// <item><c>gateway_bindings</c>: bindings in the table.</item>
/// <item><c>gateway_api_requests_total{action,code}</c> (code <c>OK</c> on success) and
/// <c>gateway_api_request_duration_seconds{action}</c> (histogram).</item>
/// </list>
/// </remarks>
internal sealed class MetricsEndpoint : IApiObserver, IAsyncDisposable
{
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly Counter _bytes;
    private readonly Counter _packets;
    private readonly Counter _droppedBytes;
    private readonly Counter _droppedPackets;
    private readonly Gauge _caps;
    private readonly Counter _framesReceived;
    private readonly Counter _framesForwarded;
    private readonly Counter _framesDropped;
    private readonly Gauge _bindings;
    private readonly Counter _apiRequests;
    private readonly Histogram _apiLatency;
    private readonly ControlPlane _plane;
    private readonly BindingTable _table;
    private readonly TrafficMeter? _meter;
    private readonly Func<IReadOnlyList<IDataPathCounters>> _dataPaths;
    private readonly Lock _capsLock = new();
    private HashSet<(string, string, string)> _capSeries = [];
    private WebApplication? _app;

    public MetricsEndpoint(ControlPlane plane, BindingTable table, TrafficMeter? meter, Func<IReadOnlyList<IDataPathCounters>> dataPaths)
    {
        _plane = plane;
        _table = table;
        _meter = meter;
        _dataPaths = dataPaths;
        var factory = Prometheus.Metrics.WithCustomRegistry(_registry);
        string[] byAddress = ["public_ip", "direction"];
        _bytes = factory.CreateCounter("gateway_traffic_bytes_total", "IPv4 bytes (total lengths) forwarded per public address; direction out = to the internet.", byAddress);
        _packets = factory.CreateCounter("gateway_traffic_packets_total", "IPv4 packets forwarded per public address and direction.", byAddress);
        _droppedBytes = factory.CreateCounter("gateway_bandwidth_dropped_bytes_total", "IPv4 bytes the bandwidth caps dropped per public address and direction.", byAddress);
        _droppedPackets = factory.CreateCounter("gateway_bandwidth_dropped_packets_total", "Packets the bandwidth caps dropped per public address and direction.", byAddress);
        _caps = factory.CreateGauge("gateway_bandwidth_cap_mbps", "Each instance's bandwidth cap in Mbps, per direction (0: not capped).", ["instance_id", "public_ip", "direction"]);
        _framesReceived = factory.CreateCounter("gateway_frames_received_total", "Frames the data path received.");
        _framesForwarded = factory.CreateCounter("gateway_frames_forwarded_total", "Frames the data path forwarded.");
        _framesDropped = factory.CreateCounter("gateway_frames_dropped_total", "Frames the data path dropped, by reason.", ["reason"]);
        _bindings = factory.CreateGauge("gateway_bindings", "Public-to-private bindings in the data plane's table.");
        _apiRequests = factory.CreateCounter("gateway_api_requests_total", "API requests answered, by action and error code (OK on success).", ["action", "code"]);
        _apiLatency = factory.CreateHistogram("gateway_api_request_duration_seconds", "Time from a request's arrival to its answer, by action.",
            new HistogramConfiguration { LabelNames = ["action"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 14) });
        _registry.AddBeforeCollectCallback(Collect);
    }

    /// <summary>Where the endpoint listens (the real port when 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    public void Answered(string action, string errorCode, TimeSpan elapsed)
    {
        _apiRequests.WithLabels(action, errorCode.Length == 0 ? "OK" : errorCode).Inc();
        _apiLatency.WithLabels(action).Observe(elapsed.TotalSeconds);
    }

    public async Task StartAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.Listen(endPoint);
            options.AddServerHeader = false;
        });
        var app = builder.Build();
        app.Run(ServeAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        EndPoint = new IPEndPoint(endPoint.Address, new Uri(address).Port);
    }

    /// <summary>The whole exposition as text (what a scrape returns), for tests and <c>promtool check metrics</c>.</summary>
    public async Task<string> ScrapeAsync(CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        await _registry.CollectAndExportAsTextAsync(buffer, cancellationToken).ConfigureAwait(false);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private async Task ServeAsync(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }
        if (context.Request.Path.Value is not ("/metrics" or "/"))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsync("Prometheus metrics are at /metrics\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await _registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    private void Collect()
    {
        if (_meter is not null)
        {
            foreach (var (kind, key, t) in _meter.AllTotals())
            {
                if (kind != MeterKind.Address)
                {
                    continue;
                }
                _bytes.WithLabels(key, "out").IncTo(t.OutBytes);
                _bytes.WithLabels(key, "in").IncTo(t.InBytes);
                _packets.WithLabels(key, "out").IncTo(t.OutPackets);
                _packets.WithLabels(key, "in").IncTo(t.InPackets);
                _droppedBytes.WithLabels(key, "out").IncTo(t.OutDroppedBytes);
                _droppedBytes.WithLabels(key, "in").IncTo(t.InDroppedBytes);
                _droppedPackets.WithLabels(key, "out").IncTo(t.OutDroppedPackets);
                _droppedPackets.WithLabels(key, "in").IncTo(t.InDroppedPackets);
            }
        }

        lock (_capsLock)
        {
            var series = new HashSet<(string, string, string)>();
            foreach (var (instanceId, publicIp, caps) in _plane.InstanceCaps())
            {
                string ip = publicIp is uint p ? Ipv4Address.Format(p) : "";
                if (publicIp is not null)
                {
                    // A bound address's series exist from the start at 0, so a rate over its first traffic sees all of it.
                    foreach (string direction in (string[])["out", "in"])
                    {
                        _bytes.WithLabels(ip, direction).IncTo(0);
                        _packets.WithLabels(ip, direction).IncTo(0);
                        _droppedBytes.WithLabels(ip, direction).IncTo(0);
                        _droppedPackets.WithLabels(ip, direction).IncTo(0);
                    }
                }
                _caps.WithLabels(instanceId, ip, "out").Set(caps.OutboundKbps / 1000.0);
                _caps.WithLabels(instanceId, ip, "in").Set(caps.InboundKbps / 1000.0);
                series.Add((instanceId, ip, "out"));
                series.Add((instanceId, ip, "in"));
            }
            foreach (var gone in _capSeries.Except(series))
            {
                _caps.RemoveLabelled(gone.Item1, gone.Item2, gone.Item3); // a terminated instance or a moved address has no cap any more
            }
            _capSeries = series;
        }

        var paths = _dataPaths();
        if (paths.Count > 0)
        {
            long received = 0, forwarded = 0;
            var drops = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var path in paths)
            {
                var total = path.ReadCounters().Total();
                received += total.ReceivedPackets;
                forwarded += total.ForwardedPackets;
                foreach (var (reason, count) in total.Drops)
                {
                    drops[reason] = drops.GetValueOrDefault(reason) + count;
                }
            }
            _framesReceived.IncTo(received);
            // Forwarded can step back when a translated frame later fails ARP (it moves to dropped); a counter must not.
            _framesForwarded.IncTo(Math.Max(forwarded, _framesForwarded.Value));
            foreach (var reason in DropReasons.All)
            {
                _framesDropped.WithLabels(DropReasons.Name(reason)).IncTo(drops.GetValueOrDefault(DropReasons.Name(reason)));
            }
        }
        _bindings.Set(_table.Count);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync().ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
            _app = null;
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"metrics at http://{EndPoint}/metrics");
}
