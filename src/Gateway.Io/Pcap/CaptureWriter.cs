using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Gateway.Io.Pcap;

/// <summary>
/// Streaming pcap or pcapng writer over a <see cref="PipeWriter"/>: frames are laid into large pipe buffers
/// (1 MiB) and handed to the stream when <see cref="FlushAsync"/> is called between input batches.
/// </summary>
/// <remarks>
/// <para>pcap output keeps the input's link type, each frame's timestamp (same resolution as the input:
/// nanosecond magic when any input interface is finer than microseconds) and original length, in little-endian
/// byte order. A pcap file holds one link type: input interfaces of different link types need pcapng output.</para>
/// <para>pcapng output is one section: a minimal SHB, one IDB per input interface (link type, snap length,
/// <c>if_tsresol</c> and <c>if_tsoffset</c> when they differ from the defaults) and an EPB per frame carrying the
/// input timestamp unchanged.</para>
/// </remarks>
public sealed class CaptureWriter : IAsyncDisposable
{
    // Large blocks, but no larger than the shared array pool keeps: 4 MiB buffers were tried and made a replay
    // allocate in proportion to its input (Replay_SteadyState_AllocatesNothingPerFrame caught it).
    private const int BufferSize = 1024 * 1024;
    private const int FlushThreshold = 512 * 1024;

    private readonly PipeWriter _output;
    private readonly CaptureFileFormat _format;
    private readonly string _target;
    private readonly List<CaptureInterface> _interfaces = [];

    private Memory<byte> _buffer;
    private int _used;
    private long _unflushed;
    private bool _headerWritten;
    private bool _completed;

    // pcap only: the one link type and the timestamp units of the file.
    private int _pcapLinkType = -1;
    private ulong _pcapTicksPerSecond;
    private long _frames;
    // The second the last frame fell in (pcap output, same units as the input), to split timestamps without dividing.
    private long _second;
    private ulong _secondStart;

    /// <param name="output">Where the file's bytes go.</param>
    /// <param name="format">pcap or pcapng.</param>
    /// <param name="target">What to call the output in messages.</param>
    public CaptureWriter(PipeWriter output, CaptureFileFormat format, string target)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
        _format = format;
        _target = target;
    }

    /// <summary>A pipe over a stream that hands the stream large writes.</summary>
    public static PipeWriter CreatePipe(Stream stream, bool leaveOpen = false) =>
        PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: BufferSize, leaveOpen: leaveOpen));

    /// <summary>pcapng when the name ends in <c>.pcapng</c>, pcap otherwise.</summary>
    public static CaptureFileFormat FormatForPath(string path) =>
        path.EndsWith(".pcapng", StringComparison.OrdinalIgnoreCase) ? CaptureFileFormat.Pcapng : CaptureFileFormat.Pcap;

    public long FramesWritten => _frames;

    /// <summary>Declares an input interface; its index must be the next one (0, 1, …). Frames name it by index.</summary>
    public void AddInterface(CaptureInterface captureInterface)
    {
        ArgumentNullException.ThrowIfNull(captureInterface);
        if (captureInterface.Index != _interfaces.Count)
        {
            throw new ArgumentException($"interface {captureInterface.Index} declared out of order (expected {_interfaces.Count}).", nameof(captureInterface));
        }
        _interfaces.Add(captureInterface);
        if (_format == CaptureFileFormat.Pcapng)
        {
            EnsureHeader();
            WriteInterfaceDescription(captureInterface);
        }
    }

    /// <summary>Appends one frame: its captured bytes, original length and timestamp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteFrame(in CaptureFrame frame, ReadOnlySpan<byte> data)
    {
        if (_format == CaptureFileFormat.Pcap)
        {
            WritePcapRecord(frame, data);
        }
        else
        {
            WriteEnhancedPacket(frame, data);
        }
        _frames++;
    }

    private void WritePcapRecord(in CaptureFrame frame, ReadOnlySpan<byte> data)
    {
        CaptureInterface captureInterface = frame.Interface;
        if (captureInterface.LinkType != _pcapLinkType)
        {
            StartPcap(captureInterface);
        }
        Span<byte> span = Reserve(16 + data.Length);
        long seconds;
        ulong fraction;
        ulong timestamp = frame.Timestamp;
        if (timestamp - _secondStart < _pcapTicksPerSecond && captureInterface.TicksPerSecond == _pcapTicksPerSecond && captureInterface.TimestampOffsetSeconds == 0)
        {
            // Same second as the previous frame (captures are mostly in time order): no division per frame.
            seconds = _second;
            fraction = timestamp - _secondStart;
        }
        else if (captureInterface.TicksPerSecond == _pcapTicksPerSecond && captureInterface.TimestampOffsetSeconds == 0)
        {
            ulong whole = timestamp / _pcapTicksPerSecond;
            seconds = (long)whole;
            fraction = timestamp - (whole * _pcapTicksPerSecond);
            _second = seconds;
            _secondStart = whole * _pcapTicksPerSecond;
        }
        else
        {
            captureInterface.Split(frame.Timestamp, _pcapTicksPerSecond, out seconds, out fraction);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(4), (uint)fraction);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(8), (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(12), (uint)Math.Max(frame.OriginalLength, data.Length));
        data.CopyTo(span.Slice(16));
        Commit(16 + data.Length);
    }

    /// <summary>Writes the pcap file header at the first frame, when the link type is known; refuses a second link type.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StartPcap(CaptureInterface captureInterface)
    {
        if (_headerWritten)
        {
            throw new CaptureFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{_target}: the input has frames of link type {LinkTypes.Describe(_pcapLinkType)} and {LinkTypes.Describe(captureInterface.LinkType)}; a pcap file holds one link type. Write pcapng output instead (an output name ending in .pcapng)."));
        }
        WritePcapHeader(captureInterface.LinkType);
    }

    private void WritePcapHeader(int linkType)
    {
        // Nanosecond magic when any interface seen so far is finer than microseconds (pcap draft §4).
        bool nanoseconds = _interfaces.Exists(i => i.IsFinerThanMicroseconds);
        int snapLength = 0;
        foreach (var i in _interfaces)
        {
            snapLength = Math.Max(snapLength, i.SnapLength == 0 ? CaptureReader.MaxCapturedLength : i.SnapLength);
        }
        if (snapLength == 0)
        {
            snapLength = CaptureReader.MaxCapturedLength;
        }
        Span<byte> span = Reserve(24);
        BinaryPrimitives.WriteUInt32LittleEndian(span, nanoseconds ? 0xA1B23C4Du : 0xA1B2C3D4u);
        BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(4), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(6), 4);
        BinaryPrimitives.WriteInt32LittleEndian(span.Slice(8), 0);   // thiszone: always 0 (pcap draft §4)
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(12), 0); // sigfigs: always 0
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(16), (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(20), (uint)linkType);
        Commit(24);
        _pcapLinkType = linkType;
        _pcapTicksPerSecond = nanoseconds ? 1_000_000_000UL : 1_000_000UL;
        _headerWritten = true;
    }

    private void EnsureHeader()
    {
        if (_headerWritten)
        {
            return;
        }
        // Section header block: type, length, byte-order magic, version 1.0, section length unknown (-1), length.
        Span<byte> span = Reserve(28);
        BinaryPrimitives.WriteUInt32LittleEndian(span, 0x0A0D0D0A);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(4), 28);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(8), 0x1A2B3C4D);
        BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(12), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(14), 0);
        BinaryPrimitives.WriteInt64LittleEndian(span.Slice(16), -1);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(24), 28);
        Commit(28);
        _headerWritten = true;
    }

    private void WriteInterfaceDescription(CaptureInterface captureInterface)
    {
        bool resolution = captureInterface.TimestampResolution != CaptureInterface.MicrosecondResolution;
        bool offset = captureInterface.TimestampOffsetSeconds != 0;
        int length = 20 + (resolution ? 8 : 0) + (offset ? 12 : 0) + (resolution || offset ? 4 : 0);
        Span<byte> span = Reserve(length);
        span.Slice(0, length).Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(span, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(4), (uint)length);
        BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(8), (ushort)captureInterface.LinkType);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(12), (uint)captureInterface.SnapLength);
        int at = 16;
        if (resolution)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(at), 9); // if_tsresol
            BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(at + 2), 1);
            span[at + 4] = captureInterface.TimestampResolution;
            at += 8;
        }
        if (offset)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(at), 14); // if_tsoffset
            BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(at + 2), 8);
            BinaryPrimitives.WriteInt64LittleEndian(span.Slice(at + 4), captureInterface.TimestampOffsetSeconds);
            at += 12;
        }
        if (resolution || offset)
        {
            at += 4; // opt_endofopt: code 0, length 0 (already zero)
        }
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(at), (uint)length);
        Commit(length);
    }

    private void WriteEnhancedPacket(in CaptureFrame frame, ReadOnlySpan<byte> data)
    {
        int padded = (data.Length + 3) & ~3;
        int length = 32 + padded;
        Span<byte> span = Reserve(length);
        BinaryPrimitives.WriteUInt32LittleEndian(span, 6);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(4), (uint)length);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(8), (uint)frame.Interface.Index);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(12), (uint)(frame.Timestamp >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(16), (uint)frame.Timestamp);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(20), (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(24), (uint)Math.Max(frame.OriginalLength, data.Length));
        data.CopyTo(span.Slice(28));
        span.Slice(28 + data.Length, padded - data.Length).Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(28 + padded), (uint)length);
        Commit(length);
    }

    // ---------------------------------------------------------------- buffering

    /// <summary>A span of at least <paramref name="length"/> bytes at the end of the current pipe buffer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Reserve(int length)
    {
        if (_buffer.Length - _used < length)
        {
            NextBuffer(length);
        }
        return _buffer.Span.Slice(_used);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Commit(int length) => _used += length;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NextBuffer(int length)
    {
        if (_used > 0)
        {
            _output.Advance(_used);
            _unflushed += _used;
        }
        _buffer = _output.GetMemory(Math.Max(length, BufferSize));
        _used = 0;
    }

    private void Release()
    {
        if (_used > 0)
        {
            _output.Advance(_used);
            _unflushed += _used;
        }
        _buffer = default;
        _used = 0;
    }

    /// <summary>Hands buffered frames to the stream once enough have gathered; call between input batches.</summary>
    public ValueTask FlushIfNeededAsync(CancellationToken cancellationToken = default) =>
        _unflushed + _used >= FlushThreshold ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;

    /// <summary>Hands every buffered frame to the stream.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        Release();
        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        _unflushed = 0;
    }

    /// <summary>Writes whatever header an empty capture still needs, flushes and completes the pipe.</summary>
    public async ValueTask CompleteAsync(CancellationToken cancellationToken = default)
    {
        if (!_headerWritten)
        {
            if (_format == CaptureFileFormat.Pcap)
            {
                WritePcapHeader(_interfaces.Count > 0 ? _interfaces[0].LinkType : (int)LinkType.Ethernet);
            }
            else
            {
                EnsureHeader();
            }
        }
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        _completed = true;
        await _output.CompleteAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_completed)
        {
            _completed = true;
            _buffer = default;
            _used = 0;
            await _output.CompleteAsync().ConfigureAwait(false);
        }
    }
}
