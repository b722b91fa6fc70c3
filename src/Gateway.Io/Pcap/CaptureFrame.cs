using System.Runtime.InteropServices;

namespace Gateway.Io.Pcap;

/// <summary>Where and when a frame was captured; its bytes travel beside it as a span.</summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct CaptureFrame(CaptureInterface captureInterface, ulong timestamp, int originalLength, long recordNumber, long offset)
{
    /// <summary>The interface it was captured on (link type, timestamp units).</summary>
    public CaptureInterface Interface { get; } = captureInterface;

    /// <summary>The timestamp in <see cref="CaptureInterface.TicksPerSecond"/> units, as the file holds it (no offset applied).</summary>
    public ulong Timestamp { get; } = timestamp;

    /// <summary>The frame's length on the wire; more than the captured bytes when the snap length cut it.</summary>
    public int OriginalLength { get; } = originalLength;

    /// <summary>1-based number of the record (pcap) or block (pcapng) in the file, for messages.</summary>
    public long RecordNumber { get; } = recordNumber;

    /// <summary>Byte offset of the record or block in the file, for messages.</summary>
    public long Offset { get; } = offset;
}

/// <summary>
/// Receives what a <see cref="CaptureReader"/> reads. Implement it on a struct wrapping the consumer, so the
/// reader's loop is specialised for it and the per-frame call is direct (Kestrel's <c>HttpParser&lt;TRequestHandler&gt;</c>).
/// </summary>
public interface ICaptureHandler
{
    /// <summary>An interface was declared (the pcap header, or a pcapng IDB); frames on it follow.</summary>
    void OnInterface(CaptureInterface captureInterface);

    /// <summary>One frame. <paramref name="data"/> lies in the reader's own buffers: it may be rewritten in place, and must not be kept after the call returns.</summary>
    void OnFrame(in CaptureFrame frame, Span<byte> data);

    /// <summary>The reader consumed one buffer-full of input and is about to read more: the place to flush output.</summary>
    ValueTask OnBatchCompletedAsync(CancellationToken cancellationToken);
}
