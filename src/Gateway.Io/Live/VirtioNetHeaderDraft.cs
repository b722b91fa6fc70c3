using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Gateway.Io.Ports;

// DRAFT: stands in for the fastports branch's Ports/VirtioNetHeader.cs (same shape) until that branch is merged;
// delete this file at the merge.

/// <summary><c>struct virtio_net_hdr</c> (include/uapi/linux/virtio_net.h), little-endian, 10 bytes.</summary>
internal struct VirtioNetHeader
{
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

    public static VirtioNetHeader None => default;

    public readonly bool NeedsChecksum => (Flags & FlagNeedsChecksum) != 0;

    public readonly bool IsGso => GsoType != GsoNone;

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
}
