using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Gateway.Io.Pcap;

/// <summary>The input is not a capture this reader understands, or is corrupt at a known place.</summary>
public sealed class CaptureFormatException : IOException
{
    public CaptureFormatException(string message, long recordNumber = 0, long offset = -1) : base(message)
    {
        RecordNumber = recordNumber;
        Offset = offset;
    }

    public CaptureFormatException()
    {
    }

    public CaptureFormatException(string message) : base(message)
    {
    }

    public CaptureFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>1-based record (pcap) or block (pcapng) number; 0 for the file header.</summary>
    public long RecordNumber { get; }

    /// <summary>Byte offset in the file where the problem starts; -1 when unknown.</summary>
    public long Offset { get; }
}

/// <summary>Exceptions built out of line, so the parsing loops stay small (System.IO.Pipelines <c>ThrowHelper</c>).</summary>
internal static class CaptureThrowHelper
{
    [DoesNotReturn]
    public static void ThrowCorrupt(string source, string what, long recordNumber, long offset, string detail) =>
        throw CreateCorrupt(source, what, recordNumber, offset, detail);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CaptureFormatException CreateCorrupt(string source, string what, long recordNumber, long offset, string detail) =>
        new(string.Create(CultureInfo.InvariantCulture,
            $"{source}: {what} {recordNumber} at byte offset {offset}: {detail}. The capture is corrupt from there on; cut it before that offset (e.g. editcap -r) or re-capture it."),
            recordNumber, offset);

    [DoesNotReturn]
    public static void ThrowHeader(string source, string detail) => throw CreateHeader(source, detail);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CaptureFormatException CreateHeader(string source, string detail) => new($"{source}: {detail}", 0, 0);
}
