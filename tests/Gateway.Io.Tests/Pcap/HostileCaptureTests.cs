using Gateway.CaptureGenerator;
using Xunit.Abstractions;
using static Gateway.Io.Pcap.Tests.HostileCapture;
using static Gateway.TestSupport.HostileCaptures;

namespace Gateway.Io.Pcap.Tests;

/// <summary>
/// Captures built to break the reader: wrong magic, lying lengths, unknown blocks, undeclared interfaces, absurd
/// resolutions. Each must end in frames (perhaps with a warning naming an offset) or in a <see cref="CaptureFormatException"/>
/// naming the record or block and its byte offset; never another exception, never a hang.
/// </summary>
public class HostileCaptureTests(ITestOutputHelper output)
{
    private const int ShbLength = 28;
    private const int IdbLength = 20;

    // ---------------------------------------------------------------- wrong magic

    public static TheoryData<string, byte[], string> WrongMagic()
    {
        var random = new Random(7);
        byte[] noise = new byte[64];
        random.NextBytes(noise);
        noise[0] = 0x5A; // no valid magic starts with 0x5a in either byte order
        return new()
        {
            { "random bytes", noise, "not a pcap or pcapng capture (magic number 0x5A" },
            { "a text file", "Hello, this is a text file and not a capture.\n"u8.ToArray(), "not a pcap or pcapng capture (magic number 0x48656C6C at byte offset 0)" },
            { "an empty file", [], "the input is empty" },
            { "one byte", [0x0A], "only 1 bytes: too short" },
            { "a pcap magic alone", U32(0xA1B2C3D4), "only 4 bytes: too short" },
            { "a pcap header of version 3", PcapHeader(major: 3), "pcap version 3.4 at byte offset 4 is not supported" },
            { "a pcapng SHB with a bad byte-order magic", [.. Shb(byteOrderMagic: 0xDEADBEEF), .. Idb()], "block 1 at byte offset 0: section header block with byte-order magic 0xDEADBEEF" },
            { "a pcapng SHB with a byte-swapped-looking but wrong magic", Shb(byteOrderMagic: 0x4D3C2B1B), "byte-order magic 0x4D3C2B1B" },
            { "a pcapng SHB of version 2", Shb(major: 2), "block 1 at byte offset 0: section header block: pcapng version 2.0 is not supported" },
        };
    }

    [Theory]
    [MemberData(nameof(WrongMagic))]
    public void NotACapture_IsAnErrorSayingWhatWasFound(string what, byte[] bytes, string message)
    {
        var e = ReadError(bytes);
        Assert.True(e.Message.Contains(message, StringComparison.Ordinal), $"{what}: {e.Message}");
        Assert.StartsWith("test input: ", e.Message, StringComparison.Ordinal);
        Assert.Equal(e.RecordNumber == 0 ? 0 : 1, e.RecordNumber); // the file header, or the first block
        Assert.Equal(0, e.Offset);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(12)]
    [InlineData(27)]
    public void PcapngEndingInsideItsSectionHeaderBlock_IsNotACapture(int length)
    {
        // Like a pcap file shorter than its header: an error, not an empty capture with a warning.
        var e = ReadError(Shb()[..length]);
        Assert.Equal((0, 0L), (e.RecordNumber, e.Offset));
        Assert.Contains($"only {length} bytes of a pcapng section header block (at byte offset 0): too short for a pcapng file", e.Message, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- absurd snap lengths

    [Theory]
    [InlineData(0u, 0)]
    [InlineData(0x80000000u, int.MaxValue)]
    [InlineData(0xFFFFFFFFu, int.MaxValue)]
    [InlineData(1u, 1)]
    public void AbsurdPcapSnapLength_IsReadAsLibpcapReadsIt(uint snapLength, int expected)
    {
        byte[] bytes = [.. PcapHeader(snapLength), .. PcapRecord(Frame(60)), .. PcapRecord(Frame(70, 9))];
        var outcome = ReadOk(bytes);
        Assert.Equal(expected, Assert.Single(outcome.Interfaces).SnapLength);
        Assert.Equal([Frame(60), Frame(70, 9)], outcome.Frames.Select(f => f.Data));
        Assert.Null(outcome.Result!.Warning);

        // libpcap reads the same file (it takes a snap length of 0 or beyond its maximum as "the maximum").
        string path = Path.Combine(Path.GetTempPath(), $"gateway-snaplen-{Environment.ProcessId}-{snapLength:X8}.pcap");
        try
        {
            File.WriteAllBytes(path, bytes);
            var oracle = SharpPcapOracle.Read(path);
            if (snapLength >= 60)
            {
                Assert.Equal(outcome.Frames.Select(f => f.Data), oracle.Select(f => f.Data));
            }
            else
            {
                Assert.Equal(2, oracle.Count); // libpcap cuts records to a tiny snap length; this reader keeps what was captured
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    // ---------------------------------------------------------------- pcap record lengths

    [Theory]
    [InlineData(CaptureReader.MaxCapturedLength + 1u)]
    [InlineData(1u << 20)]
    [InlineData(0x80000000u)]
    [InlineData(0xFFFFFFFFu)]
    public void PcapCapturedLengthBeyond256KiB_IsAnErrorAtTheRecord(uint captured)
    {
        byte[] bytes = [.. PcapHeader(), .. PcapRecord(Frame(60)), .. PcapRecord(captured, captured, Frame(100))];
        var e = ReadError(bytes);
        Assert.Equal(2, e.RecordNumber);
        Assert.Equal(24 + 16 + 60, e.Offset);
        Assert.Contains($"record 2 at byte offset 100: captured length {captured} exceeds the 262144-byte limit", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PcapCapturedLengthOfExactly256KiB_IsRead()
    {
        byte[] big = Frame(CaptureReader.MaxCapturedLength);
        var outcome = ReadOk([.. PcapHeader(), .. PcapRecord(big), .. PcapRecord(Frame(10))], bufferSize: 1000);
        Assert.Equal([big.Length, 10], outcome.Frames.Select(f => f.Data.Length));
        Assert.Equal(big, outcome.Frames[0].Data);
    }

    [Theory]
    [InlineData(61u)]
    [InlineData(1000u)]
    [InlineData(200_000u)]
    public void PcapCapturedLengthBeyondTheFile_IsAWarningAtThatRecord(uint captured)
    {
        byte[] bytes = [.. PcapHeader(), .. PcapRecord(Frame(60)), .. PcapRecord(captured, captured, Frame(60))];
        var outcome = ReadOk(bytes);
        Assert.Single(outcome.Frames);
        Assert.Equal(100, outcome.Result!.TruncatedOffset);
        Assert.Contains("the final record (record 2, at byte offset 100) is cut short (76 bytes present)", outcome.Result.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void PcapCapturedLengthAboveOriginalLength_KeepsTheCapturedBytesAndTheOriginalLength()
    {
        // libpcap accepts these (some writers get the original length wrong); replay judges the frame by the larger one.
        var outcome = ReadOk([.. PcapHeader(), .. PcapRecord(60, 20, Frame(60)), .. PcapRecord(Frame(30))]);
        Assert.Equal([60, 30], outcome.Frames.Select(f => f.Data.Length));
        Assert.Equal([20, 30], outcome.Frames.Select(f => f.OriginalLength));
    }

    [Fact]
    public void PcapCapturedLengthAboveSnapLength_IsReadWhole()
    {
        // The file's snap length only says what the capturing tool was asked for; the bytes present are the frame.
        var outcome = ReadOk([.. PcapHeader(snapLength: 64), .. PcapRecord(Frame(100)), .. PcapRecord(Frame(64))]);
        Assert.Equal([100, 64], outcome.Frames.Select(f => f.Data.Length));
        Assert.Equal(Frame(100), outcome.Frames[0].Data);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(60u)]
    public void ZeroLengthPcapRecords_AreEmptyFramesAndTheNextRecordStillLinesUp(uint original)
    {
        byte[] bytes = [.. PcapHeader(), .. PcapRecord(0, original, []), .. PcapRecord(0, original, []), .. PcapRecord(Frame(42))];
        var outcome = ReadOk(bytes);
        Assert.Equal([0, 0, 42], outcome.Frames.Select(f => f.Data.Length));
        Assert.Equal([24L, 40, 56], outcome.Frames.Select(f => f.Offset));
        Assert.Equal(Frame(42), outcome.Frames[2].Data);
        Assert.Null(outcome.Result!.Warning);
    }

    // ---------------------------------------------------------------- pcapng blocks

    [Fact]
    public void ZeroLengthEnhancedAndSimplePacketBlocks_AreEmptyFrames()
    {
        var outcome = ReadOk([.. Shb(), .. Idb(), .. Epb(0, []), .. Spb([]), .. Epb(0, [], original: 1500), .. Epb(0, Frame(5))]);
        Assert.Equal([0, 0, 0, 5], outcome.Frames.Select(f => f.Data.Length));
        Assert.Equal([0, 0, 1500, 5], outcome.Frames.Select(f => f.OriginalLength));
    }

    [Theory]
    [InlineData(0x00000BADu)]
    [InlineData(4u)]          // name resolution
    [InlineData(5u)]          // interface statistics
    [InlineData(0x00000BADu | 0x80000000u)] // local use
    [InlineData(0x40000BADu)] // custom, copiable
    [InlineData(0xFFFFFFFFu)]
    public void UnknownBlockTypes_AreSkippedAndCountedAsBlocks(uint type)
    {
        byte[] bytes = [.. Shb(), .. Block(type, Frame(40)), .. Idb(), .. Block(type, []), .. Block(type, Frame(4)), .. Epb(0, Frame(60)), .. Block(type, Frame(1000))];
        foreach (int size in new[] { 1, 13, 4096 })
        {
            var outcome = ReadOk(bytes, size);
            Assert.Equal(Frame(60), Assert.Single(outcome.Frames).Data);
            Assert.Equal(7, outcome.Result!.Records);
            Assert.Null(outcome.Result.Warning);
        }
    }

    [Fact]
    public void UnknownBlockClaimingMoreThanTheFile_IsAWarningAtThatBlock()
    {
        byte[] bytes = [.. Shb(), .. Idb(), .. Epb(0, Frame(60)), .. Block(0xBAD, Frame(100), length: 0x80000000)];
        var outcome = ReadOk(bytes);
        Assert.Single(outcome.Frames);
        long offset = ShbLength + IdbLength + 92;
        Assert.Equal(offset, outcome.Result!.TruncatedOffset);
        Assert.True(outcome.Result.Warning!.Contains($"the final block (block 4, at byte offset {offset}) is cut short (112 bytes present)", StringComparison.Ordinal), outcome.Result.Warning);
    }

    public static TheoryData<string, uint> BadBlockLengths() => new()
    {
        { "0", 0 }, { "4", 4 }, { "8", 8 }, { "11", 11 }, { "13", 13 }, { "34", 34 }, { "0xFFFFFFFF", 0xFFFFFFFF },
    };

    [Theory]
    [MemberData(nameof(BadBlockLengths))]
    public void BlockLengthNotAMultipleOf4OfAtLeast12_IsAnErrorAtTheBlock(string name, uint length)
    {
        foreach (uint type in new uint[] { 6, 1, 3, 0xBAD })
        {
            byte[] bytes = [.. Shb(), .. Idb(), .. Block(type, Frame(20), length: length)];
            var e = ReadError(bytes);
            Assert.Equal(3, e.RecordNumber);
            Assert.Equal(ShbLength + IdbLength, e.Offset);
            Assert.True(e.Message.Contains($"block 3 at byte offset 48: ", StringComparison.Ordinal) && e.Message.Contains($"block length {length} is not a multiple of 4 of at least 12", StringComparison.Ordinal),
                $"type {type}, length {name}: {e.Message}");
        }
    }

    [Fact]
    public void SectionHeaderBlockLengthTooSmall_IsAnErrorAtBlockOne()
    {
        byte[] shb = Shb();
        shb[4] = 8;
        var e = ReadError(shb);
        Assert.Equal((1, 0L), (e.RecordNumber, e.Offset));
        Assert.Contains("block length 8", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x0A0D0D0Au, 2_000_000u)]
    [InlineData(1u, 0x80000000u)]
    [InlineData(6u, 0x80000000u)]
    [InlineData(6u, 0xFFFFFFF0u)]
    [InlineData(3u, 400_000u)]
    [InlineData(2u, 400_000u)]
    public void PacketOrMetadataBlockClaimingGigabytes_IsAnErrorBeforeBufferingIt(uint type, uint length)
    {
        byte[] body = type == 0x0A0D0D0A ? Shb()[8..^4] : Frame(20);
        byte[] bytes = [.. Shb(), .. Idb(), .. Block(type, body, length: length)];
        var e = ReadError(bytes);
        Assert.Equal((3, (long)(ShbLength + IdbLength)), (e.RecordNumber, e.Offset));
        Assert.Contains($"block length {length} exceeds the limit for this block type", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1u, "interface description block")]
    [InlineData(6u, "enhanced packet block")]
    [InlineData(3u, "simple packet block")]
    [InlineData(0x0A0D0D0Au, "section header block")]
    public void TrailingBlockLengthThatDisagrees_IsAnErrorAtTheBlock(uint type, string name)
    {
        byte[] block = type switch
        {
            1 => Block(1, [.. U16(1), .. U16(0), .. U32(0)], trailing: 24),
            6 => Block(6, [.. U32(0), .. U32(0), .. U32(0), .. U32(4), .. U32(4), .. Frame(4)], trailing: 12),
            3 => Block(3, [.. U32(4), .. Frame(4)], trailing: 0xFFFFFFFF),
            _ => Block(0x0A0D0D0A, [.. U32(0x1A2B3C4D), .. U16(1), .. U16(0), .. U32(0xFFFFFFFF), .. U32(0xFFFFFFFF)], trailing: 0),
        };
        var e = ReadError([.. Shb(), .. Idb(), .. block, .. Epb(0, Frame(8))]);
        Assert.Equal(ShbLength + IdbLength, e.Offset);
        Assert.Contains($"block 3 at byte offset 48: {name}: the trailing block length", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1u, 1)]
    [InlineData(2u, 1)]
    [InlineData(0xFFFFFFFFu, 1)]
    [InlineData(0u, 0)]
    public void EnhancedPacketBlockOnAnUndeclaredInterface_IsAnErrorNamingIt(uint interfaceId, int declared)
    {
        byte[] idbs = declared == 0 ? [] : Idb();
        int offset = ShbLength + (declared * IdbLength);
        var e = ReadError([.. Shb(), .. idbs, .. Epb(interfaceId, Frame(60))]);
        Assert.Equal(2 + declared, e.RecordNumber);
        Assert.Equal(offset, e.Offset);
        Assert.Contains($"enhanced packet block: it refers to interface {interfaceId}, but this section declared {declared} interface(s)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnhancedPacketBlockOnAnInterfaceOfAnEarlierSection_IsAnError()
    {
        // Interface numbering restarts at every SHB (pcapng §4.1): the second section has declared none.
        var e = ReadError([.. Shb(), .. Idb(), .. Epb(0, Frame(8)), .. Shb(), .. Epb(0, Frame(8))]);
        Assert.Equal((5, (long)(ShbLength + IdbLength + 40 + ShbLength)), (e.RecordNumber, e.Offset));
        Assert.Contains("but this section declared 0 interface(s)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SimplePacketBlockBeforeAnyInterface_IsAnError()
    {
        var e = ReadError([.. Shb(), .. Spb(Frame(8))]);
        Assert.Equal((2, (long)ShbLength), (e.RecordNumber, e.Offset));
        Assert.Contains("simple packet block: it refers to interface 0", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(100u, 0u)]
    [InlineData(CaptureReader.MaxCapturedLength + 4u, 0u)]
    [InlineData(0xFFFFFFFFu, 0u)]
    [InlineData(0x7FFFFFFFu, 0x7FFFFFFFu)]
    public void EnhancedPacketBlockCapturedLengthBeyondItsBlock_IsAnError(uint captured, uint original)
    {
        var e = ReadError([.. Shb(), .. Idb(), .. Epb(0, Frame(60), captured: captured, original: original == 0 ? null : original)]);
        Assert.Equal((3, (long)(ShbLength + IdbLength)), (e.RecordNumber, e.Offset));
        Assert.Contains($"captured length {captured} does not fit in the block", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnhancedPacketBlockCapturedAboveOriginalAndSnapLength_IsReadWhole()
    {
        var outcome = ReadOk([.. Shb(), .. Idb(snapLength: 16), .. Epb(0, Frame(60), original: 10)]);
        var frame = Assert.Single(outcome.Frames);
        Assert.Equal((60, 10), (frame.Data.Length, frame.OriginalLength));
    }

    [Fact]
    public void SimplePacketBlockWithAnAbsurdOriginalLength_TakesWhatTheBlockHolds()
    {
        var outcome = ReadOk([.. Shb(), .. Idb(), .. Spb(Frame(60), original: 0xFFFFFFFF)]);
        var frame = Assert.Single(outcome.Frames);
        Assert.Equal(Frame(60), frame.Data);
        Assert.Equal(int.MaxValue, frame.OriginalLength);
    }

    [Theory]
    [InlineData(105, "105 (IEEE 802.11 wireless)")]
    [InlineData(147, "147")]
    [InlineData(65535, "65535")]
    public void InterfaceWithAnUnknownLinkType_IsDeclaredAsItIs(int linkType, string described)
    {
        // The reader passes any link type on; replay refuses it naming it (ReplayHostileInputTests in Gateway.Cli.Tests).
        var outcome = ReadOk([.. Shb(), .. Idb((ushort)linkType), .. Epb(0, Frame(20))]);
        Assert.Equal(linkType, Assert.Single(outcome.Interfaces).LinkType);
        Assert.Equal(described, LinkTypes.Describe(linkType));
        Assert.False(LinkTypes.IsSupported(linkType));
    }

    // ---------------------------------------------------------------- IDB options

    [Theory]
    [InlineData(20)]   // 10^-20 s: more ticks per second than 64 bits count
    [InlineData(0x7F)] // 10^-127
    [InlineData(0xC0)] // 2^-64
    [InlineData(0xFF)] // 2^-127
    public void AbsurdTimestampResolution_IsAnErrorNamingIt(int resolution)
    {
        byte[] options = [.. Option(9, [(byte)resolution]), .. EndOfOptions];
        var e = ReadError([.. Shb(), .. Idb(options: options), .. Epb(0, Frame(8))]);
        Assert.Equal((2, (long)ShbLength), (e.RecordNumber, e.Offset));
        Assert.Contains($"interface description block: if_tsresol 0x{resolution:X2} is finer than this reader can represent", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 1UL)]                 // whole seconds
    [InlineData(19, 10_000_000_000_000_000_000UL)]
    [InlineData(0x80, 1UL)]              // 2^0
    [InlineData(0x80 | 63, 1UL << 63)]
    public void ExtremeButRepresentableTimestampResolution_ReadsWithoutOverflowing(int resolution, ulong ticksPerSecond)
    {
        byte[] options = [.. Option(9, [(byte)resolution]), .. Option(14, [.. U32(0xFFFFFFFF), .. U32(0x7FFFFFFF)]), .. EndOfOptions];
        var outcome = ReadOk([.. Shb(), .. Idb(options: options), .. Epb(0, Frame(8), timestamp: ulong.MaxValue), .. Epb(0, Frame(8), timestamp: 0)]);
        var captureInterface = Assert.Single(outcome.Interfaces);
        Assert.Equal(ticksPerSecond, captureInterface.TicksPerSecond);
        Assert.Equal(long.MaxValue, captureInterface.TimestampOffsetSeconds);
        Assert.Equal(2, outcome.Frames.Count); // ToNanoseconds ran on both without throwing (it wraps, as the file is nonsense)
    }

    [Fact]
    public void TimestampResolutionOfTheWrongLength_IsIgnored()
    {
        byte[] options = [.. Option(9, [9, 9]), .. EndOfOptions];
        var outcome = ReadOk([.. Shb(), .. Idb(options: options), .. Epb(0, Frame(8), timestamp: 5_000_000)]);
        Assert.Equal(1_000_000UL, Assert.Single(outcome.Interfaces).TicksPerSecond);
        Assert.Equal(5_000_000_000L, outcome.Frames[0].TimeNs);
    }

    [Fact]
    public void OptionRunningPastTheEndOfItsBlock_IsAnError()
    {
        byte[] options = [.. U16(2), .. U16(200), .. Frame(8)];
        var e = ReadError([.. Shb(), .. Idb(options: options)]);
        Assert.Contains("block 2 at byte offset 28: interface description block: option 2 of length 200 runs past the end of the block", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InterfaceDescriptionBlockTooShort_IsAnError()
    {
        var e = ReadError([.. Shb(), .. Block(1, U32(1))]);
        Assert.Contains("block 2 at byte offset 28: interface description block: too short", e.Message, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- every truncation, every corrupted byte

    /// <summary>A small pcap: three records, one of them empty.</summary>
    private static byte[] SmallPcap() =>
        CaptureFiles.Pcap([new CaptureRecord(1_700_000_000_000_000_000, Frame(42), 42), new CaptureRecord(1_700_000_000_000_001_000, [], 60),
            new CaptureRecord(1_700_000_000_000_002_000, Frame(17, 5), 1500)], 1, 65535, nanoseconds: false, bigEndian: false);

    /// <summary>A small pcapng with options, an unknown block, a name resolution block, two interfaces and an SPB.</summary>
    private static byte[] SmallPcapng(bool bigEndian) =>
        CaptureFiles.Pcapng([new CaptureRecord(1_700_000_000_000_000_000, Frame(42), 42, 0), new CaptureRecord(1_700_000_000_000_001_000, Frame(3), 60, 1),
            new CaptureRecord(0, Frame(17, 5), 17, 0, Simple: true)], [new InterfaceSpec(1, 65535, 6, "eth0"), new InterfaceSpec(101, 0, 9, "tun0")], bigEndian, minimal: false);

    public static TheoryData<string> SmallFiles() => ["pcap", "pcapng", "pcapng-big-endian"];

    private static byte[] Small(string name) => name switch
    {
        "pcap" => SmallPcap(),
        "pcapng" => SmallPcapng(false),
        _ => SmallPcapng(true),
    };

    [Theory]
    [MemberData(nameof(SmallFiles))]
    public void TruncationAtEveryByte_GivesTheWholeRecordsAndAWarningOrAnErrorWithTheOffset(string name)
    {
        byte[] bytes = Small(name);
        var whole = ReadOk(bytes).Frames;
        Assert.Equal(3, whole.Count);
        var boundaries = new HashSet<long>(whole.Select(f => f.Offset)) { bytes.Length };
        int errors = 0, warnings = 0, clean = 0;
        for (int length = 0; length <= bytes.Length; length++)
        {
            foreach (int size in new[] { 1, 4096 })
            {
                var outcome = Read(bytes[..length], size);
                if (outcome.Error != null)
                {
                    // Only a prefix that is not yet a capture at all may fail: one shorter than the file header.
                    Assert.True(length < HeaderLength(bytes, name), $"prefix {length}: {outcome.Error.Message}");
                    Assert.Equal(0, outcome.Error.Offset);
                    errors++;
                    continue;
                }
                var result = outcome.Result!;
                var expected = whole.TakeWhile((f, i) => (i + 1 < whole.Count ? whole[i + 1].Offset : bytes.Length) <= length).ToList();
                Assert.Equal(expected.Select(f => (f.Offset, Convert.ToHexString(f.Data))), outcome.Frames.Select(f => (f.Offset, Convert.ToHexString(f.Data))));
                if (result.Warning == null)
                {
                    // Clean only at a block boundary after the header (or the whole file).
                    Assert.True(boundaries.Contains(length) || IsBlockBoundary(bytes, name, length), $"prefix {length} read cleanly");
                    clean++;
                }
                else
                {
                    Assert.InRange(result.TruncatedOffset, 0, length - 1);
                    Assert.Contains($"at byte offset {result.TruncatedOffset}) is cut short ({length - result.TruncatedOffset} bytes present)", result.Warning, StringComparison.Ordinal);
                    warnings++;
                }
            }
        }
        output.WriteLine($"{name}: {bytes.Length + 1} prefixes × 2 buffer sizes: {errors} errors, {warnings} warnings, {clean} clean");
        Assert.True(errors > 0 && warnings > 0 && clean > 0, $"{errors} errors, {warnings} warnings, {clean} clean");
    }

    /// <summary>pcap's 24-byte file header, or the whole pcapng section header block.</summary>
    private static int HeaderLength(byte[] bytes, string name) => name switch
    {
        "pcap" => 24,
        "pcapng" => (int)BitConverter.ToUInt32(bytes, 4),
        _ => (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4)),
    };

    /// <summary>True when a prefix of <paramref name="length"/> bytes ends exactly after a pcap record or pcapng block.</summary>
    private static bool IsBlockBoundary(byte[] bytes, string name, int length)
    {
        bool bigEndian = name == "pcapng-big-endian";
        int at = name == "pcap" ? 24 : 0;
        while (at < length)
        {
            int next = name == "pcap"
                ? at + 16 + (int)BitConverter.ToUInt32(bytes, at + 8)
                : at + (int)(bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 4)) : BitConverter.ToUInt32(bytes, at + 4));
            at = next;
        }
        return at == length;
    }

    [Theory]
    [MemberData(nameof(SmallFiles))]
    public void CorruptionOfEveryByte_IsReadOrRefusedNeverAnotherException(string name)
    {
        byte[] original = Small(name);
        int errors = 0, read = 0;
        foreach (byte value in new byte[] { 0x00, 0xFF, 0x80 })
        {
            for (int at = 0; at < original.Length; at++)
            {
                byte[] bytes = (byte[])original.Clone();
                bytes[at] ^= value == 0 ? bytes[at] : value; // 0x00 sets it to zero; the others flip bits
                var outcome = Read(bytes, at % 2 == 0 ? 4096 : 7);
                if (outcome.Error != null)
                {
                    Assert.InRange(outcome.Error.Offset, 0, bytes.Length);
                    Assert.Contains("byte offset", outcome.Error.Message, StringComparison.Ordinal);
                    errors++;
                }
                else
                {
                    Assert.True(outcome.Result!.Warning == null || outcome.Result.Warning.Contains($"byte offset {outcome.Result.TruncatedOffset}", StringComparison.Ordinal));
                    read++;
                }
            }
        }
        output.WriteLine($"{name}: {errors} refused, {read} read");
        Assert.True(errors > 0 && read > 0, $"{errors} refused, {read} read");
    }
    [Theory]
    [MemberData(nameof(SmallFiles))]
    public void ThousandsOfRandomMutations_AreReadOrRefusedNeverAnotherException(string name)
    {
        // Seeded, so a failure reproduces: overwrite 1-4 random 32-bit fields (lengths, ids, magic numbers, options),
        // sometimes with a value near a boundary, and sometimes cut the file as well.
        byte[] original = Small(name);
        var random = new Random(name.Length * 7919);
        uint[] interesting = [0, 1, 3, 11, 12, 13, 16, 0x7FFF, 0xFFFF, 0x3FFFF, 0x40000, 0x40001, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFC, 0xFFFFFFFF];
        int errors = 0, read = 0;
        for (int i = 0; i < 3000; i++)
        {
            byte[] bytes = (byte[])original.Clone();
            for (int n = random.Next(1, 5); n > 0; n--)
            {
                int at = random.Next(0, bytes.Length - 4);
                uint value = random.Next(2) == 0 ? interesting[random.Next(interesting.Length)] : (uint)random.NextInt64(0, 1L << 32);
                byte[] field = random.Next(2) == 0 ? U32(value) : [.. U32(value).Reverse()];
                field.CopyTo(bytes, at);
            }
            if (random.Next(4) == 0)
            {
                bytes = bytes[..random.Next(0, bytes.Length)];
            }
            var outcome = Read(bytes, random.Next(2) == 0 ? 4096 : random.Next(1, 64));
            if (outcome.Error != null)
            {
                Assert.InRange(outcome.Error.Offset, 0, bytes.Length);
                errors++;
            }
            else
            {
                Assert.InRange(outcome.Result!.TruncatedOffset, -1, bytes.Length - 1);
                read++;
            }
        }
        output.WriteLine($"{name}: {errors} refused, {read} read");
        Assert.True(errors > 0 && read > 0, $"{errors} refused, {read} read");
    }
}
