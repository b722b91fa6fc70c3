namespace Gateway.TestSupport;

/// <summary>One IEEE 802.1Q (C-tag) or 802.1ad (S-tag) VLAN tag: TPID then the 16-bit TCI.</summary>
public readonly record struct VlanTag(ushort Tpid, ushort VlanId, byte Priority = 0)
{
    /// <summary>An 802.1Q customer tag (TPID 0x8100).</summary>
    public static VlanTag Dot1Q(ushort vlanId) => new(0x8100, vlanId);

    /// <summary>An 802.1ad service tag (TPID 0x88A8), the outer tag of QinQ.</summary>
    public static VlanTag Dot1AD(ushort vlanId) => new(0x88A8, vlanId);

    /// <summary>The pre-standard QinQ outer tag (TPID 0x9100).</summary>
    public static VlanTag Legacy9100(ushort vlanId) => new(0x9100, vlanId);

    internal ushort Tci => (ushort)((Priority << 13) | (VlanId & 0x0FFF));
}

/// <summary>
/// Everything about a test frame other than its addresses, ports and payload. The defaults are a plain
/// untagged, unfragmented IPv4 frame with TTL 64, DSCP 0, no options and no padding.
/// </summary>
public sealed record FrameOptions
{
    public static FrameOptions Default { get; } = new();

    /// <summary>Tags between the MAC addresses and the IPv4 EtherType, outermost first.</summary>
    public IReadOnlyList<VlanTag> Vlans { get; init; } = [];

    public string SourceMac { get; init; } = "02-00-00-00-00-01";
    public string DestinationMac { get; init; } = "02-00-00-00-00-02";

    public byte Ttl { get; init; } = 64;
    public ushort Id { get; init; } = 0x1C46;

    /// <summary>The whole TOS byte: DSCP in the top six bits, ECN in the low two.</summary>
    public byte Tos { get; init; }

    /// <summary>Raw IPv4 option bytes (RFC 791 §3.1); a multiple of 4, at most 40.</summary>
    public byte[] IpOptions { get; init; } = [];

    public bool DontFragment { get; init; }
    public bool MoreFragments { get; init; }

    /// <summary>Fragment offset in bytes (a multiple of 8).</summary>
    public int FragmentOffset { get; init; }

    /// <summary>Bytes appended after the IPv4 packet, as a NIC pads a short frame to 60 bytes (filled with 0xA5 so a checksum that wrongly covers them shows).</summary>
    public int Padding { get; init; }

    /// <summary>Untagged frame with <paramref name="tags"/>.</summary>
    public static FrameOptions Tagged(params VlanTag[] tags) => new() { Vlans = tags };
}
