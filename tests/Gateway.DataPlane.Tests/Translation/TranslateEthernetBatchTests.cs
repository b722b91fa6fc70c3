using Gateway.Bench;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>
/// <see cref="Translator.TranslateEthernetBatch"/> only adds prefetch hints: every byte, verdict and counter must
/// come out exactly as <see cref="Translator.TranslateEthernet"/> frame by frame.
/// </summary>
public sealed class TranslateEthernetBatchTests
{
    private const int Stride = 128;

    [Theory]
    [InlineData(100, TranslateMode.Infer)]        // below the prefetch threshold: the plain loop
    [InlineData(20_000, TranslateMode.Infer)]     // above it: the staged prefetch loop
    [InlineData(20_000, TranslateMode.FromVpc)]
    [InlineData(20_000, TranslateMode.FromInternet)]
    public void Batch_GivesTheSameBytesVerdictsAndCounters_AsFrameByFrame(int bindings, TranslateMode mode)
    {
        var table = new BindingTable(bindings);
        for (int i = 0; i < bindings; i++)
        {
            table.Bind(BenchAddresses.Public(i), BenchAddresses.Private(i, 0));
        }
        var random = new Random(bindings);
        const int Frames = 777; // not a multiple of anything the batch loop uses
        var buffer = new byte[Frames * Stride];
        var frames = new BatchFrame[Frames];
        TrafficKind[] kinds = [TrafficKind.Tcp, TrafficKind.Udp, TrafficKind.IcmpEcho, TrafficKind.IcmpError, TrafficKind.Fragment];
        for (int f = 0; f < Frames; f++)
        {
            var kind = kinds[random.Next(kinds.Length)];
            int length = random.Next(kind == TrafficKind.IcmpError ? SyntheticFrames.MinimumIcmpErrorLength : SyntheticFrames.MinimumLength, Stride + 1);
            int index = random.Next(bindings);
            uint remote = BenchAddresses.Remote((uint)random.Next());
            var frame = buffer.AsSpan(f * Stride, length);
            switch (random.Next(4))
            {
                case 0: SyntheticFrames.Write(frame, kind, remote, BenchAddresses.Public(index)); break;
                case 1: SyntheticFrames.Write(frame, kind, BenchAddresses.Private(index, 0), remote); break;
                case 2: SyntheticFrames.Write(frame, kind, BenchAddresses.Private(index, 0), BenchAddresses.Public(random.Next(bindings))); break;
                default: SyntheticFrames.Write(frame, kind, remote, BenchAddresses.Remote((uint)random.Next())); break;
            }
            if (random.Next(5) == 0)
            {
                frame[random.Next(length)] ^= (byte)(1 + random.Next(255)); // corrupt something: any verdict may follow
            }
            int captured = random.Next(6) == 0 ? random.Next(0, length + 1) : length; // snap-length cuts too
            frames[f] = new BatchFrame(f * Stride, captured, length);
        }

        var single = buffer.ToArray();
        var singleCounters = new TrafficCounters(table.IdLimit);
        var singleVerdicts = new DropReason[Frames];
        var translator = new Translator(table);
        for (int f = 0; f < Frames; f++)
        {
            singleVerdicts[f] = translator.TranslateEthernet(single.AsSpan(frames[f].Offset, frames[f].Length), frames[f].WireLength, singleCounters, mode);
        }

        var batchCounters = new TrafficCounters(table.IdLimit);
        var batchVerdicts = new DropReason[Frames];
        for (int start = 0; start < Frames; start += 32)
        {
            int count = Math.Min(32, Frames - start);
            translator.TranslateEthernetBatch(buffer, frames.AsSpan(start, count), batchVerdicts.AsSpan(start, count), batchCounters, mode);
        }

        Assert.Equal(singleVerdicts, batchVerdicts);
        Assert.True(single.AsSpan().SequenceEqual(buffer), "the batch rewrote some byte differently");
        var a = CounterSnapshot.Of(singleCounters);
        var b = CounterSnapshot.Of(batchCounters);
        Assert.Equal(a.ForwardedPackets, b.ForwardedPackets);
        Assert.Equal(a.ReceivedBytes, b.ReceivedBytes);
        Assert.Equal(a.NonZeroDrops, b.NonZeroDrops);
        Assert.Contains(DropReason.None, singleVerdicts);
        for (int id = 0; id < table.IdLimit; id++)
        {
            Assert.Equal(singleCounters.ForBinding(id), batchCounters.ForBinding(id));
        }
    }

    [Fact]
    public void Batch_WithTooFewVerdicts_Throws()
    {
        var translator = new Translator(new BindingTable());
        Assert.Throws<ArgumentException>(() => translator.TranslateEthernetBatch(new byte[64], [new BatchFrame(0, 60, 60)], [], new TrafficCounters()));
    }
}
