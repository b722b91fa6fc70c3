using Xunit.Abstractions;
using static Gateway.Io.Pcap.Tests.HostileCapture;
using static Gateway.TestSupport.HostileCaptures;

namespace Gateway.Io.Pcap.Tests;

/// <summary>
/// No input makes the reader allocate without bound: a length field claiming gigabytes is refused (or skipped)
/// without buffering, and a long run of blocks the reader skips costs nothing per block.
/// </summary>
[Collection(Gateway.Io.Tests.AllocationTestGroup.Name)]
public class HostileCaptureAllocationTests(ITestOutputHelper output)
{
    /// <summary>Far below any claimed length here, above the reader's fixed buffers (the pipe's 1 MiB, the 1 MiB scratch).</summary>
    private const long Budget = 4 * 1024 * 1024;

    private readonly struct NullHandler : ICaptureHandler
    {
        public void OnInterface(CaptureInterface captureInterface)
        {
        }

        public void OnFrame(in CaptureFrame frame, Span<byte> data)
        {
        }

        public ValueTask OnBatchCompletedAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    /// <summary>Reads <paramref name="input"/> as replay does (1 MiB pipe buffers); returns the bytes allocated by every thread meanwhile.</summary>
    private static (long Allocated, CaptureReadResult? Result, CaptureFormatException? Error) Measure(Stream input)
    {
        // Warm up the JIT and the array pool with a valid file, so only the hostile read is counted.
        new CaptureReader(CaptureReader.CreatePipe(new MemoryStream([.. Shb(), .. Idb(), .. Epb(0, Frame(60))])), "warm-up")
            .ReadAllAsync(new NullHandler()).GetAwaiter().GetResult();
        var reader = new CaptureReader(CaptureReader.CreatePipe(input), "hostile");
        // Counts all threads (stricter than the current thread's count should a continuation move elsewhere).
        long before = GC.GetTotalAllocatedBytes(precise: true);
        try
        {
            CaptureReadResult result = reader.ReadAllAsync(new NullHandler()).GetAwaiter().GetResult();
            return (GC.GetTotalAllocatedBytes(precise: true) - before, result, null);
        }
        catch (CaptureFormatException e)
        {
            return (GC.GetTotalAllocatedBytes(precise: true) - before, null, e);
        }
    }

    public static TheoryData<string, byte[]> ClaimsOfGigabytes() => new()
    {
        { "pcap record of 2 GiB", [.. PcapHeader(), .. PcapRecord(0x80000000, 0x80000000, Frame(1000))] },
        { "pcap record of 4 GiB", [.. PcapHeader(), .. PcapRecord(Frame(60)), .. PcapRecord(0xFFFFFFFF, 60, Frame(1000))] },
        { "pcap snap length of 4 GiB", [.. PcapHeader(0xFFFFFFFF), .. PcapRecord(Frame(60))] },
        { "pcapng EPB of 2 GiB", [.. Shb(), .. Idb(), .. Block(6, Frame(1000), length: 0x80000000)] },
        { "pcapng EPB captured length of 2 GiB", [.. Shb(), .. Idb(), .. Epb(0, Frame(1000), captured: 0x80000000)] },
        { "pcapng IDB of 2 GiB", [.. Shb(), .. Block(1, Frame(1000), length: 0x80000000)] },
        { "pcapng SHB of 2 GiB", Block(0x0A0D0D0A, [.. U32(0x1A2B3C4D), .. Frame(1000)], length: 0x80000000) },
        { "pcapng unknown block of 2 GiB, cut short", [.. Shb(), .. Idb(), .. Block(0xBAD, Frame(1000), length: 0x80000000)] },
        { "pcapng unknown block of 4 GiB, cut short", [.. Shb(), .. Block(0xBAD, Frame(1000), length: 0xFFFFFFFC)] },
    };

    [Theory]
    [MemberData(nameof(ClaimsOfGigabytes))]
    public void LengthClaimingGigabytes_AllocatesLittle(string what, byte[] bytes)
    {
        var (allocated, result, error) = Measure(new MemoryStream(bytes));
        output.WriteLine($"{what}: {allocated} bytes allocated");
        Assert.True(allocated < Budget, $"{what}: {allocated} bytes allocated");
        // Unknown blocks are skipped (the file ends inside one: a warning); a valid snap length reads; the rest are refused.
        if (what.Contains("unknown", StringComparison.Ordinal))
        {
            Assert.Contains("is cut short", result!.Warning, StringComparison.Ordinal);
        }
        else if (what.Contains("snap length", StringComparison.Ordinal))
        {
            Assert.Equal(1, result!.Frames);
        }
        else
        {
            Assert.True(error != null, what);
            Assert.Contains("byte offset", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void MillionSkippedUnknownBlocks_AllocateNoMoreThanAFew()
    {
        // 64 MiB of 64-byte unknown blocks, made up as they are read, then a real frame.
        const int blocks = 1 << 20;
        var input = new SyntheticStream([.. Shb(), .. Idb()], Block(0xBAD, Frame(52)), blocks, Epb(0, Frame(60)));
        var (allocated, result, error) = Measure(input);
        Assert.Null(error);
        Assert.Equal(1, result!.Frames);
        Assert.Equal(blocks + 3, result.Records);
        output.WriteLine($"{allocated} bytes allocated for {blocks} skipped blocks");
        Assert.True(allocated < Budget, $"{allocated} bytes allocated for {blocks} skipped blocks");
    }

    [Fact]
    public void OneHugeUnknownBlockPresentWhole_IsSkippedWithoutBufferingIt()
    {
        // A 256 MiB unknown block, all of it present, then a real frame.
        const uint length = 256u << 20;
        byte[] head = [.. U32(0xBAD), .. U32(length)];
        var input = new SyntheticStream([.. Shb(), .. Idb(), .. head], new byte[1 << 20], (int)((length - 12) >> 20), [.. new byte[(length - 12) & 0xFFFFF], .. U32(length), .. Epb(0, Frame(60))]);
        var (allocated, result, error) = Measure(input);
        Assert.Null(error);
        Assert.Equal(1, result!.Frames);
        Assert.Equal(4, result.Records);
        Assert.Null(result.Warning);
        output.WriteLine($"{allocated} bytes allocated skipping a {length}-byte block");
        Assert.True(allocated < Budget, $"{allocated} bytes allocated skipping a {length}-byte block");
    }

    /// <summary>A stream of a prefix, one piece repeated <c>count</c> times, and a suffix, produced as it is read.</summary>
    private sealed class SyntheticStream(byte[] prefix, byte[] piece, int count, byte[] suffix) : Stream
    {
        private long _position;
        private readonly long _length = prefix.Length + ((long)piece.Length * count) + suffix.Length;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            int written = 0;
            while (written < buffer.Length && _position < _length)
            {
                ReadOnlySpan<byte> source;
                long at = _position;
                long middle = (long)piece.Length * count;
                if (at < prefix.Length)
                {
                    source = prefix.AsSpan((int)at);
                }
                else if (at < prefix.Length + middle)
                {
                    source = piece.AsSpan((int)((at - prefix.Length) % piece.Length));
                }
                else
                {
                    source = suffix.AsSpan((int)(at - prefix.Length - middle));
                }
                int n = Math.Min(source.Length, buffer.Length - written);
                source.Slice(0, n).CopyTo(buffer.Slice(written));
                written += n;
                _position += n;
            }
            return written;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        // Synchronous, so the whole read runs on the test's thread.
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
