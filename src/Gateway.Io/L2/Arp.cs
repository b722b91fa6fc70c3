using System.Buffers.Binary;
using Gateway.Packets;

namespace Gateway.Io.L2;

/// <summary>
/// ARP for IPv4 over Ethernet (RFC 826): the only hardware/protocol pair the gateway speaks.
/// </summary>
/// <remarks>
/// Packet layout after the Ethernet header (28 bytes):
/// <code>
///  0      2      4    5    6        8            14        18           24        28
/// +------+------+----+----+--------+------------+---------+------------+---------+
/// | htype| ptype|hlen|plen|   op   |    SHA     |   SPA   |    THA     |   TPA   |
/// |  1   |0x0800|  6 |  4 | 1 / 2  |  sender MAC| sender IP| target MAC | target IP|
/// +------+------+----+----+--------+------------+---------+------------+---------+
/// </code>
/// </remarks>
public static class Arp
{
    public const int HardwareTypeOffset = 0;
    public const int ProtocolTypeOffset = 2;
    public const int HardwareLengthOffset = 4;
    public const int ProtocolLengthOffset = 5;
    public const int OperationOffset = 6;
    public const int SenderHardwareOffset = 8;
    public const int SenderProtocolOffset = 14;
    public const int TargetHardwareOffset = 18;
    public const int TargetProtocolOffset = 24;
    public const int PacketLength = 28;

    public const ushort HardwareEthernet = 1;
    public const ushort OperationRequest = 1;
    public const ushort OperationReply = 2;

    /// <summary>Ethernet's minimum frame without the FCS (IEEE 802.3 §3.2.8); ARP frames are padded up to it.</summary>
    public const int MinimumFrameLength = 60;

    /// <summary>Parses an untagged Ethernet frame carrying Ethernet/IPv4 ARP. False for anything else.</summary>
    public static bool TryParse(ReadOnlySpan<byte> frame, out ArpMessage message)
    {
        message = default;
        if (frame.Length < Ethernet.HeaderLength + PacketLength
            || BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(Ethernet.TypeOffset)) != Ethernet.TypeArp)
        {
            return false;
        }
        ReadOnlySpan<byte> arp = frame.Slice(Ethernet.HeaderLength, PacketLength);
        if (BinaryPrimitives.ReadUInt16BigEndian(arp.Slice(HardwareTypeOffset)) != HardwareEthernet
            || BinaryPrimitives.ReadUInt16BigEndian(arp.Slice(ProtocolTypeOffset)) != Ethernet.TypeIpv4
            || arp[HardwareLengthOffset] != MacAddress.Length
            || arp[ProtocolLengthOffset] != 4)
        {
            return false;
        }
        ushort operation = BinaryPrimitives.ReadUInt16BigEndian(arp.Slice(OperationOffset));
        if (operation is not (OperationRequest or OperationReply))
        {
            return false;
        }
        message = new ArpMessage(
            operation,
            MacAddress.Read(arp.Slice(SenderHardwareOffset)),
            BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(SenderProtocolOffset)),
            MacAddress.Read(arp.Slice(TargetHardwareOffset)),
            BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(TargetProtocolOffset)));
        return true;
    }

    /// <summary>Writes a whole Ethernet frame carrying <paramref name="message"/>, padded to the Ethernet minimum.</summary>
    /// <returns>The frame's length (<see cref="MinimumFrameLength"/>).</returns>
    public static int Write(Span<byte> frame, MacAddress ethernetDestination, MacAddress ethernetSource, in ArpMessage message)
    {
        Span<byte> f = frame.Slice(0, MinimumFrameLength);
        f.Clear();
        ethernetDestination.Write(f.Slice(Ethernet.DestinationOffset));
        ethernetSource.Write(f.Slice(Ethernet.SourceOffset));
        BinaryPrimitives.WriteUInt16BigEndian(f.Slice(Ethernet.TypeOffset), Ethernet.TypeArp);
        Span<byte> arp = f.Slice(Ethernet.HeaderLength, PacketLength);
        BinaryPrimitives.WriteUInt16BigEndian(arp.Slice(HardwareTypeOffset), HardwareEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(arp.Slice(ProtocolTypeOffset), Ethernet.TypeIpv4);
        arp[HardwareLengthOffset] = MacAddress.Length;
        arp[ProtocolLengthOffset] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp.Slice(OperationOffset), message.Operation);
        message.SenderMac.Write(arp.Slice(SenderHardwareOffset));
        BinaryPrimitives.WriteUInt32BigEndian(arp.Slice(SenderProtocolOffset), message.SenderIp);
        message.TargetMac.Write(arp.Slice(TargetHardwareOffset));
        BinaryPrimitives.WriteUInt32BigEndian(arp.Slice(TargetProtocolOffset), message.TargetIp);
        return MinimumFrameLength;
    }

    /// <summary>A broadcast request "who has <paramref name="targetIp"/>? tell <paramref name="senderIp"/>".</summary>
    public static int WriteRequest(Span<byte> frame, MacAddress senderMac, uint senderIp, uint targetIp) =>
        Write(frame, MacAddress.Broadcast, senderMac, new ArpMessage(OperationRequest, senderMac, senderIp, default, targetIp));

    /// <summary>The reply to <paramref name="request"/>, sent unicast to its sender: "<paramref name="ourIp"/> is at <paramref name="ourMac"/>".</summary>
    public static int WriteReply(Span<byte> frame, MacAddress ourMac, uint ourIp, in ArpMessage request) =>
        Write(frame, request.SenderMac, ourMac, new ArpMessage(OperationReply, ourMac, ourIp, request.SenderMac, request.SenderIp));

    /// <summary>
    /// A gratuitous ARP announcing <paramref name="ip"/> at <paramref name="mac"/>: a broadcast request whose sender and
    /// target addresses are both <paramref name="ip"/> (RFC 5227 §3 "ARP Announcement"; RFC 5944 §4.6), which every
    /// neighbour holding an entry for <paramref name="ip"/> updates from (RFC 826's merge step).
    /// </summary>
    public static int WriteAnnouncement(Span<byte> frame, MacAddress mac, uint ip) =>
        Write(frame, MacAddress.Broadcast, mac, new ArpMessage(OperationRequest, mac, ip, default, ip));
}

/// <summary>The fields of an Ethernet/IPv4 ARP packet.</summary>
public readonly record struct ArpMessage(ushort Operation, MacAddress SenderMac, uint SenderIp, MacAddress TargetMac, uint TargetIp)
{
    public bool IsRequest => Operation == Arp.OperationRequest;

    public bool IsReply => Operation == Arp.OperationReply;

    /// <summary>A probe (RFC 5227 §2.1.1): sender IP 0.0.0.0; it must not update caches.</summary>
    public bool IsProbe => SenderIp == 0;
}
