using System.Globalization;
using Gateway.Control.Hosting;

namespace Gateway.WebConsole.DataPath;

/// <summary>What the Data path page shows, and what its live stream sends: the rows of every attached data path
/// and their total, with every drop reason any row knows as a column.</summary>
internal sealed record CountersView(string At, IReadOnlyList<string> Reasons, IReadOnlyList<CountersView.Row> Rows, IReadOnlyList<KeyValuePair<string, string>> Notes)
{
    public bool HasDataPath => Rows.Count > 0;

    public static CountersView Of(GatewayHost host, TimeProvider clock)
    {
        var snapshots = host.DataPathCounters.Select(p => p.ReadCounters()).ToList();
        string at = clock.GetUtcNow().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
        if (snapshots.Count == 0)
        {
            return new CountersView(at, [], [], []);
        }
        var all = new DataPathCounterSnapshot([.. snapshots.SelectMany(s => s.Rows)], [.. snapshots.SelectMany(s => s.Notes)]);
        var reasons = all.Rows.SelectMany(r => r.Drops.Select(d => d.Key)).Distinct(StringComparer.Ordinal).ToList();
        var rows = all.Rows.Select((r, i) => Row.Of($"r{i.ToString(CultureInfo.InvariantCulture)}", r, reasons)).ToList();
        rows.Add(Row.Of("total", all.Total(), reasons));
        return new CountersView(at, reasons, rows, all.Notes);
    }

    /// <param name="Key">Stable within a daemon's life: the page's cells and the stream's values meet by it.</param>
    internal sealed record Row(string Key, string Name, string Role, long Received, long ReceivedBytes, long Forwarded, long ForwardedBytes, long Dropped, IReadOnlyList<long> Drops, IReadOnlyList<KeyValuePair<string, long>> Details)
    {
        public static Row Of(string key, DataPathCounterRow row, IReadOnlyList<string> reasons)
        {
            var drops = row.Drops.ToDictionary(d => d.Key, d => d.Value, StringComparer.Ordinal);
            return new Row(key, row.Name, row.Role, row.ReceivedPackets, row.ReceivedBytes, row.ForwardedPackets, row.ForwardedBytes, row.DroppedPackets,
                [.. reasons.Select(r => drops.GetValueOrDefault(r))], row.Details);
        }
    }
}
