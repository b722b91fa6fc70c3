using Gateway.DataPlane.Cluster;

namespace Gateway.Control.Cluster;

/// <summary>
/// The active node's side of self-fencing: when may its data path forward? It may while the clock is before a deadline
/// that only two events advance — every standby acknowledged an advertisement, or a "bump" transaction committed in
/// etcd — each to the moment the evidence was sent plus the standbys' takeover silence, less a margin.
/// </summary>
/// <remarks>
/// <para><b>Why an acknowledgement is enough.</b> A standby restarts its silence timer when it receives an
/// advertisement (at or after the moment <c>t</c> it was sent) and acknowledges it only when it is not already trying to
/// take over (<see cref="StandbyWatch"/>). It asks etcd for the role only after <c>silence</c> more without hearing
/// the active: not before <c>t + silence</c>. The active stops by <c>t + silence − margin</c>. Every standby the
/// active knows must have acknowledged the round; a node the active does not know has not heard it since it last
/// registered, and a standby that has not heard the active never takes over by silence.</para>
/// <para><b>Why a bump is enough.</b> A bump rewrites the active key comparing the mod revision this node last wrote,
/// so it commits only if no takeover committed first, and every takeover transaction prepared on the older revision
/// fails after it. A standby learns the new revision only by reading it — which restarts its silence timer — so no
/// takeover can commit before the bump's commit plus <c>silence</c>, later than its send time plus <c>silence</c>.
/// Bumps keep a node authorised when no standby exists or one is silent (dead until its lease expires).</para>
/// <para><b>Neither.</b> When etcd loses quorum while the standbys still hear the active, their acknowledgements keep
/// it forwarding — they cannot commit a takeover, and they are not trying. When it has no standby at all, a proof that
/// etcd cannot commit (<see cref="NoQuorumProven"/>) does. When a standby is silent and no bump commits (etcd without
/// quorum, or this node cut off from both), the deadline passes and the node is fenced: that standby may be dead, or
/// alive beside an etcd majority this node cannot reach, ready to commit a takeover — from here the two look the same.</para>
/// <para>Thread-safe (the advertiser, the acknowledgement listener and the election call it); never on the frame
/// path, which only reads <see cref="ForwardingAuthority"/>.</para>
/// </remarks>
internal sealed class ActiveAuthority
{
    private const int RoundsKept = 16;

    private readonly ForwardingAuthority _target;
    private readonly long _silence;
    private readonly long _margin;
    private readonly Lock _lock = new();
    private readonly Round?[] _rounds = new Round?[RoundsKept];
    private long _nextSequence = 1;
    private long _shortestPeerSilence = long.MaxValue;
    private bool _holding;

    /// <param name="target">The deadline the data path reads.</param>
    /// <param name="silenceTicks">This node's own takeover silence (Stopwatch ticks); a standby that announces a shorter one is believed.</param>
    /// <param name="marginTicks">Subtracted from every grant: covers a worker's batch between its clock check and its sends.</param>
    public ActiveAuthority(ForwardingAuthority target, long silenceTicks, long marginTicks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(silenceTicks, marginTicks);
        _target = target;
        _silence = silenceTicks;
        _margin = marginTicks;
    }

    /// <summary>True between <see cref="Acquired"/> and <see cref="Released"/>.</summary>
    public bool Holding
    {
        get
        {
            lock (_lock)
            {
                return _holding;
            }
        }
    }

    /// <summary>How long a grant made at the moment evidence was sent lasts (ticks).</summary>
    public long Window
    {
        get
        {
            lock (_lock)
            {
                return WindowLocked();
            }
        }
    }

    private long WindowLocked() => Math.Min(_silence, _shortestPeerSilence) - _margin;

    /// <summary>This node's transaction that took the role, sent at <paramref name="sentAt"/>, committed: it counts as a bump.</summary>
    public void Acquired(long sentAt)
    {
        lock (_lock)
        {
            _holding = true;
            Array.Clear(_rounds);
            _target.ExtendTo(sentAt + WindowLocked());
        }
    }

    /// <summary>This node is no longer active (another holds the key, the lease is gone, or it stops): fenced at once.</summary>
    public void Released()
    {
        lock (_lock)
        {
            _holding = false;
            Array.Clear(_rounds);
            _target.Revoke();
        }
    }

    /// <summary>
    /// An advertisement round is being sent at <paramref name="sentAt"/> to <paramref name="standbys"/>.
    /// </summary>
    /// <returns>The round's sequence number, to put in the advertisement (0 when this node does not hold the role).</returns>
    public long StartRound(long sentAt, IReadOnlyCollection<string> standbys)
    {
        lock (_lock)
        {
            if (!_holding)
            {
                return 0;
            }
            long sequence = _nextSequence++;
            // No standby, no acknowledgement can grant anything: a node nobody has heard of may still take over once
            // this node's lease is gone, so only a bump keeps a lone node authorised.
            _rounds[sequence % RoundsKept] = new Round(sequence, sentAt, new HashSet<string>(standbys, StringComparer.Ordinal));
            return sequence;
        }
    }

    /// <summary>
    /// <paramref name="node"/> acknowledged round <paramref name="sequence"/>, announcing its own takeover silence.
    /// </summary>
    /// <returns>True when this completed the round and moved the deadline.</returns>
    public bool Acknowledged(string node, long sequence, long nodeSilenceTicks)
    {
        lock (_lock)
        {
            if (!_holding || sequence <= 0 || _rounds[sequence % RoundsKept] is not { } round || round.Sequence != sequence)
            {
                return false;
            }
            if (nodeSilenceTicks > 0 && nodeSilenceTicks < _shortestPeerSilence)
            {
                _shortestPeerSilence = Math.Max(nodeSilenceTicks, _margin + 1);
            }
            if (!round.Waiting.Remove(node) || round.Waiting.Count > 0)
            {
                return false;
            }
            _rounds[sequence % RoundsKept] = null;
            return _target.ExtendTo(round.SentAt + WindowLocked());
        }
    }

    /// <summary>A bump sent at <paramref name="sentAt"/> committed (this node still held the key at its revision).</summary>
    public void Bumped(long sentAt)
    {
        lock (_lock)
        {
            if (_holding)
            {
                _target.ExtendTo(sentAt + WindowLocked());
            }
        }
    }

    /// <summary>
    /// etcd was shown unable to commit (<see cref="QuorumProbe"/>), asked at <paramref name="askedAt"/>, while this
    /// node had no standby: nobody can take the role before its lease expires, which cannot happen before the
    /// proof's time plus the lease's TTL. The caller checks there is no standby; a standby could commit at once.
    /// </summary>
    public void NoQuorumProven(long askedAt, long leaseTtlTicks)
    {
        lock (_lock)
        {
            if (_holding && leaseTtlTicks > _margin)
            {
                _target.ExtendTo(askedAt + leaseTtlTicks - _margin);
            }
        }
    }

    /// <summary>
    /// True when the deadline is close enough that the election should bump: less than half the window left, i.e. the
    /// last round or two went unacknowledged.
    /// </summary>
    public bool NeedsBump(long now)
    {
        lock (_lock)
        {
            return _holding && _target.Until - now < WindowLocked() / 2;
        }
    }

    private sealed record Round(long Sequence, long SentAt, HashSet<string> Waiting);
}
