using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Gateway.Io.Ports;

/// <summary>
/// <c>struct virtio_net_hdr</c> (include/uapi/linux/virtio_net.h): the offload metadata a TAP opened with
/// <c>IFF_VNET_HDR</c> (and an AF_PACKET socket with <c>PACKET_VNET_HDR</c>) puts before every frame, in both
/// directions. Little-endian on the wire (tun: <c>tun_vnet_is_little_endian</c>, true on little-endian hosts).
/// </summary>
/// <remarks>
/// <code>
/// byte 0      flags         NEEDS_CSUM = 1: the L4 checksum at csum_start + csum_offset holds the pseudo-header sum
///                           only; the sum over [csum_start, end) is still to be added (CHECKSUM_PARTIAL).
///                           DATA_VALID = 2: the checksum was verified (CHECKSUM_UNNECESSARY).
/// byte 1      gso_type      NONE 0, TCPV4 1, UDP 3 (UFO), TCPV6 4, UDP_L4 5 (USO); | ECN 0x80 (TCP with CWR)
/// bytes 2-3   hdr_len       a hint: how many bytes to keep linear (the kernel sends skb_headlen)
/// bytes 4-5   gso_size      payload bytes per segment (the MSS for TCP)
/// bytes 6-7   csum_start    where the checksummed range starts (from the start of the Ethernet frame)
/// bytes 8-9   csum_offset   where the checksum field is, from csum_start
/// </code>
/// <para>The kernel's own rules for what it accepts are <c>__virtio_net_hdr_to_skb</c> (include/linux/virtio_net.h):
/// gso_size 0 with a GSO type, csum_start/csum_offset outside the frame, USO without NEEDS_CSUM are all refused.</para>
/// </remarks>
internal struct VirtioNetHeader
{
    /// <summary>Bytes of the header before each frame (TUNSETVNETHDRSZ default, <c>sizeof(struct virtio_net_hdr)</c>).</summary>
    public const int Size = 10;

    public const byte FlagNeedsChecksum = 1;
    public const byte FlagDataValid = 2;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;
    public const byte GsoEcn = 0x80;

    public byte Flags;
    public byte GsoType;
    public ushort HeaderLength;
    public ushort GsoSize;
    public ushort ChecksumStart;
    public ushort ChecksumOffset;

    /// <summary>No offload: a whole frame with finished checksums (what every port without offloads sends and receives).</summary>
    public static VirtioNetHeader None => default;

    /// <summary>Nothing for anyone to do: no GSO, no partial checksum (DATA_VALID alone asks nothing of a receiver).</summary>
    public readonly bool IsPlain
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Flags & FlagNeedsChecksum) == 0 && GsoType == GsoNone;
    }

    public readonly bool NeedsChecksum => (Flags & FlagNeedsChecksum) != 0;

    public readonly bool IsGso => GsoType != GsoNone;

    /// <summary>The GSO type without the ECN bit.</summary>
    public readonly byte GsoKind => (byte)(GsoType & ~GsoEcn);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VirtioNetHeader Read(ReadOnlySpan<byte> source) => new()
    {
        Flags = source[0],
        GsoType = source[1],
        HeaderLength = BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(2)),
        GsoSize = BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(4)),
        ChecksumStart = BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(6)),
        ChecksumOffset = BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(8)),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(8), ChecksumOffset);
        destination[0] = Flags;
        destination[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(2), HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(4), GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(6), ChecksumStart);
    }

    public override readonly string ToString() =>
        $"flags {Flags} gso_type {GsoType} hdr_len {HeaderLength} gso_size {GsoSize} csum_start {ChecksumStart} csum_offset {ChecksumOffset}";
}
