using System.Diagnostics;
using Gateway.DataPlane.Bindings;

namespace Gateway.Bench;

/// <summary>
/// How long a rebind takes to reach a reader: a reader thread spins on one public address while this thread
/// rebinds it; each sample is the time from just before <see cref="BindingTable.Bind"/> is called to the moment
/// the reader first sees the new private address (so it includes the writer's own work).
/// </summary>
internal static class VisibilityProbe
{
    /// <summary>
    /// Median and 99th-percentile latency in nanoseconds over <paramref name="samples"/> rebinds of binding 0
    /// (NaN when the reader did not see a rebind within a second: a machine too busy to say).
    /// </summary>
    public static (double Median, double P99) Measure(BindingTable table, int samples)
    {
        uint publicAddress = BenchAddresses.Public(0);
        long seenAt = 0;
        uint expected = 0;
        bool stop = false;
        var reader = new Thread(() =>
        {
            // Only the writer changes 'expected'; the reader remembers what it reported last (targets alternate),
            // so no write of the reader's can overwrite the writer's next target.
            uint reported = 0;
            while (!Volatile.Read(ref stop))
            {
                uint wanted = Volatile.Read(ref expected);
                if (wanted != reported && table.TryGetPrivate(publicAddress, out uint now, out _) && now == wanted)
                {
                    reported = wanted;
                    Volatile.Write(ref seenAt, Stopwatch.GetTimestamp());
                }
            }
        })
        { IsBackground = true, Name = "bench-visibility" };
        reader.Start();

        var latencies = new double[samples];
        for (int s = 0; s < samples; s++)
        {
            uint target = BenchAddresses.Private(0, (s & 1) == 0 ? 1 : 0);
            Volatile.Write(ref seenAt, 0);
            Volatile.Write(ref expected, target);
            long start = Stopwatch.GetTimestamp();
            table.Bind(publicAddress, target);
            long seen;
            var spin = new SpinWait();
            long giveUp = start + Stopwatch.Frequency; // a reader starved of CPU for a second: report what we have
            while ((seen = Volatile.Read(ref seenAt)) == 0 && Stopwatch.GetTimestamp() < giveUp)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
            if (seen == 0)
            {
                Volatile.Write(ref stop, true);
                reader.Join();
                return (double.NaN, double.NaN);
            }
            latencies[s] = (seen - start) * 1e9 / Stopwatch.Frequency;
        }
        Volatile.Write(ref stop, true);
        reader.Join();
        table.Bind(publicAddress, BenchAddresses.Private(0, 0));
        Array.Sort(latencies);
        return (latencies[samples / 2], latencies[Math.Min(samples - 1, samples * 99 / 100)]);
    }
}
