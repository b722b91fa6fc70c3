using System.Diagnostics;

namespace Gateway.DataPlane.Cluster;

/// <summary>
/// Until when this node's data path may forward: a deadline in <see cref="Stopwatch"/> ticks that the cluster's
/// election advances (standbys' acknowledgements, etcd transactions) and the data path's workers compare with the
/// clock once per batch. A node whose deadline passed is fenced: it behaves exactly as a standby.
/// </summary>
/// <remarks>
/// <para>One <c>long</c>, written with <see cref="Interlocked"/> by the election's threads and read with
/// <see cref="Volatile.Read(ref long)"/> by the workers: no lock and no allocation on the frame path. The deadline only
/// moves forward (<see cref="ExtendTo"/> keeps the maximum) except through <see cref="Revoke"/>.</para>
/// <para>The clock is <see cref="Stopwatch.GetTimestamp"/> (CLOCK_MONOTONIC on Linux), which keeps running while the
/// process is stopped (SIGSTOP) or starved: a worker that runs again after a stall sees the time it did not run and
/// is fenced before it forwards another frame, whatever the election's threads have not done yet.</para>
/// </remarks>
public sealed class ForwardingAuthority
{
    private long _until;

    private ForwardingAuthority(long until) => _until = until;

    /// <summary>Authority that never ends: one node, no cluster.</summary>
    public static ForwardingAuthority Unlimited() => new(long.MaxValue);

    /// <summary>No authority until <see cref="ExtendTo"/> grants some: a cluster node.</summary>
    public static ForwardingAuthority None() => new(long.MinValue);

    /// <summary>The deadline (Stopwatch ticks); <see cref="long.MinValue"/> when none was ever granted or it was revoked.</summary>
    public long Until => Volatile.Read(ref _until);

    /// <summary>True when a frame handled at <paramref name="timestamp"/> (Stopwatch ticks) may be forwarded.</summary>
    public bool Permits(long timestamp) => timestamp < Volatile.Read(ref _until);

    /// <summary>True when a frame handled now may be forwarded.</summary>
    public bool PermitsNow => Permits(Stopwatch.GetTimestamp());

    /// <summary>Moves the deadline to <paramref name="until"/> unless it is already later.</summary>
    /// <returns>True when the deadline moved.</returns>
    public bool ExtendTo(long until)
    {
        long seen = Volatile.Read(ref _until);
        while (seen < until)
        {
            long was = Interlocked.CompareExchange(ref _until, until, seen);
            if (was == seen)
            {
                return true;
            }
            seen = was;
        }
        return false;
    }

    /// <summary>Ends the authority at once (the node stood down, or stops).</summary>
    public void Revoke() => Interlocked.Exchange(ref _until, long.MinValue);
}
