using Gateway.DataPlane.Translation;

namespace Gateway.DataPlane.Counters;

/// <summary>The sum of several workers' counters at one moment (each counter read once, atomically).</summary>
public sealed class CounterSnapshot
{
    private readonly long[] _dropPackets = new long[DropReasons.Count];
    private readonly long[] _dropBytes = new long[DropReasons.Count];

    public long ReceivedPackets { get; private set; }
    public long ReceivedBytes { get; private set; }
    public long ForwardedPackets { get; private set; }
    public long ForwardedBytes { get; private set; }
    public long DroppedPackets { get; private set; }

    public long DropPackets(DropReason reason) => _dropPackets[(int)reason];

    public long DropBytes(DropReason reason) => _dropBytes[(int)reason];

    /// <summary>Drop reasons with a non-zero count, by their stable names, in enum order.</summary>
    public IEnumerable<KeyValuePair<string, long>> NonZeroDrops =>
        DropReasons.All.Where(r => _dropPackets[(int)r] != 0).Select(r => KeyValuePair.Create(DropReasons.Name(r), _dropPackets[(int)r]));

    public static CounterSnapshot Of(params IEnumerable<TrafficCounters> workers)
    {
        ArgumentNullException.ThrowIfNull(workers);
        var snapshot = new CounterSnapshot();
        Span<long> totals = stackalloc long[TrafficCounters.TotalsCount];
        foreach (var worker in workers)
        {
            // One consistent read per worker: whole batches only (see TrafficCounters).
            worker.ReadTotals(totals);
            snapshot.ReceivedPackets += totals[0];
            snapshot.ReceivedBytes += totals[1];
            snapshot.ForwardedPackets += totals[2];
            snapshot.ForwardedBytes += totals[3];
            foreach (var reason in DropReasons.All)
            {
                long packets = totals[4 + (2 * (int)reason)];
                snapshot._dropPackets[(int)reason] += packets;
                snapshot._dropBytes[(int)reason] += totals[4 + (2 * (int)reason) + 1];
                snapshot.DroppedPackets += packets;
            }
        }
        return snapshot;
    }

    /// <summary>One binding's traffic summed over the workers.</summary>
    public static BindingTraffic ForBinding(int bindingId, params IEnumerable<TrafficCounters> workers)
    {
        ArgumentNullException.ThrowIfNull(workers);
        BindingTraffic sum = default;
        foreach (var worker in workers)
        {
            sum += worker.ForBinding(bindingId);
        }
        return sum;
    }
}
