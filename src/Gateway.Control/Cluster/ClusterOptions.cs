namespace Gateway.Control.Cluster;

/// <summary>How a node takes part in a cluster: its lease, and the active-node election of its data path.</summary>
public sealed record ClusterOptions
{
    /// <summary>
    /// TTL of the node's etcd lease (its registration and, when active, its hold on the segment pair). etcd grants at
    /// least ⌈1.5 × election timeout⌉ s: 1 s with the lab's etcd, 2 s with etcd's defaults.
    /// </summary>
    public int LeaseTtlSeconds { get; init; } = 2;

    /// <summary>How often the active node advertises itself straight to the others (VRRP's 100 ms advertisements).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Advertisements a standby misses before it asks etcd to make it active (VRRP: 3, plus skew).</summary>
    public int MissedHeartbeats { get; init; } = 3;

    /// <summary>
    /// How long a standby that has heard the active node waits without hearing it again before it asks etcd for the role:
    /// <see cref="MissedHeartbeats"/> advertisements and half an interval of skew.
    /// </summary>
    public TimeSpan TakeoverSilence => HeartbeatInterval * MissedHeartbeats + HeartbeatInterval / 2;

    /// <summary>
    /// How much sooner than a standby could take over the active node stops forwarding on its own (self-fencing): the
    /// time between a worker's clock check and the last send of its batch, with room to spare.
    /// </summary>
    public TimeSpan FenceMargin { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The segment pair this node's data path serves; one node is active per segment pair. Null: no data path, no election.</summary>
    public string? Segment { get; init; }
}
