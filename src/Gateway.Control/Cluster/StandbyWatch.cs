namespace Gateway.Control.Cluster;

/// <summary>
/// A standby's side of self-fencing: when may it ask etcd for the role, and which advertisements may it acknowledge?
/// An acknowledgement is a promise — "I will not take over before I have heard nothing for <c>silence</c> from now" —
/// that <see cref="ActiveAuthority"/> turns into permission to forward, so the two decisions share one lock.
/// </summary>
/// <remarks>
/// <para>The silence timer restarts on: an advertisement from the node the active key names (acknowledged), a change
/// of the key seen in etcd (another revision — a bump or a takeover — or the key appearing or vanishing), the end of
/// a takeover attempt that failed, and a new registration.</para>
/// <para>A takeover by silence needs the holder to have been heard since this node last registered (the direct path
/// works, so its silence means something); without that the standby waits for the key to vanish with the holder's
/// lease, and even then for <c>silence</c> after seeing it gone, because the holder may have been granted that long
/// by this node's earlier acknowledgements.</para>
/// <para>From <see cref="TryBeginTakeover"/> until <see cref="EndTakeover"/> nothing is acknowledged: a takeover in
/// flight whose outcome is unknown must not be contradicted by a promise.</para>
/// </remarks>
internal sealed class StandbyWatch
{
    private readonly long _silence;
    private readonly Lock _lock = new();
    private string? _holder;          // the node the active key names, as last read (null: absent or not read yet)
    private long _holderRevision = -1; // its mod revision (0: absent; -1: never read)
    private long _lastHeard;
    private bool _heardHolder;        // the holder's advertisement arrived since this node's registration
    private bool _takingOver;

    /// <param name="silenceTicks">Takeover silence (Stopwatch ticks).</param>
    /// <param name="now">Start: a new node waits one silence before it may take an absent key.</param>
    public StandbyWatch(long silenceTicks, long now)
    {
        _silence = silenceTicks;
        _lastHeard = now;
    }

    public long Silence => _silence;

    /// <summary>True from <see cref="TryBeginTakeover"/> until <see cref="EndTakeover"/>.</summary>
    public bool TakingOver
    {
        get
        {
            lock (_lock)
            {
                return _takingOver;
            }
        }
    }

    /// <summary>
    /// An advertisement from <paramref name="node"/> claiming the role arrived at <paramref name="now"/>.
    /// </summary>
    /// <returns>True: acknowledge it (the timer restarted and no takeover is under way).</returns>
    public bool OnAdvertisement(string node, long now)
    {
        lock (_lock)
        {
            if (_takingOver || _holder is null || !string.Equals(node, _holder, StringComparison.Ordinal))
            {
                // Not the node etcd names (or we do not know yet): no promise to it. A stale active node must get its
                // permission from etcd (a bump), which fails once another node holds the key.
                return false;
            }
            _lastHeard = now;
            _heardHolder = true;
            return true;
        }
    }

    /// <summary>The active key read at <paramref name="now"/>: <paramref name="holder"/> at <paramref name="modRevision"/> (null and 0: absent).</summary>
    public void OnKeyRead(string? holder, long modRevision, long now)
    {
        lock (_lock)
        {
            if (modRevision != _holderRevision || !string.Equals(holder, _holder, StringComparison.Ordinal))
            {
                if (!string.Equals(holder, _holder, StringComparison.Ordinal))
                {
                    _heardHolder = false; // a new holder must be heard before its silence counts
                }
                _holder = holder;
                _holderRevision = modRevision;
                _lastHeard = now;
            }
        }
    }

    /// <summary>This node took a new lease and registered again: whatever it heard before does not count any more.</summary>
    public void OnRegistered(long now)
    {
        lock (_lock)
        {
            _heardHolder = false;
            _lastHeard = Math.Max(_lastHeard, now);
        }
    }

    /// <summary>
    /// May this node ask etcd for the role now? If so, acknowledgements stop until <see cref="EndTakeover"/>.
    /// </summary>
    public bool TryBeginTakeover(long now)
    {
        lock (_lock)
        {
            if (_takingOver || _holderRevision < 0 || now - _lastHeard < _silence)
            {
                return false;
            }
            if (_holder is not null && !_heardHolder)
            {
                return false; // never heard it: wait for its lease to take the key away
            }
            _takingOver = true;
            return true;
        }
    }

    /// <summary>The takeover attempt ended: won, or lost (then the timer restarts: etcd had news).</summary>
    public void EndTakeover(bool won, long now)
    {
        lock (_lock)
        {
            _takingOver = false;
            if (!won)
            {
                _lastHeard = now;
            }
        }
    }
}
