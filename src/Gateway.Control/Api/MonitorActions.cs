using System.Globalization;
using System.Text.Json.Nodes;
using Gateway.Control.Metering;
using Gateway.Control.Model;
using Gateway.Control.Rules;
using Gateway.Packets;

namespace Gateway.Control.Api;

/// <summary>
/// The monitor 2018-07-24 subset: <c>GetMonitorData</c> for namespace <c>QCE/CVM</c>, dimension <c>InstanceId</c>, the
/// public-network metrics the cloud bills by, from the gateway's own metering (<see cref="TrafficMeter"/>).
/// </summary>
/// <remarks>
/// <para>Metrics (per period of <c>Period</c> seconds, each point stamped with the Unix time its period starts):
/// <c>WanOuttraffic</c> and <c>WanIntraffic</c> — average Mbps (bits / period / 10⁶); <c>WanOutpkg</c> and
/// <c>WanInpkg</c> — packets per second; <c>AccOuttraffic</c> — MB sent in the period (10⁶ bytes). Bytes are IPv4
/// total lengths, as the policer charges them. <c>Period</c> is 10, 60 or 300 (default 300); points come only for
/// periods that have closed, from the first period the gateway metered on, with 0 where nothing flowed. The last
/// 24 hours are kept at 10 s; older data (31 days) at 300 s, so serves only <c>Period</c> 300.</para>
/// <para>Errors: a missing parameter is <c>MissingParameter</c>; an unknown namespace, metric, dimension or period,
/// a time that does not parse or an end before the start is <c>InvalidParameterValue</c> (the real service answers
/// "namespace or metricName invalid" with that code; see the README for what could not be confirmed); more than
/// <see cref="MaxInstances"/> instances or <see cref="MaxPoints"/> points per instance is
/// <c>InvalidParameterValue.LimitExceeded</c>.</para>
/// </remarks>
internal static class MonitorActions
{
    public const string Version = "2018-07-24";
    public const string Namespace = "QCE/CVM";
    public const string Dimension = "InstanceId";
    public const int MaxInstances = 50;
    public const int MaxPoints = 1440;

    /// <summary>The metrics served, by their cloud names (matched without regard to case, answered in this spelling).</summary>
    public static readonly IReadOnlyList<string> Metrics = ["WanOuttraffic", "WanIntraffic", "WanOutpkg", "WanInpkg", "AccOuttraffic"];

    private static readonly int[] s_periods = [10, 60, 300];

    public static void Register(Dictionary<string, Func<ControlPlane, RequestArgs, JsonObject>> actions, TrafficMeter? meter, TimeProvider clock)
    {
        actions["GetMonitorData"] = (plane, args) => GetMonitorData(meter, clock, args);
        actions["DescribeTrafficMeters"] = (plane, args) => DescribeTrafficMeters(plane, meter, args);
    }

    private static JsonObject GetMonitorData(TrafficMeter? meter, TimeProvider clock, RequestArgs args)
    {
        string ns = args.RequiredString("Namespace");
        if (!string.Equals(ns, Namespace, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ErrorCodes.InvalidParameterValue, $"namespace or metricName invalid: the namespace {ns} is not served here; this gateway serves {Namespace} (its public-network metrics).");
        }
        string metricText = args.RequiredString("MetricName");
        string metric = Metrics.FirstOrDefault(m => string.Equals(m, metricText, StringComparison.OrdinalIgnoreCase))
            ?? throw new ApiException(ErrorCodes.InvalidParameterValue, $"namespace or metricName invalid: {Namespace} has no metric {metricText} here; served: {string.Join(", ", Metrics)}.");
        int period = args.Int("Period") ?? 300;
        if (Array.IndexOf(s_periods, period) < 0)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValue, $"Period {period} is not supported for {metric}: give 10, 60 or 300 (seconds).");
        }
        var instances = args.Objects("Instances", MaxInstances + 1) ?? throw new ApiException(ErrorCodes.MissingParameter, "The request is missing the required parameter Instances.");
        if (instances.Count == 0)
        {
            throw new ApiException(ErrorCodes.MissingParameter, "Instances is empty; give at least one [{\"Dimensions\":[{\"Name\":\"InstanceId\",\"Value\":\"ins-...\"}]}].");
        }
        if (instances.Count > MaxInstances)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValueLimitExceeded, $"Instances has {instances.Count} entries; at most {MaxInstances} per request.");
        }
        var ids = new List<string>();
        foreach (var instance in instances)
        {
            var dimensions = instance.Objects("Dimensions") ?? throw new ApiException(ErrorCodes.MissingParameter, "Every entry of Instances needs Dimensions: [{\"Name\":\"InstanceId\",\"Value\":\"ins-...\"}].");
            if (dimensions.Count != 1)
            {
                throw new ApiException(ErrorCodes.InvalidParameterValue, $"{Namespace} is keyed by one dimension, InstanceId; an entry of Instances has {dimensions.Count}.");
            }
            string name = dimensions[0].RequiredString("Name");
            if (name != Dimension)
            {
                throw new ApiException(ErrorCodes.InvalidParameterValue, $"The dimension {name} does not exist in {Namespace}; its dimension is {Dimension}.");
            }
            ids.Add(dimensions[0].RequiredString("Value"));
        }

        var now = clock.GetUtcNow();
        DateTimeOffset end = ParseTime(args, "EndTime") ?? now;
        DateTimeOffset start = ParseTime(args, "StartTime") ?? end.AddHours(-1);
        if (end < start)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValue, $"EndTime {Format(end)} is before StartTime {Format(start)}.");
        }
        long from = Floor(start.ToUnixTimeSeconds(), period);
        long to = Floor(end.ToUnixTimeSeconds(), period);
        if ((to - from) / period + 1 > MaxPoints)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValueLimitExceeded,
                $"{StartAndEnd(start, end)} at Period {period} is {((to - from) / period) + 1} points; at most {MaxPoints} per request: narrow the range or give a longer Period.");
        }

        var points = new JsonArray();
        var store = meter?.Store;
        long? since = store?.MeteringSince;
        long? last = store?.LastPeriod;
        foreach (string id in ids)
        {
            var timestamps = new JsonArray();
            var values = new JsonArray();
            if (store is not null && since is long first && last is long lastPeriod)
            {
                var buckets = new SortedDictionary<long, MeterTotals>();
                foreach (var row in store.Read(MeterKind.Instance, [id], from, to + period - 1))
                {
                    if (row.Resolution > period)
                    {
                        continue; // older than a day: kept at 300 s, which a shorter Period cannot split
                    }
                    long bucket = Floor(row.PeriodStart, period);
                    buckets[bucket] = buckets.GetValueOrDefault(bucket) + row.Totals;
                }
                for (long p = Math.Max(from, Floor(first, period)); p <= to; p += period)
                {
                    if (p + period - MeteringStore.FineResolution > lastPeriod)
                    {
                        break; // not closed yet
                    }
                    timestamps.Add(p);
                    values.Add(Value(metric, buckets.GetValueOrDefault(p), period));
                }
            }
            points.Add(new JsonObject
            {
                ["Dimensions"] = new JsonArray(new JsonObject { ["Name"] = Dimension, ["Value"] = id }),
                ["Timestamps"] = timestamps,
                ["Values"] = values,
            });
        }
        return new JsonObject
        {
            ["Period"] = period,
            ["MetricName"] = metric,
            ["DataPoints"] = points,
            ["StartTime"] = Format(start),
            ["EndTime"] = Format(end),
            ["Msg"] = "",
        };
    }

    /// <summary>The value a metric takes for one period's totals.</summary>
    internal static double Value(string metric, MeterTotals t, int period) => metric switch
    {
        "WanOuttraffic" => Round(t.OutBytes * 8.0 / period / 1e6),
        "WanIntraffic" => Round(t.InBytes * 8.0 / period / 1e6),
        "WanOutpkg" => Round((double)t.OutPackets / period),
        "WanInpkg" => Round((double)t.InPackets / period),
        _ => Round(t.OutBytes / 1e6),
    };

    private static double Round(double value) => Math.Round(value, 6);

    /// <summary>
    /// Not a cloud action: the emulator's own view for <c>gateway ctl traffic</c> — per instance its caps, the rates of
    /// the last second, totals and drops by the caps.
    /// </summary>
    private static JsonObject DescribeTrafficMeters(ControlPlane plane, TrafficMeter? meter, RequestArgs args)
    {
        var wanted = args.Strings("InstanceIds");
        var all = plane.InstanceCaps();
        foreach (string id in wanted ?? [])
        {
            if (!ResourceIds.IsWellFormed(id, ResourceIds.InstancePrefix))
            {
                throw new ApiException(ErrorCodes.InstanceIdMalformed, $"'{id}' is not an instance id; ids look like ins-xxxxxxxx.");
            }
            if (!all.Any(i => i.InstanceId == id))
            {
                throw new ApiException(ErrorCodes.InstanceIdNotFound, $"The instance {id} does not exist.");
            }
        }
        var selected = all.Where(i => wanted is null || wanted.Contains(i.InstanceId)).ToList();
        var traffic = meter?.Instances(selected) ?? [.. selected.Select(i => new InstanceTraffic(i.InstanceId, i.PublicIp, i.Caps, default, 0, 0, 0, 0))];
        var set = new JsonArray();
        foreach (var t in traffic)
        {
            set.Add(new JsonObject
            {
                ["InstanceId"] = t.InstanceId,
                ["PublicIpAddress"] = t.PublicIp is uint ip ? Ipv4Address.Format(ip) : null,
                ["BandwidthOutKbps"] = t.Caps.OutboundKbps,
                ["BandwidthInKbps"] = t.Caps.InboundKbps,
                ["OutMbps"] = Round(t.OutMbps),
                ["InMbps"] = Round(t.InMbps),
                ["OutPacketsPerSecond"] = Round(t.OutPacketsPerSecond),
                ["InPacketsPerSecond"] = Round(t.InPacketsPerSecond),
                ["OutBytes"] = t.Totals.OutBytes,
                ["OutPackets"] = t.Totals.OutPackets,
                ["InBytes"] = t.Totals.InBytes,
                ["InPackets"] = t.Totals.InPackets,
                ["OutDroppedBytes"] = t.Totals.OutDroppedBytes,
                ["OutDroppedPackets"] = t.Totals.OutDroppedPackets,
                ["InDroppedBytes"] = t.Totals.InDroppedBytes,
                ["InDroppedPackets"] = t.Totals.InDroppedPackets,
            });
        }
        return new JsonObject { ["TotalCount"] = set.Count, ["InstanceSet"] = set };
    }

    private static DateTimeOffset? ParseTime(RequestArgs args, string name)
    {
        string? text = args.String(name);
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        // The SDK documents 2018-09-22T19:51:23+08:00; "2018-09-22 19:51:23" (Beijing time, as the console shows) is taken too.
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
            && (text.Contains('+', StringComparison.Ordinal) || text.EndsWith('Z') || text.LastIndexOf('-') > 9))
        {
            return time;
        }
        if (DateTime.TryParseExact(text, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            return new DateTimeOffset(local, TimeSpan.FromHours(8));
        }
        throw new ApiException(ErrorCodes.InvalidParameterValue, $"{name} '{text}' is not a time like 2018-09-22T19:51:23+08:00.");
    }

    private static long Floor(long seconds, long period) => seconds - (((seconds % period) + period) % period);

    private static string Format(DateTimeOffset time) => time.ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture);

    private static string StartAndEnd(DateTimeOffset start, DateTimeOffset end) => $"{Format(start)} to {Format(end)}";
}
