using Gateway.CaptureGenerator;
using Gateway.DataPlane.Bindings;
using Gateway.Io.Pcap;
using Gateway.Packets;

namespace Gateway.Io.Replay.Tests;

[Collection(Gateway.Io.Tests.AllocationTestGroup.Name)]
public class ReplayEngineTests
{
    private static readonly Binding[] s_bindings = [new(Ipv4Address.FromIPAddress(System.Net.IPAddress.Parse(Corpus.APublic)), Ipv4Address.FromIPAddress(System.Net.IPAddress.Parse(Corpus.A)))];

    private static (ReplayResult Result, long Allocated, long OutputBytes) Replay(byte[] capture, IReadOnlyList<BindingEvent> events)
    {
        var output = new CountingStream();
        var writer = new CaptureWriter(CaptureWriter.CreatePipe(output, leaveOpen: true), CaptureFileFormat.Pcap, "memory");
        var engine = new ReplayEngine(s_bindings, events, writer, "memory");
        var input = new MemoryStream(capture);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        ReplayResult result = engine.RunAsync(input).GetAwaiter().GetResult();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        writer.CompleteAsync().AsTask().GetAwaiter().GetResult();
        return (result, allocated, output.Length);
    }

    /// <summary>A sink that only counts: a MemoryStream's growth would be counted as the replay's allocations.</summary>
    private sealed class CountingStream : Stream
    {
        private long _length;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => _length += count;
        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _length += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }

    private static byte[] Frames(int count)
    {
        byte[] inbound = Gateway.CaptureGenerator.Frames.Ethernet(Gateway.CaptureGenerator.Frames.Udp(Corpus.Web, Corpus.APublic, 1, 2, [1, 2, 3, 4]));
        byte[] outbound = Gateway.CaptureGenerator.Frames.Ethernet(Gateway.CaptureGenerator.Frames.Udp(Corpus.A, Corpus.Web, 2, 1, [1, 2, 3, 4]));
        return CaptureFiles.Pcap(Enumerable.Range(0, count).Select(i => new CaptureRecord(1_700_000_000_000_000_000 + (i * 1000L), i % 2 == 0 ? inbound : outbound, 60)), 1, 65535, false, false);
    }

    [Fact]
    public void Replay_SteadyState_AllocatesNothingPerFrame()
    {
        byte[] small = Frames(50_000), large = Frames(500_000);
        Replay(small, []); // warm up
        var (smallResult, smallAllocated, _) = Replay(small, []);
        var (largeResult, largeAllocated, largeOutput) = Replay(large, []);
        Assert.Equal(50_000, smallResult.Counters.ForwardedPackets);
        Assert.Equal(500_000, largeResult.Counters.ForwardedPackets);
        Assert.Equal(large.Length, largeOutput); // every frame written, same sizes
        // One object per frame would add at least 24 bytes × 450000; fixed costs (buffers, pool misses) stay far below.
        Assert.True(largeAllocated - smallAllocated < 450_000 * 4, $"{smallAllocated} bytes for 50000 frames, {largeAllocated} for 500000");
    }

    [Fact]
    public void Events_ApplyToFramesAtOrAfterTheirCaptureTime()
    {
        // Frames every 1 µs from t0; A loses its binding at t0 + 2 µs: frames 0 and 1 pass, 2.. are dropped.
        uint pub = Ipv4Address.FromIPAddress(System.Net.IPAddress.Parse(Corpus.APublic));
        var events = new[] { new BindingEvent(1_700_000_000_000_002_000, BindingEventOp.Unbind, pub, 0, 1) };
        var (result, _, _) = Replay(Frames(6), events);
        Assert.Equal(2, result.Counters.ForwardedPackets);
        Assert.Equal(4, result.Counters.DroppedPackets);
        Assert.Equal(1, result.EventsApplied);
    }
}
