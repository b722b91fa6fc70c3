namespace Gateway.Io.Pcap;

/// <summary>The link-layer header types replay understands (numbers from the tcpdump.org LINKTYPE_ registry).</summary>
public enum LinkType : ushort
{
    /// <summary>IEEE 802.3 Ethernet, with or without 802.1Q/802.1ad tags.</summary>
    Ethernet = 1,
    /// <summary>Raw IP: the packet starts with an IPv4 or IPv6 header (the version nibble says which).</summary>
    Raw = 101,
    /// <summary>Linux cooked capture v1 (SLL): a 16-byte pseudo-header, <c>tcpdump -i any</c> before libpcap 1.10.</summary>
    LinuxSll = 113,
    /// <summary>Raw IPv4 only.</summary>
    Ipv4 = 228,
    /// <summary>Linux cooked capture v2 (SLL2): a 20-byte pseudo-header, <c>tcpdump -i any</c> since libpcap 1.10.</summary>
    LinuxSll2 = 276,
}

public static class LinkTypes
{
    /// <summary>Bytes of the Linux cooked v1 pseudo-header; the protocol (EtherType) is its last two bytes.</summary>
    public const int SllHeaderLength = 16;
    public const int SllProtocolOffset = 14;
    /// <summary>Bytes of the Linux cooked v2 pseudo-header; the protocol (EtherType) is its first two bytes.</summary>
    public const int Sll2HeaderLength = 20;
    public const int Sll2ProtocolOffset = 0;

    public static bool IsSupported(int linkType) =>
        linkType is (int)LinkType.Ethernet or (int)LinkType.Raw or (int)LinkType.LinuxSll or (int)LinkType.Ipv4 or (int)LinkType.LinuxSll2;

    /// <summary>A human name for error messages, for the link types people are likely to meet.</summary>
    public static string Describe(int linkType) => linkType switch
    {
        0 => "0 (BSD loopback, LINKTYPE_NULL)",
        1 => "1 (Ethernet)",
        101 => "101 (raw IP)",
        105 => "105 (IEEE 802.11 wireless)",
        108 => "108 (OpenBSD loopback)",
        113 => "113 (Linux cooked SLL)",
        127 => "127 (IEEE 802.11 radiotap)",
        228 => "228 (raw IPv4)",
        229 => "229 (raw IPv6)",
        276 => "276 (Linux cooked SLL2)",
        _ => linkType.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>What replay accepts, for the same messages.</summary>
    public const string SupportedList = "Ethernet (1), raw IP (101), raw IPv4 (228), Linux cooked SLL (113) and SLL2 (276)";
}
