using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Gateway.Packets;

/// <summary>
/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
/// </summary>
/// <remarks>
/// <para>The translator never recomputes a checksum from scratch: it folds the change of each rewritten
/// 16-bit word into the checksum that arrived (RFC 1624 eqn. 3, <c>HC' = ~(~HC + ~m + m')</c>).
/// That keeps the cost independent of the payload, works on snap-length-cut frames whose payload
/// is absent, and carries a corrupt checksum through as corrupt instead of "fixing" it.</para>
/// <para>A partial checksum (virtio NEEDS_CSUM, the kernel's CHECKSUM_PARTIAL) is not a checksum yet: the field holds
/// the folded, non-inverted sum of the pseudo-header, and whoever finishes it adds the sum of the bytes from
/// csum_start on and inverts. Its update is therefore plain one's-complement arithmetic on a sum,
/// <c>field' = fold(field + ~m + m')</c> (<see cref="UpdatePartial32"/>, as the kernel's
/// <c>inet_proto_csum_replace4</c> does for CHECKSUM_PARTIAL), not RFC 1624's update of a complemented value.</para>
/// </remarks>
public static class Checksum
{
    /// <summary>Adds the big-endian 16-bit words of <paramref name="data"/> to a running 32-bit sum (an odd last byte is padded with zero).</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        // 64-bit accumulator over 32-bit loads: at most 2^32 additions before overflow, far beyond any frame.
        ulong acc = sum;
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            acc += BinaryPrimitives.ReadUInt32BigEndian(data.Slice(i));
        }
        if (i + 2 <= data.Length)
        {
            acc += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i));
            i += 2;
        }
        if (i < data.Length)
        {
            acc += (uint)data[i] << 8;
        }
        acc = (acc >> 32) + (acc & 0xFFFFFFFF);
        acc = (acc >> 32) + (acc & 0xFFFFFFFF);
        return FoldTo16((uint)acc);
    }

    /// <summary>Folds a 32-bit one's-complement sum into 16 bits (end-around carry).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FoldTo16(uint sum)
    {
        sum = (sum >> 16) + (sum & 0xFFFF);
        sum = (sum >> 16) + (sum & 0xFFFF);
        return (ushort)sum;
    }

    /// <summary>The checksum field value for <paramref name="data"/> (the one's complement of its sum).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, uint sum = 0) => (ushort)~FoldTo16(Sum(data, sum));

    /// <summary>True when the data, checksum field included, sums to all ones (RFC 1071 §1 verification).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Verifies(ReadOnlySpan<byte> data) =>
        data.Length == OptionlessIpv4HeaderLength ? Verifies20(data) : FoldTo16(Sum(data)) == 0xFFFF;

    private const int OptionlessIpv4HeaderLength = 20;

    /// <summary>
    /// <see cref="Verifies"/> for the 20-byte IPv4 header every frame carries: three native-endian loads, no loop.
    /// </summary>
    /// <remarks>
    /// The one's-complement sum is byte-order independent (RFC 1071 §2(B)): summing byte-swapped words gives the
    /// byte-swapped sum, and all ones (0xFFFF) is its own swap, so no byte swapping is needed to verify. A sum of
    /// non-zero data is never the other zero (0x0000), so the two byte orders agree exactly.
    /// Measured in perf/Gateway.Benchmarks Checksums/ChecksumBenchmarks.VerifyIpv4Header (see perf/README.md).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Verifies20(ReadOnlySpan<byte> header)
    {
        ref byte start = ref MemoryMarshal.GetReference(header);
        ulong a = Unsafe.ReadUnaligned<ulong>(ref start);
        ulong b = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, 8));
        uint c = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, 16));
        // Five 32-bit words in a 64-bit accumulator: below 5 * 2^32, so two end-around folds reach 32 bits.
        ulong sum = (uint)a + (a >> 32) + (uint)b + (b >> 32) + c;
        sum = (uint)sum + (sum >> 32);
        sum = (uint)sum + (sum >> 32);
        return FoldTo16((uint)sum) == 0xFFFF;
    }

    /// <summary>RFC 1624 eqn. 3 for one 16-bit word that changed from <paramref name="oldWord"/> to <paramref name="newWord"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update16(ushort checksum, ushort oldWord, ushort newWord)
    {
        uint sum = (uint)(ushort)~checksum + (ushort)~oldWord + newWord;
        return (ushort)~FoldTo16(sum);
    }

    /// <summary>
    /// The update of a partial (pseudo-header) checksum when a 32-bit field it covers changed, e.g. an IPv4 address:
    /// <c>fold(partial + ~old + new)</c>, no complements around it (net/core/utils.c inet_proto_csum_replace4 with
    /// CHECKSUM_PARTIAL: <c>*sum = ~csum_fold(csum_add(csum_sub(csum_unfold(*sum), from), to))</c>). The result is the
    /// folded sum itself; UDP's "0 means no checksum" does not apply to it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort UpdatePartial32(ushort partial, uint oldValue, uint newValue)
    {
        uint sum = (uint)partial
            + (ushort)~(oldValue >> 16) + (ushort)~oldValue
            + (newValue >> 16) + (newValue & 0xFFFF);
        return FoldTo16(sum);
    }

    /// <summary>
    /// The IPv4 pseudo-header's sum for TCP/UDP (RFC 9293 §3.1, RFC 768): source, destination, zero and protocol,
    /// and the transport length; folded, not inverted. A partial checksum field holds exactly this.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort PseudoHeaderSum(uint source, uint destination, byte protocol, int transportLength) =>
        FoldTo16((source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF) + protocol + (uint)transportLength);

    /// <summary>RFC 1624 eqn. 3 for a 32-bit field (two adjacent words, e.g. an IPv4 address) that changed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update32(ushort checksum, uint oldValue, uint newValue)
    {
        uint sum = (uint)(ushort)~checksum
            + (ushort)~(oldValue >> 16) + (ushort)~oldValue
            + (newValue >> 16) + (newValue & 0xFFFF);
        return (ushort)~FoldTo16(sum);
    }
}
