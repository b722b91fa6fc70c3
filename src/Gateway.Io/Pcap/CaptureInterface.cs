using System.Diagnostics;

namespace Gateway.Io.Pcap;

/// <summary>
/// One capture interface: the pcap file header, or one pcapng Interface Description Block.
/// Every frame names the interface it was captured on; its timestamp is in this interface's units.
/// </summary>
public sealed class CaptureInterface
{
    /// <param name="index">The interface's number across the whole file (pcapng sections numbered on from the previous one).</param>
    /// <param name="linkType">The link-layer header type, as in the file (not necessarily one replay supports).</param>
    /// <param name="snapLength">The capture's snap length; 0 when the file says "unlimited".</param>
    /// <param name="timestampResolution">The raw pcapng <c>if_tsresol</c> byte: bit 7 clear → 10^-n seconds, set → 2^-n (RFC draft-ietf-opsawg-pcapng §4.2).</param>
    /// <param name="timestampOffsetSeconds">The pcapng <c>if_tsoffset</c>: seconds added to every timestamp.</param>
    public CaptureInterface(int index, int linkType, int snapLength, byte timestampResolution = MicrosecondResolution, long timestampOffsetSeconds = 0)
    {
        Index = index;
        LinkType = linkType;
        SnapLength = snapLength;
        TimestampResolution = timestampResolution;
        TimestampOffsetSeconds = timestampOffsetSeconds;
        int exponent = timestampResolution & 0x7F;
        IsPowerOfTwo = (timestampResolution & 0x80) != 0;
        if (IsPowerOfTwo)
        {
            Debug.Assert(exponent <= 63);
            TicksPerSecond = 1UL << exponent;
        }
        else
        {
            Debug.Assert(exponent <= 19);
            ulong tps = 1;
            for (int i = 0; i < exponent; i++)
            {
                tps *= 10;
            }
            TicksPerSecond = tps;
        }
    }

    /// <summary><c>if_tsresol</c> of microseconds (pcap's classic magic and pcapng's default).</summary>
    public const byte MicrosecondResolution = 6;
    /// <summary><c>if_tsresol</c> of nanoseconds (pcap's nanosecond magic).</summary>
    public const byte NanosecondResolution = 9;

    public int Index { get; }
    public int LinkType { get; }
    public int SnapLength { get; }
    public byte TimestampResolution { get; }
    public long TimestampOffsetSeconds { get; }
    public ulong TicksPerSecond { get; }
    public bool IsPowerOfTwo { get; }

    /// <summary>True when this interface's timestamps are finer than microseconds.</summary>
    public bool IsFinerThanMicroseconds => TicksPerSecond > 1_000_000;

    /// <summary>Splits a timestamp in this interface's units into whole seconds (offset applied) and the fraction in <paramref name="ticksPerSecond"/> units.</summary>
    public void Split(ulong timestamp, ulong ticksPerSecond, out long seconds, out ulong fraction)
    {
        ulong whole = timestamp / TicksPerSecond;
        ulong rest = timestamp - (whole * TicksPerSecond);
        seconds = (long)whole + TimestampOffsetSeconds;
        fraction = ticksPerSecond == TicksPerSecond ? rest : (ulong)((UInt128)rest * ticksPerSecond / TicksPerSecond);
    }

    /// <summary>The timestamp as nanoseconds since the epoch (offset applied; finer resolutions truncated).</summary>
    public long ToNanoseconds(ulong timestamp)
    {
        if (TicksPerSecond == 1_000_000)
        {
            return ((long)timestamp * 1000) + (TimestampOffsetSeconds * 1_000_000_000);
        }
        Split(timestamp, 1_000_000_000, out long seconds, out ulong nanoseconds);
        return (seconds * 1_000_000_000) + (long)nanoseconds;
    }

    public override string ToString() =>
        $"interface {Index}: link type {LinkTypes.Describe(LinkType)}, snap length {SnapLength}, {TicksPerSecond} ticks/s";
}
