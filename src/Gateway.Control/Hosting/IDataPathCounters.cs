namespace Gateway.Control.Hosting;

/// <summary>
/// A data path's counters as the control side shows them (the console's Data path page): one row per port (or per
/// group of workers the path counts apart), drops by their stable reason names. Implemented by the data path's
/// attachment; read from any thread at any time, without stopping or slowing the frame path.
/// </summary>
public interface IDataPathCounters
{
    /// <summary>The counters now. Each value is read atomically; rows need not be one instant.</summary>
    DataPathCounterSnapshot ReadCounters();
}

/// <summary>The counters of every row of a data path at one reading.</summary>
/// <param name="Rows">In display order: ports first, then anything the path counts apart (ARP maintenance, ...).</param>
/// <param name="Notes">Short facts about the path (ports, MACs, gateway address), shown beside the counters.</param>
public sealed record DataPathCounterSnapshot(IReadOnlyList<DataPathCounterRow> Rows, IReadOnlyList<KeyValuePair<string, string>> Notes)
{
    /// <summary>The rows summed: every frame the path received is counted once, forwarded or dropped.</summary>
    public DataPathCounterRow Total()
    {
        var drops = new Dictionary<string, long>(StringComparer.Ordinal);
        var order = new List<string>();
        long receivedPackets = 0, receivedBytes = 0, forwardedPackets = 0, forwardedBytes = 0;
        foreach (var row in Rows)
        {
            receivedPackets += row.ReceivedPackets;
            receivedBytes += row.ReceivedBytes;
            forwardedPackets += row.ForwardedPackets;
            forwardedBytes += row.ForwardedBytes;
            foreach (var (reason, count) in row.Drops)
            {
                if (!drops.TryAdd(reason, count))
                {
                    drops[reason] += count;
                }
                else
                {
                    order.Add(reason);
                }
            }
        }
        return new DataPathCounterRow("total", "all rows", receivedPackets, receivedBytes, forwardedPackets, forwardedBytes,
            [.. order.Select(r => KeyValuePair.Create(r, drops[r]))], []);
    }
}

/// <summary>One row of counters: frames received on a port (or counted by one part of the path) and what became of them.</summary>
/// <param name="Name">Short name (the port's device name, or the part's).</param>
/// <param name="Role">What the row is: "internet port", "VPC port", "ARP queue", ...</param>
/// <param name="Drops">Every drop reason the path knows, by stable name (<c>no-binding</c>, <c>spoofed-source</c>, ...),
/// zero counts included so the columns stay the same while traffic changes.</param>
/// <param name="Details">Other counters of the row (ARP replies sent, neighbours known, ...).</param>
public sealed record DataPathCounterRow(
    string Name,
    string Role,
    long ReceivedPackets,
    long ReceivedBytes,
    long ForwardedPackets,
    long ForwardedBytes,
    IReadOnlyList<KeyValuePair<string, long>> Drops,
    IReadOnlyList<KeyValuePair<string, long>> Details)
{
    public long DroppedPackets => Drops.Sum(d => d.Value);
}
