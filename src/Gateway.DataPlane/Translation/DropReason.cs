namespace Gateway.DataPlane.Translation;

/// <summary>
/// Why a frame was not forwarded. One enum, one counter each, names listed in one place
/// (<see cref="DropReasons"/>): the same names appear in replay summaries, stats JSON and the daemon's counters.
/// </summary>
public enum DropReason : byte
{
    /// <summary>Not a drop: the frame was forwarded.</summary>
    None = 0,
    /// <summary>Not IPv4 after the VLAN tags (ARP, IPv6, ...).</summary>
    NotIpv4,
    /// <summary>Headers that do not fit, wrong version or IHL, lengths that contradict each other.</summary>
    Malformed,
    /// <summary>The IPv4 header checksum does not verify.</summary>
    BadIpChecksum,
    /// <summary>Neither address is bound (or, on a port with one direction, the address that direction needs).</summary>
    NoBinding,
    /// <summary>An ICMP error whose quoted packet does not mirror the outer addresses.</summary>
    IcmpInnerMismatch,
    /// <summary>A frame from the VPC port whose source is not a private address the control plane knows there.</summary>
    SpoofedSource,
    /// <summary>The next hop's MAC address could not be resolved by ARP.</summary>
    NeighbourUnresolved,
    /// <summary>A bounded queue was full: dropped instead of buffered without limit.</summary>
    QueueFull,
    /// <summary>The binding's bandwidth cap (outbound or inbound token bucket) had too few tokens for the packet: policed, not queued.</summary>
    BandwidthExceeded,
}

public static class DropReasons
{
    /// <summary>Number of <see cref="DropReason"/> values, <see cref="DropReason.None"/> included.</summary>
    public const int Count = (int)DropReason.BandwidthExceeded + 1;

    private static readonly string[] s_names =
    [
        "none",
        "not-ipv4",
        "malformed",
        "bad-ip-checksum",
        "no-binding",
        "icmp-inner-mismatch",
        "spoofed-source",
        "neighbour-unresolved",
        "queue-full",
        "bandwidth-exceeded",
    ];

    /// <summary>The stable, kebab-case name used in stats and summaries.</summary>
    public static string Name(DropReason reason) => s_names[(int)reason];

    public static IEnumerable<DropReason> All
    {
        get
        {
            for (int i = 1; i < Count; i++)
            {
                yield return (DropReason)i;
            }
        }
    }

    public static bool TryParse(string name, out DropReason reason)
    {
        int i = Array.IndexOf(s_names, name);
        reason = i > 0 ? (DropReason)i : DropReason.None;
        return i > 0;
    }
}
