using System.Buffers.Binary;
using Gateway.CaptureGenerator;

namespace Gateway.Io.Pcap.Tests;

public class CaptureReaderTests
{
    [Theory]
    [MemberData(nameof(Repository.CaptureFiles), MemberType = typeof(Repository))]
    public void EveryCorpusCapture_ReadsAsSharpPcapReadsIt(string file)
    {
        string path = Path.Combine(Repository.Captures, file);
        var expected = SharpPcapOracle.Read(path);
        var (frames, _, result) = OurReader.ReadFile(path);

        Assert.Null(result.Warning);
        Assert.NotEmpty(frames);
        Assert.Equal(expected.Count, frames.Count);
        for (int i = 0; i < frames.Count; i++)
        {
            Assert.Equal(expected[i].Data, frames[i].Data);
            Assert.Equal(expected[i].OriginalLength, frames[i].OriginalLength);
            // libpcap hands out microseconds; nanosecond files are truncated to them the same way.
            Assert.Equal(expected[i].TimeUs, frames[i].TimeNs / 1000);
        }
    }

    [Theory]
    [MemberData(nameof(Repository.CaptureFiles), MemberType = typeof(Repository))]
    public void TinyPipeBuffers_RecordsStraddlingBuffersReadTheSame(string file)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Repository.Captures, file));
        var whole = OurReader.Read(bytes, bufferSize: 1 << 20).Frames;
        foreach (int size in new[] { 1, 7, 64, 333 })
        {
            var pieces = OurReader.Read(bytes, bufferSize: size).Frames;
            Assert.Equal(whole.Count, pieces.Count);
            for (int i = 0; i < whole.Count; i++)
            {
                Assert.True(new FrameComparer().Equals(whole[i], pieces[i]), $"frame {i} differs with {size}-byte buffers");
            }
        }
    }

    private sealed class FrameComparer : IEqualityComparer<ReadFrame>
    {
        public bool Equals(ReadFrame? x, ReadFrame? y) =>
            x!.Data.AsSpan().SequenceEqual(y!.Data) && x.OriginalLength == y.OriginalLength && x.TimeNs == y.TimeNs
            && x.Interface == y.Interface && x.RecordNumber == y.RecordNumber && x.Offset == y.Offset;

        public int GetHashCode(ReadFrame obj) => obj.Data.Length;
    }

    [Fact]
    public void PcapBigEndianNanoseconds_KeepsEveryNanosecond()
    {
        var records = new[] { new CaptureRecord(1_700_000_000_123_456_789, [1, 2, 3], 3), new CaptureRecord(1_700_000_001_000_000_001, [4], 60) };
        var (frames, interfaces, _) = OurReader.Read(CaptureFiles.Pcap(records, 1, 65535, nanoseconds: true, bigEndian: true));
        Assert.Equal([1_700_000_000_123_456_789, 1_700_000_001_000_000_001], frames.Select(f => f.TimeNs));
        Assert.Equal([3, 60], frames.Select(f => f.OriginalLength));
        Assert.Equal(1_000_000_000UL, Assert.Single(interfaces).TicksPerSecond);
    }

    [Fact]
    public void PcapngBigEndianWithSeveralLinkTypes_GivesEachFrameItsInterface()
    {
        // libpcap cannot read this (one link type per file), so it is checked against the generator's own records.
        var interfaces = new[] { new InterfaceSpec(1, 65535, 6, "eth0"), new InterfaceSpec(276, 0, 9, "any"), new InterfaceSpec(101, 1500, 6, "tun0") };
        var records = new[]
        {
            new CaptureRecord(1_700_000_000_000_001_000, [1, 2, 3, 4, 5], 5, 0),
            new CaptureRecord(1_700_000_000_000_002_003, [6, 7], 70, 1),
            new CaptureRecord(1_700_000_000_000_003_000, [8], 1, 2),
            new CaptureRecord(0, [9, 9, 9], 3, 0, Simple: true),
        };
        var (frames, declared, result) = OurReader.Read(CaptureFiles.Pcapng(records, interfaces, bigEndian: true, minimal: false));
        Assert.Null(result.Warning);
        Assert.Equal([1, 276, 101], declared.Select(i => i.LinkType));
        Assert.Equal([0, 1, 2, 0], frames.Select(f => f.Interface));
        Assert.Equal([1, 276, 101, 1], frames.Select(f => f.LinkType));
        Assert.Equal([1_700_000_000_000_001_000, 1_700_000_000_000_002_003, 1_700_000_000_000_003_000, 0], frames.Select(f => f.TimeNs));
        Assert.Equal(records.Select(r => r.Data), frames.Select(f => f.Data));
        Assert.Equal([5, 70, 1, 3], frames.Select(f => f.OriginalLength));
    }

    [Fact]
    public void PcapngSecondSection_NumbersItsInterfacesAfterTheFirstSections()
    {
        byte[] first = CaptureFiles.Pcapng([new CaptureRecord(1_000_000_000, [1], 1)], [new InterfaceSpec(1, 0)], bigEndian: false, minimal: true);
        byte[] second = CaptureFiles.Pcapng([new CaptureRecord(2_000_000_000, [2], 1)], [new InterfaceSpec(101, 0)], bigEndian: true, minimal: false);
        var (frames, interfaces, _) = OurReader.Read([.. first, .. second]);
        Assert.Equal([0, 1], frames.Select(f => f.Interface));
        Assert.Equal([1, 101], interfaces.Select(i => i.LinkType));
        Assert.Equal([1_000_000_000L, 2_000_000_000L], frames.Select(f => f.TimeNs));
    }

    [Theory]
    [InlineData("mixed.pcap")]
    [InlineData("two-interfaces.pcapng")]
    [InlineData("big-endian-ns.pcap")]
    public void EveryTruncatedPrefix_ProcessesWholeRecordsAndWarnsAtTheCutRecord(string file)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Repository.Captures, file));
        var whole = OurReader.Read(bytes).Frames;
        // The file header: pcap's 24 bytes, or the whole first pcapng block (the SHB, options included).
        int headerLength = file.EndsWith(".pcapng", StringComparison.Ordinal) ? (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)) : 24;
        for (int length = headerLength; length < bytes.Length; length++)
        {
            var (frames, _, result) = OurReader.Read(bytes[..length], bufferSize: 512);
            // Exactly the frames whose records end within the prefix.
            var complete = whole.TakeWhile((f, i) => RecordEnd(bytes, whole, i) <= length).ToList();
            Assert.Equal(complete.Count, frames.Count);
            if (result.Warning != null)
            {
                Assert.True(result.TruncatedOffset >= 0 && result.TruncatedOffset < length, $"offset {result.TruncatedOffset} for a prefix of {length}");
                Assert.Contains($"byte offset {result.TruncatedOffset}", result.Warning, StringComparison.Ordinal);
            }
        }
    }

    /// <summary>End of frame i's record: the next record's offset, or the file's end for the last one.</summary>
    private static long RecordEnd(byte[] bytes, List<ReadFrame> frames, int i) => i + 1 < frames.Count ? frames[i + 1].Offset : bytes.Length;

    [Fact]
    public void TruncatedFinalPcapRecord_IsAWarningWithItsOffset()
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Repository.Captures, "drops.pcap"));
        var whole = OurReader.Read(bytes).Frames;
        var (frames, _, result) = OurReader.Read(bytes[..^5]);
        Assert.Equal(whole.Count - 1, frames.Count);
        Assert.Equal(whole[^1].Offset, result.TruncatedOffset);
        Assert.Contains($"record {whole.Count}, at byte offset {whole[^1].Offset}", result.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void CorruptCapturedLength_ThrowsWithRecordNumberAndOffset()
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Repository.Captures, "drops.pcap"));
        var whole = OurReader.Read(bytes).Frames;
        long offset = whole[2].Offset;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)offset + 8), 300_000);
        var e = Assert.Throws<CaptureFormatException>(() => OurReader.Read(bytes));
        Assert.Equal(3, e.RecordNumber);
        Assert.Equal(offset, e.Offset);
        Assert.Contains($"record 3 at byte offset {offset}", e.Message, StringComparison.Ordinal);
        Assert.Contains("262144", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PcapngBlockLengthsThatDisagree_AreCorrupt()
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Repository.Captures, "two-interfaces.pcapng"));
        var whole = OurReader.Read(bytes).Frames;
        long offset = whole[1].Offset;
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)offset + 4));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)(offset + length - 4)), length + 4);
        var e = Assert.Throws<CaptureFormatException>(() => OurReader.Read(bytes));
        Assert.Equal(offset, e.Offset);
        Assert.Contains("enhanced packet block", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[0], "empty")]
    [InlineData(new byte[] { 0xD4, 0xC3, 0xB2 }, "too short")]
    [InlineData(new byte[] { 0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0 }, "not a pcap or pcapng")]
    public void NotACapture_SaysWhat(byte[] bytes, string message)
    {
        var e = Assert.Throws<CaptureFormatException>(() => OurReader.Read(bytes));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    internal readonly struct CountingHandler(CountingHandler.Box box) : ICaptureHandler
    {
        internal sealed class Box
        {
            public long Frames;
        }

        public void OnInterface(CaptureInterface captureInterface)
        {
        }

        public void OnFrame(in CaptureFrame frame, Span<byte> data) => box.Frames++;

        public ValueTask OnBatchCompletedAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}

[Collection(Gateway.Io.Tests.AllocationTestGroup.Name)]
public class CaptureReaderAllocationTests
{
    [Fact]
    public void SteadyState_AllocatesNothingPerFrame()
    {
        byte[] frame = File.ReadAllBytes(Path.Combine(Repository.Captures, "mixed.pcap"))[40..100];
        long AllocatedReading(int count)
        {
            byte[] capture = CaptureFiles.Pcap(Enumerable.Range(0, count).Select(i => new CaptureRecord(1_700_000_000_000_000_000 + (i * 1000L), frame, frame.Length)), 1, 65535, false, false);
            var box = new CaptureReaderTests.CountingHandler.Box();
            var reader = new CaptureReader(CaptureReader.CreatePipe(new MemoryStream(capture)), "memory");
            long before = GC.GetTotalAllocatedBytes(precise: true);
            reader.ReadAllAsync(new CaptureReaderTests.CountingHandler(box)).GetAwaiter().GetResult();
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            Assert.Equal(count, box.Frames);
            return allocated;
        }

        AllocatedReading(50_000); // warm up: JIT, pools
        long small = AllocatedReading(50_000);
        long large = AllocatedReading(500_000);
        // Ten times the frames, about the same allocations. The fixed costs (the reader's buffers, the odd pool miss
        // for a pipe segment) vary by a megabyte or so; one object per frame would add at least 24 bytes × 450000.
        Assert.True(large - small < 450_000 * 4, $"{small} bytes for 50000 frames, {large} for 500000");
    }
}
