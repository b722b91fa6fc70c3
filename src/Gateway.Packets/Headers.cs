namespace Gateway.Packets;

/// <summary>Ethernet II framing and the VLAN tags that may precede the payload's EtherType.</summary>
public static class Ethernet
{
    public const int DestinationOffset = 0;
    public const int SourceOffset = 6;
    public const int TypeOffset = 12;
    public const int HeaderLength = 14;
    public const int AddressLength = 6;
    public const int VlanTagLength = 4;

    public const ushort TypeIpv4 = 0x0800;
    public const ushort TypeArp = 0x0806;
    public const ushort TypeIpv6 = 0x86DD;
    /// <summary>IEEE 802.1Q customer tag.</summary>
    public const ushort TypeVlan = 0x8100;
    /// <summary>IEEE 802.1ad service tag (QinQ outer tag).</summary>
    public const ushort TypeQinQ = 0x88A8;
    /// <summary>Pre-standard QinQ outer tag still emitted by some switches.</summary>
    public const ushort TypeQinQLegacy = 0x9100;

    /// <summary>More stacked tags than this are not a real frame; the translator calls it malformed.</summary>
    public const int MaxVlanTags = 4;

    public static bool IsVlanTag(ushort etherType) =>
        etherType is TypeVlan or TypeQinQ or TypeQinQLegacy;
}

/// <summary>Field offsets of the IPv4 header (RFC 791 §3.1).</summary>
public static class Ipv4
{
    public const int VersionIhlOffset = 0;
    public const int TosOffset = 1;
    public const int TotalLengthOffset = 2;
    public const int IdentificationOffset = 4;
    public const int FlagsFragmentOffset = 6;
    public const int TtlOffset = 8;
    public const int ProtocolOffset = 9;
    public const int ChecksumOffset = 10;
    public const int SourceOffset = 12;
    public const int DestinationOffset = 16;
    public const int MinHeaderLength = 20;

    /// <summary>The 13-bit fragment offset; zero for an unfragmented packet or a first fragment.</summary>
    public const ushort FragmentOffsetMask = 0x1FFF;
    public const ushort MoreFragmentsFlag = 0x2000;

    public const byte ProtocolIcmp = 1;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;
}

public static class Tcp
{
    public const int ChecksumOffset = 16;
    public const int MinHeaderLength = 20;
}

public static class Udp
{
    public const int ChecksumOffset = 6;
    public const int HeaderLength = 8;
}

/// <summary>ICMP for IPv4 (RFC 792).</summary>
public static class Icmp
{
    public const int TypeOffset = 0;
    public const int ChecksumOffset = 2;
    public const int HeaderLength = 8;

    public const byte EchoReply = 0;
    public const byte DestinationUnreachable = 3;
    public const byte SourceQuench = 4;
    public const byte Redirect = 5;
    public const byte EchoRequest = 8;
    public const byte TimeExceeded = 11;
    public const byte ParameterProblem = 12;

    /// <summary>The error messages that quote the packet they are about (RFC 792; RFC 5508 §3 for NAT).</summary>
    public static bool IsError(byte type) =>
        type is DestinationUnreachable or SourceQuench or Redirect or TimeExceeded or ParameterProblem;
}
