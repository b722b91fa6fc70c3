using Gateway.Bench;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Translation;

namespace Gateway.DataPlane.Counters.Tests;

/// <summary>
/// Counters merged from batches (parked per frame, published once per batch) equal counters counted frame by frame
/// on the same traffic, and a reader on another thread only ever sees whole batches.
/// </summary>
public sealed class BatchCountersTests
{
    private const int Stride = 96;

    private static (BindingTable Table, byte[] Buffer, BatchFrame[] Frames) Traffic(int bindings, int count, int seed)
    {
        var table = new BindingTable(bindings);
        for (int i = 0; i < bindings; i++)
        {
            table.Bind(BenchAddresses.Public(i), BenchAddresses.Private(i, 0));
        }
        var random = new Random(seed);
        var buffer = new byte[count * Stride];
        var frames = new BatchFrame[count];
        TrafficKind[] kinds = [TrafficKind.Tcp, TrafficKind.Udp, TrafficKind.Tcp, TrafficKind.Udp, TrafficKind.IcmpEcho, TrafficKind.Fragment];
        for (int f = 0; f < count; f++)
        {
            var kind = kinds[random.Next(kinds.Length)];
            int length = random.Next(SyntheticFrames.MinimumLength, Stride + 1);
            int index = random.Next(bindings);
            uint remote = BenchAddresses.Remote((uint)random.Next());
            var frame = buffer.AsSpan(f * Stride, length);
            switch (random.Next(5))
            {
                case 0: SyntheticFrames.Write(frame, kind, remote, BenchAddresses.Public(index)); break;
                case 1: SyntheticFrames.Write(frame, kind, BenchAddresses.Private(index, 0), remote); break;
                case 2: SyntheticFrames.Write(frame, kind, BenchAddresses.Private(index, 0), BenchAddresses.Public(random.Next(bindings))); break;
                case 3: SyntheticFrames.Write(frame, kind, remote, BenchAddresses.Remote((uint)random.Next())); break;
                default: SyntheticFrames.Write(frame, kind, remote, BenchAddresses.Public(index)); frame[14 + 10] ^= 0x40; break; // bad IP checksum
            }
            frames[f] = new BatchFrame(f * Stride, length, length + random.Next(0, 3)); // a few with FCS-ish extra wire bytes
        }
        return (table, buffer, frames);
    }

    [Theory]
    [InlineData(50, 1)]
    [InlineData(50, 32)]
    [InlineData(20_000, 32)]  // above the prefetch threshold: the staged path
    [InlineData(20_000, 200)] // batches longer than one pass of the stages
    public void CountersMergedFromBatches_EqualCountersCountedFrameByFrame(int bindings, int batch)
    {
        var (table, buffer, frames) = Traffic(bindings, 5_000, bindings + batch);
        var translator = new Translator(table);
        var perFrame = new TrafficCounters(16);
        var single = buffer.ToArray();
        foreach (var f in frames)
        {
            translator.TranslateEthernet(single.AsSpan(f.Offset, f.Length), f.WireLength, perFrame);
        }

        var perBatch = new TrafficCounters(16);
        var verdicts = new DropReason[frames.Length];
        for (int start = 0; start < frames.Length; start += batch)
        {
            int n = Math.Min(batch, frames.Length - start);
            translator.TranslateEthernetBatch(buffer, frames.AsSpan(start, n), verdicts.AsSpan(start, n), perBatch);
        }

        Assert.True(single.AsSpan().SequenceEqual(buffer));
        var a = CounterSnapshot.Of(perFrame);
        var b = CounterSnapshot.Of(perBatch);
        Assert.Equal((a.ReceivedPackets, a.ReceivedBytes, a.ForwardedPackets, a.ForwardedBytes, a.DroppedPackets),
            (b.ReceivedPackets, b.ReceivedBytes, b.ForwardedPackets, b.ForwardedBytes, b.DroppedPackets));
        foreach (var reason in DropReasons.All)
        {
            Assert.Equal((a.DropPackets(reason), a.DropBytes(reason)), (b.DropPackets(reason), b.DropBytes(reason)));
        }
        Assert.True(a.ForwardedPackets > 1000 && a.DropPackets(DropReason.BadIpChecksum) > 100 && a.DropPackets(DropReason.NoBinding) > 100);
        BindingTraffic sum = default;
        for (int id = 0; id < table.IdLimit; id++)
        {
            Assert.Equal(perFrame.ForBinding(id), perBatch.ForBinding(id));
            sum += perBatch.ForBinding(id);
        }
        // Hairpin frames count on two bindings, so per-binding packets are at least the forwarded ones.
        Assert.True(sum.InboundPackets + sum.OutboundPackets >= b.ForwardedPackets);
    }

    [Fact]
    public void AReaderOnAnotherThread_SeesOnlyWholeBatches()
    {
        // Every snapshot of a worker that counts per batch balances: received = forwarded + dropped, bytes too.
        var (table, buffer, frames) = Traffic(200, 4096, 7);
        var translator = new Translator(table);
        var counters = new TrafficCounters(16);
        var pristine = buffer.ToArray();
        using var done = new ManualResetEventSlim();
        long unbalanced = 0, reads = 0;
        var reader = new Thread(() =>
        {
            while (!done.IsSet)
            {
                var s = CounterSnapshot.Of(counters);
                long dropBytes = DropReasons.All.Sum(s.DropBytes);
                if (s.ReceivedPackets != s.ForwardedPackets + s.DroppedPackets || s.ReceivedBytes != s.ForwardedBytes + dropBytes)
                {
                    unbalanced++;
                }
                reads++;
            }
        });
        reader.Start();
        var verdicts = new DropReason[32];
        for (int round = 0; round < 200; round++)
        {
            pristine.CopyTo(buffer, 0);
            for (int start = 0; start < frames.Length; start += 32)
            {
                translator.TranslateEthernetBatch(buffer, frames.AsSpan(start, 32), verdicts, counters);
            }
        }
        done.Set();
        reader.Join();

        Assert.Equal(0, unbalanced);
        Assert.True(reads > 0);
        Assert.Equal(200L * frames.Length, counters.ReceivedPacketCount);
    }

    [Fact]
    public void PerBindingCounters_GrowWhenAPublishedBatchNamesANewId()
    {
        var counters = new TrafficCounters(bindingIdCapacity: 16);
        counters.PendBinding(100_000, BindingDirection.Inbound, 60);
        counters.PendBinding(3, BindingDirection.Outbound, 70);
        var totals = default(BatchTotals);
        totals.Count(DropReason.None, 60);
        totals.Count(DropReason.None, 70);
        counters.Publish(ref totals);

        Assert.Equal(new BindingTraffic(1, 60, 0, 0), counters.ForBinding(100_000));
        Assert.Equal(new BindingTraffic(0, 0, 1, 70), counters.ForBinding(3));
        Assert.Equal(2, counters.ForwardedPacketCount);
        Assert.True(counters.PerBindingBytes >= 100_001L * TrafficCounters.BytesPerBinding);
    }
}
