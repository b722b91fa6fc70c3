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

    /// <summary>The segment pair this node's data path serves; one node is active per segment pair. Null: no data path, no election.</summary>
    public string? Segment { get; init; }
}
