using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Packets;

namespace Gateway.DataPlane.Translation;

/// <summary>
/// Recognises the frame almost all traffic is: Ethernet, untagged or with one 802.1Q tag, IPv4 without options
/// (IHL 5), not a fragment, TCP or UDP, every byte the translation reads or writes captured, lengths consistent and
/// the header checksum verifying. Such a frame can be translated by the straight-line path; anything else (and
/// every frame that will be dropped for its form) goes through the general path, which judges it.
/// </summary>
internal static class CommonFrame
{
    private const int UntaggedL3 = Ethernet.HeaderLength;
    private const int TaggedL3 = Ethernet.HeaderLength + Ethernet.VlanTagLength;

    /// <summary>The smallest capture the fast path takes: untagged IPv4 + the UDP checksum field.</summary>
    private const int MinimumCaptured = UntaggedL3 + Ipv4.MinHeaderLength + Udp.ChecksumOffset + 2;

    /// <summary>
    /// The offset of the IPv4 header (14 or 18) when <paramref name="frame"/> is the common kind, else 0;
    /// <paramref name="tcp"/> says TCP (else UDP).
    /// </summary>
    /// <remarks>
    /// Loads are native-endian and compared with byte-swapped constants (no swap per field). Measured by
    /// 'gateway bench' and Translation/TranslateBenchmarks (perf/README.md).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Classify(ReadOnlySpan<byte> frame, int wireLength, out bool tcp)
    {
        tcp = false;
        if (frame.Length < MinimumCaptured || !BitConverter.IsLittleEndian) // the swapped constants below assume little-endian loads
        {
            return 0;
        }
        ref byte start = ref MemoryMarshal.GetReference(frame);
        ushort type = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, Ethernet.TypeOffset));
        int l3 = UntaggedL3;
        if (type == SwappedVlan)
        {
            if (frame.Length < MinimumCaptured + Ethernet.VlanTagLength)
            {
                return 0;
            }
            type = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, Ethernet.TypeOffset + Ethernet.VlanTagLength));
            l3 = TaggedL3;
        }
        ref byte ip = ref Unsafe.Add(ref start, l3);
        // Version 4 with IHL 5; flags and fragment offset clear except DF (0x4000): not a fragment.
        if (type != SwappedIpv4 || ip != 0x45 || (Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref ip, Ipv4.FlagsFragmentOffset)) & SwappedFragmentBits) != 0)
        {
            return 0;
        }
        byte protocol = Unsafe.Add(ref ip, Ipv4.ProtocolOffset);
        int transportHeader, checksumEnd;
        if (protocol == Ipv4.ProtocolTcp)
        {
            transportHeader = Tcp.MinHeaderLength;
            checksumEnd = Tcp.ChecksumOffset + 2;
            tcp = true;
        }
        else if (protocol == Ipv4.ProtocolUdp)
        {
            transportHeader = Udp.HeaderLength;
            checksumEnd = Udp.ChecksumOffset + 2;
        }
        else
        {
            return 0;
        }
        int totalLength = (Unsafe.Add(ref ip, Ipv4.TotalLengthOffset) << 8) | Unsafe.Add(ref ip, Ipv4.TotalLengthOffset + 1);
        if (l3 + Ipv4.MinHeaderLength + checksumEnd > frame.Length
            || totalLength < Ipv4.MinHeaderLength + transportHeader
            || totalLength > wireLength - l3
            || !Checksum.Verifies(MemoryMarshal.CreateReadOnlySpan(ref ip, Ipv4.MinHeaderLength)))
        {
            tcp = false;
            return 0;
        }
        return l3;
    }

    /// <summary>0x8100 as it lies in memory, read as a little-endian ushort.</summary>
    private const ushort SwappedVlan = 0x0081;

    /// <summary>0x0800 as it lies in memory.</summary>
    private const ushort SwappedIpv4 = 0x0008;

    /// <summary>MF and the 13-bit offset (0x3FFF) as they lie in memory.</summary>
    private const ushort SwappedFragmentBits = 0xFF3F;
}
