using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Gateway.Io.Pcap;

/// <summary>The container a capture file uses.</summary>
public enum CaptureFileFormat
{
    Pcap,
    Pcapng,
}

/// <summary>What a finished read saw.</summary>
public sealed class CaptureReadResult
{
    public CaptureFileFormat Format { get; init; }
    /// <summary>Records (pcap) or blocks (pcapng) read whole.</summary>
    public long Records { get; init; }
    public long Frames { get; init; }
    public long Bytes { get; init; }
    /// <summary>Offset of a final record cut short (the capture was still being written), or -1.</summary>
    public long TruncatedOffset { get; init; } = -1;
    /// <summary>A message for the user when the final record was cut short; null otherwise.</summary>
    public string? Warning { get; init; }
}

/// <summary>
/// Streaming reader for pcap (both byte orders, µs and ns timestamps) and pcapng (SHB, IDB, EPB, SPB and the
/// obsolete PB; several interfaces and sections; both byte orders; other blocks skipped) over a <see cref="PipeReader"/>.
/// </summary>
/// <remarks>
/// <para>Memory stays flat whatever the file size: records are parsed out of the pipe's buffers as they
/// arrive, and only a record that straddles two buffers is copied (into one scratch buffer). The handler gets
/// each frame's bytes where they lie and may rewrite them in place.</para>
/// <para>Record sizes are bounded (<see cref="MaxCapturedLength"/>, <see cref="MaxMetadataBlockLength"/>), so a
/// corrupt length field is reported at its offset instead of making the reader buffer gigabytes.</para>
/// <para>Formats: pcap per draft-ietf-opsawg-pcap; pcapng per draft-ietf-opsawg-pcapng.</para>
/// </remarks>
public sealed class CaptureReader
{
    /// <summary>The largest captured frame accepted (libpcap's own MAXIMUM_SNAPLEN).</summary>
    public const int MaxCapturedLength = 256 * 1024;
    /// <summary>The largest pcapng SHB/IDB read (they are buffered whole to parse their options).</summary>
    public const int MaxMetadataBlockLength = 1024 * 1024;
    /// <summary>Room for options after a packet block's data.</summary>
    private const int MaxPacketBlockOverhead = 64 * 1024;

    private const uint PcapMagicMicroseconds = 0xA1B2C3D4;
    private const uint PcapMagicNanoseconds = 0xA1B23C4D;
    private const int PcapFileHeaderLength = 24;
    private const int PcapRecordHeaderLength = 16;

    private const uint BlockSectionHeader = 0x0A0D0D0A;
    private const uint BlockInterfaceDescription = 1;
    private const uint BlockObsoletePacket = 2;
    private const uint BlockSimplePacket = 3;
    private const uint BlockEnhancedPacket = 6;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const ushort OptionEnd = 0;
    private const ushort OptionTimestampResolution = 9;
    private const ushort OptionTimestampOffset = 14;

    private readonly PipeReader _input;
    private readonly string _source;
    private byte[]? _scratch;

    private bool _formatKnown;
    private CaptureFileFormat _format;
    private bool _bigEndian;
    private long _offset;
    private long _records;
    private long _frames;
    private long _bytes;
    private long _skipRemaining;

    private readonly List<CaptureInterface> _interfaces = [];
    /// <summary>Global index of the current pcapng section's interface 0.</summary>
    private int _sectionBase;
    private CaptureInterface? _pcapInterface;

    /// <param name="input">The bytes of the capture.</param>
    /// <param name="source">What to call the input in messages (a file name, or "standard input").</param>
    public CaptureReader(PipeReader input, string source)
    {
        ArgumentNullException.ThrowIfNull(input);
        _input = input;
        _source = source;
    }

    /// <summary>Creates a pipe over a stream with large reads (1 MiB buffers: the largest the shared array pool keeps, so a replay allocates nothing per frame), as replay uses it.</summary>
    public static PipeReader CreatePipe(Stream stream, bool leaveOpen = false) =>
        PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 1024 * 1024, minimumReadSize: 256 * 1024, leaveOpen: leaveOpen));

    /// <summary>The container, once the first bytes have told it (pcap until then).</summary>
    public CaptureFileFormat Format => _format;

    /// <summary>Every interface declared so far, by global index.</summary>
    public IReadOnlyList<CaptureInterface> Interfaces => _interfaces;

    /// <summary>Reads the whole input, handing each interface and frame to <paramref name="handler"/>.</summary>
    /// <exception cref="CaptureFormatException">Not a capture, or corrupt (the message names the record and byte offset).</exception>
    public async Task<CaptureReadResult> ReadAllAsync<THandler>(THandler handler, CancellationToken cancellationToken = default)
        where THandler : struct, ICaptureHandler
    {
        while (true)
        {
            ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition consumed = Parse(buffer, ref handler, out long unconsumed);
            _input.AdvanceTo(consumed, buffer.End);
            await handler.OnBatchCompletedAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCompleted || result.IsCanceled)
            {
                await _input.CompleteAsync().ConfigureAwait(false);
                return Finish(unconsumed);
            }
        }
    }

    private CaptureReadResult Finish(long unconsumed)
    {
        if (!_formatKnown)
        {
            CaptureThrowHelper.ThrowHeader(_source, unconsumed == 0
                ? "the input is empty; expected a pcap or pcapng capture."
                : string.Create(CultureInfo.InvariantCulture, $"only {unconsumed} bytes: too short for a pcap or pcapng file header."));
        }
        if (_format == CaptureFileFormat.Pcapng && _records == 0 && unconsumed > 0)
        {
            // As a pcap file shorter than its 24-byte header: without a whole section header block there is no capture.
            CaptureThrowHelper.ThrowHeader(_source, string.Create(CultureInfo.InvariantCulture,
                $"only {unconsumed} bytes of a pcapng section header block (at byte offset 0): too short for a pcapng file."));
        }
        string? warning = null;
        long truncatedAt = -1;
        if (unconsumed > 0 || _skipRemaining > 0)
        {
            // A block being skipped when the input ended started before the current offset.
            truncatedAt = _skipRemaining > 0 ? _skipStart : _offset;
            long present = _skipRemaining > 0 ? _offset - _skipStart : unconsumed;
            string what = _format == CaptureFileFormat.Pcap ? "record" : "block";
            warning = string.Create(CultureInfo.InvariantCulture,
                $"{_source}: warning: the final {what} ({what} {_records + 1}, at byte offset {truncatedAt}) is cut short ({present} bytes present); it was ignored and everything before it was processed.");
        }
        return new CaptureReadResult
        {
            Format = _format,
            Records = _records,
            Frames = _frames,
            Bytes = _bytes,
            TruncatedOffset = truncatedAt,
            Warning = warning,
        };
    }

    private long _skipStart;

    private SequencePosition Parse<THandler>(ReadOnlySequence<byte> buffer, ref THandler handler, out long unconsumed)
        where THandler : struct, ICaptureHandler
    {
        var reader = new SequenceReader<byte>(buffer);
        if (_skipRemaining > 0)
        {
            long n = Math.Min(_skipRemaining, reader.Remaining);
            reader.Advance(n);
            _skipRemaining -= n;
            _offset += n;
            if (_skipRemaining == 0)
            {
                _records++;
            }
        }
        if (_skipRemaining == 0)
        {
            if (!_formatKnown)
            {
                DetectFormat(ref reader, ref handler);
            }
            if (_formatKnown)
            {
                if (_format == CaptureFileFormat.Pcap)
                {
                    ParsePcapRecords(ref reader, ref handler);
                }
                else
                {
                    ParsePcapngBlocks(ref reader, ref handler);
                }
            }
        }
        unconsumed = reader.Remaining;
        return reader.Position;
    }

    // ---------------------------------------------------------------- format detection and the pcap header

    private void DetectFormat<THandler>(ref SequenceReader<byte> reader, ref THandler handler)
        where THandler : struct, ICaptureHandler
    {
        Span<byte> magicBytes = stackalloc byte[4];
        if (!reader.TryCopyTo(magicBytes))
        {
            return;
        }
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(magicBytes);
        if (magic == BlockSectionHeader)
        {
            _format = CaptureFileFormat.Pcapng;
            _formatKnown = true;
            return; // the SHB is parsed as the first block
        }

        bool nanoseconds;
        if (magic is PcapMagicMicroseconds or PcapMagicNanoseconds)
        {
            _bigEndian = false;
            nanoseconds = magic == PcapMagicNanoseconds;
        }
        else if (BinaryPrimitives.ReverseEndianness(magic) is PcapMagicMicroseconds or PcapMagicNanoseconds)
        {
            _bigEndian = true;
            nanoseconds = BinaryPrimitives.ReverseEndianness(magic) == PcapMagicNanoseconds;
        }
        else
        {
            CaptureThrowHelper.ThrowHeader(_source, string.Create(CultureInfo.InvariantCulture,
                $"not a pcap or pcapng capture (magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(magicBytes):X8} at byte offset 0). Expected a pcap file (magic a1b2c3d4 or a1b23c4d, either byte order) or a pcapng file (0a0d0d0a)."));
            return;
        }

        Span<byte> header = stackalloc byte[PcapFileHeaderLength];
        if (!reader.TryCopyTo(header))
        {
            return;
        }
        ushort major = ReadU16(header.Slice(4));
        if (major != 2)
        {
            CaptureThrowHelper.ThrowHeader(_source, string.Create(CultureInfo.InvariantCulture,
                $"pcap version {major}.{ReadU16(header.Slice(6))} at byte offset 4 is not supported (only 2.x is)."));
        }
        uint snapLength = ReadU32(header.Slice(16));
        // The link-type field's upper bits carry FCS information (pcap draft §4); the type is the low 16 bits.
        int linkType = (int)(ReadU32(header.Slice(20)) & 0xFFFF);
        _pcapInterface = new CaptureInterface(0, linkType, (int)Math.Min(snapLength, int.MaxValue),
            nanoseconds ? CaptureInterface.NanosecondResolution : CaptureInterface.MicrosecondResolution);
        _interfaces.Add(_pcapInterface);
        _format = CaptureFileFormat.Pcap;
        _formatKnown = true;
        reader.Advance(PcapFileHeaderLength);
        _offset = PcapFileHeaderLength;
        handler.OnInterface(_pcapInterface);
    }

    // ---------------------------------------------------------------- pcap records

    private void ParsePcapRecords<THandler>(ref SequenceReader<byte> reader, ref THandler handler)
        where THandler : struct, ICaptureHandler
    {
        CaptureInterface captureInterface = _pcapInterface!;
        ulong ticksPerSecond = captureInterface.TicksPerSecond;
        Span<byte> header = stackalloc byte[PcapRecordHeaderLength];
        while (true)
        {
            scoped ReadOnlySpan<byte> record;
            int total;
            ReadOnlySpan<byte> span = reader.UnreadSpan;
            if (span.Length >= PcapRecordHeaderLength)
            {
                // Fast path: the record header lies in the current buffer segment.
                total = PcapRecordLength(span);
                if (span.Length >= total)
                {
                    record = span.Slice(0, total);
                }
                else if (reader.Remaining >= total)
                {
                    record = CopyToScratch(ref reader, total);
                }
                else
                {
                    return;
                }
            }
            else
            {
                if (!reader.TryCopyTo(header))
                {
                    return;
                }
                total = PcapRecordLength(header);
                if (reader.Remaining < total)
                {
                    return;
                }
                record = CopyToScratch(ref reader, total);
            }

            long recordNumber = ++_records;
            ulong seconds = ReadU32(record);
            ulong fraction = ReadU32(record.Slice(4));
            int capturedLength = total - PcapRecordHeaderLength;
            int originalLength = (int)Math.Min(ReadU32(record.Slice(12)), int.MaxValue);
            Span<byte> data = Writable(record.Slice(PcapRecordHeaderLength));
            var frame = new CaptureFrame(captureInterface, (seconds * ticksPerSecond) + fraction, originalLength, recordNumber, _offset);
            _frames++;
            _bytes += capturedLength;
            handler.OnFrame(frame, data);
            reader.Advance(total);
            _offset += total;
        }
    }

    /// <summary>Header plus captured bytes of the pcap record whose 16-byte header starts <paramref name="header"/>; corrupt lengths throw.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int PcapRecordLength(ReadOnlySpan<byte> header)
    {
        uint captured = ReadU32(header.Slice(8));
        if (captured > MaxCapturedLength)
        {
            ThrowRecordTooLong(captured);
        }
        return PcapRecordHeaderLength + (int)captured;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowRecordTooLong(uint captured) =>
        CaptureThrowHelper.ThrowCorrupt(_source, "record", _records + 1, _offset,
            string.Create(CultureInfo.InvariantCulture, $"captured length {captured} exceeds the {MaxCapturedLength}-byte limit"));

    // ---------------------------------------------------------------- pcapng blocks

    private void ParsePcapngBlocks<THandler>(ref SequenceReader<byte> reader, ref THandler handler)
        where THandler : struct, ICaptureHandler
    {
        Span<byte> head = stackalloc byte[12];
        while (true)
        {
            ReadOnlySpan<byte> span = reader.UnreadSpan;
            scoped ReadOnlySpan<byte> blockHead;
            if (span.Length >= 12)
            {
                blockHead = span;
            }
            else if (reader.TryCopyTo(head))
            {
                blockHead = head;
            }
            else
            {
                return;
            }

            uint type = ReadU32(blockHead);
            if (type == BlockSectionHeader)
            {
                // The SHB says the byte order of everything up to the next SHB, its own length included.
                uint bom = BinaryPrimitives.ReadUInt32LittleEndian(blockHead.Slice(8));
                if (bom == ByteOrderMagic)
                {
                    _bigEndian = false;
                }
                else if (bom == BinaryPrimitives.ReverseEndianness(ByteOrderMagic))
                {
                    _bigEndian = true;
                }
                else
                {
                    CaptureThrowHelper.ThrowCorrupt(_source, "block", _records + 1, _offset,
                        string.Create(CultureInfo.InvariantCulture, $"section header block with byte-order magic 0x{bom:X8} (expected 1a2b3c4d in either byte order)"));
                }
            }
            else if (_records == 0)
            {
                CaptureThrowHelper.ThrowCorrupt(_source, "block", 1, 0, "a pcapng file must start with a section header block");
            }

            uint length = ReadU32(blockHead.Slice(4));
            bool isPacket = type is BlockEnhancedPacket or BlockSimplePacket or BlockObsoletePacket;
            bool isMetadata = type is BlockSectionHeader or BlockInterfaceDescription;
            if (length < 12 || (length & 3) != 0)
            {
                ThrowBlock(type, $"block length {length} is not a multiple of 4 of at least 12");
            }
            if ((isPacket && length > MaxCapturedLength + MaxPacketBlockOverhead) || (isMetadata && length > MaxMetadataBlockLength))
            {
                ThrowBlock(type, $"block length {length} exceeds the limit for this block type");
            }

            if (!isPacket && !isMetadata)
            {
                // Name resolution, statistics, custom and unknown blocks: skipped without buffering them.
                long n = Math.Min(length, reader.Remaining);
                _skipStart = _offset;
                reader.Advance(n);
                _offset += n;
                if (n < length)
                {
                    _skipRemaining = length - n;
                    return;
                }
                _records++;
                continue;
            }

            scoped ReadOnlySpan<byte> block;
            if (span.Length >= length)
            {
                block = span.Slice(0, (int)length);
            }
            else if (reader.Remaining >= length)
            {
                block = CopyToScratch(ref reader, (int)length);
            }
            else
            {
                return;
            }
            if (ReadU32(block.Slice((int)length - 4)) != length)
            {
                ThrowBlock(type, $"the trailing block length {ReadU32(block.Slice((int)length - 4))} differs from the leading one {length}");
            }

            switch (type)
            {
                case BlockEnhancedPacket:
                    ReadEnhancedPacket(block, ref handler);
                    break;
                case BlockSimplePacket:
                    ReadSimplePacket(block, ref handler);
                    break;
                case BlockObsoletePacket:
                    ReadObsoletePacket(block, ref handler);
                    break;
                case BlockSectionHeader:
                    ReadSectionHeader(block);
                    break;
                default:
                    ReadInterfaceDescription(block, ref handler);
                    break;
            }
            _records++;
            reader.Advance(length);
            _offset += length;
        }
    }

    private void ReadEnhancedPacket<THandler>(ReadOnlySpan<byte> block, ref THandler handler)
        where THandler : struct, ICaptureHandler
    {
        // type, length, interface id, timestamp high, timestamp low, captured length, original length, data…, options…, length
        if (block.Length < 32)
        {
            ThrowBlock(BlockEnhancedPacket, "too short for an enhanced packet block");
        }
        uint interfaceId = ReadU32(block.Slice(8));
        ulong timestamp = ((ulong)ReadU32(block.Slice(12)) << 32) | ReadU32(block.Slice(16));
        uint captured = ReadU32(block.Slice(20));
        uint original = ReadU32(block.Slice(24));
        EmitPacket(BlockEnhancedPacket, block, 28, interfaceId, timestamp, captured, original, ref handler);
    }

    private void ReadObsoletePacket<THandler>(ReadOnlySpan<byte> block, ref THandler handler)
        where THandler : struct, ICaptureHandler
    {
        // As the EPB, but a 16-bit interface id and a 16-bit drops count.
        if (block.Length < 32)
        {
            ThrowBlock(BlockObsoletePacket, "too short for a packet block");
        }
        uint interfaceId = ReadU16(block.Slice(8));
        ulong timestamp = ((ulong)ReadU32(block.Slice(12)) << 32) | ReadU32(block.Slice(16));
        uint captured = ReadU32(block.Slice(20));
        uint original = ReadU32(block.Slice(24));
        EmitPacket(BlockObsoletePacket, block, 28, interfaceId, timestamp, captured, original, ref handler);
    }

    private void ReadSimplePacket<THandler>(ReadOnlySpan<byte> block, ref THandler handler)
        where THandler : struct, ICaptureHandler
    {
        // type, length, original length, data…, length. Interface 0, no timestamp; the captured length is
        // the smaller of the original length and the interface's snap length (pcapng §4.4).
        if (block.Length < 16)
        {
            ThrowBlock(BlockSimplePacket, "too short for a simple packet block");
        }
        uint original = ReadU32(block.Slice(8));
        uint room = (uint)block.Length - 16;
        uint captured = Math.Min(original, room);
        if (_interfaces.Count > _sectionBase && _interfaces[_sectionBase].SnapLength > 0)
        {
            captured = Math.Min(captured, (uint)_interfaces[_sectionBase].SnapLength);
        }
        EmitPacket(BlockSimplePacket, block, 12, 0, 0, captured, original, ref handler);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EmitPacket<THandler>(uint type, ReadOnlySpan<byte> block, int dataOffset, uint interfaceId, ulong timestamp, uint captured, uint original, ref THandler handler)
        where THandler : struct, ICaptureHandler
    {
        if (captured > MaxCapturedLength || dataOffset + captured + 4 > (uint)block.Length)
        {
            ThrowBlock(type, $"captured length {captured} does not fit in the block (length {block.Length}) or exceeds {MaxCapturedLength}");
        }
        int index = _sectionBase + (int)interfaceId;
        if (interfaceId >= (uint)(_interfaces.Count - _sectionBase))
        {
            ThrowBlock(type, $"it refers to interface {interfaceId}, but this section declared {_interfaces.Count - _sectionBase} interface(s)");
        }
        Span<byte> data = Writable(block.Slice(dataOffset, (int)captured));
        var frame = new CaptureFrame(_interfaces[index], timestamp, (int)Math.Min(original, int.MaxValue), _records + 1, _offset);
        _frames++;
        _bytes += captured;
        handler.OnFrame(frame, data);
    }

    private void ReadSectionHeader(ReadOnlySpan<byte> block)
    {
        if (block.Length < 28)
        {
            ThrowBlock(BlockSectionHeader, "too short for a section header block");
        }
        ushort major = ReadU16(block.Slice(12));
        if (major != 1)
        {
            ThrowBlock(BlockSectionHeader, $"pcapng version {major}.{ReadU16(block.Slice(14))} is not supported (only 1.x is)");
        }
        // A new section starts its interface numbering from 0.
        _sectionBase = _interfaces.Count;
    }

    private void ReadInterfaceDescription<THandler>(ReadOnlySpan<byte> block, ref THandler handler)
        where THandler : struct, ICaptureHandler
    {
        if (block.Length < 20)
        {
            ThrowBlock(BlockInterfaceDescription, "too short for an interface description block");
        }
        int linkType = ReadU16(block.Slice(8));
        uint snapLength = ReadU32(block.Slice(12));
        byte resolution = CaptureInterface.MicrosecondResolution;
        long offsetSeconds = 0;

        // Options: code (2), length (2), value padded to 4 bytes; opt_endofopt or the block's end stops them.
        ReadOnlySpan<byte> options = block.Slice(16, block.Length - 20);
        while (options.Length >= 4)
        {
            ushort code = ReadU16(options);
            int valueLength = ReadU16(options.Slice(2));
            if (code == OptionEnd)
            {
                break;
            }
            int padded = (valueLength + 3) & ~3;
            if (4 + padded > options.Length)
            {
                ThrowBlock(BlockInterfaceDescription, $"option {code} of length {valueLength} runs past the end of the block");
            }
            ReadOnlySpan<byte> value = options.Slice(4, valueLength);
            if (code == OptionTimestampResolution && valueLength == 1)
            {
                resolution = value[0];
                int exponent = resolution & 0x7F;
                if ((resolution & 0x80) == 0 ? exponent > 19 : exponent > 63)
                {
                    ThrowBlock(BlockInterfaceDescription, $"if_tsresol 0x{resolution:X2} is finer than this reader can represent");
                }
            }
            else if (code == OptionTimestampOffset && valueLength == 8)
            {
                offsetSeconds = _bigEndian ? BinaryPrimitives.ReadInt64BigEndian(value) : BinaryPrimitives.ReadInt64LittleEndian(value);
            }
            options = options.Slice(4 + padded);
        }

        var captureInterface = new CaptureInterface(_interfaces.Count, linkType, (int)Math.Min(snapLength, int.MaxValue), resolution, offsetSeconds);
        _interfaces.Add(captureInterface);
        handler.OnInterface(captureInterface);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>
    /// The frame's bytes where they lie, handed to the handler to rewrite in place (no copy per frame). Safe: they
    /// are in the pipe's pooled arrays (or the scratch buffer), which this reader owns until it advances past them,
    /// and nothing reads them again after the handler returns. Measured by perf/replay-vs-tcprewrite.sh.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Span<byte> Writable(ReadOnlySpan<byte> bytes) =>
        MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(bytes), bytes.Length);

    /// <summary>The slow path: a record that straddles two of the pipe's buffers is copied into one piece.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReadOnlySpan<byte> CopyToScratch(scoped ref SequenceReader<byte> reader, int length)
    {
        _scratch ??= new byte[MaxMetadataBlockLength];
        Span<byte> target = _scratch.AsSpan(0, length);
        reader.Sequence.Slice(reader.Position, length).CopyTo(target);
        return target;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint ReadU32(ReadOnlySpan<byte> bytes) =>
        _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ushort ReadU16(ReadOnlySpan<byte> bytes) =>
        _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(bytes) : BinaryPrimitives.ReadUInt16LittleEndian(bytes);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBlock(uint type, string detail)
    {
        string name = type switch
        {
            BlockSectionHeader => "section header block",
            BlockInterfaceDescription => "interface description block",
            BlockEnhancedPacket => "enhanced packet block",
            BlockSimplePacket => "simple packet block",
            BlockObsoletePacket => "packet block",
            _ => string.Create(CultureInfo.InvariantCulture, $"block of type 0x{type:X8}"),
        };
        CaptureThrowHelper.ThrowCorrupt(_source, "block", _records + 1, _offset, $"{name}: {detail}");
    }
}
