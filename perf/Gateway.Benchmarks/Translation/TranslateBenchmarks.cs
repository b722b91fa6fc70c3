using BenchmarkDotNet.Attributes;
using Gateway.Bench;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;

namespace Gateway.Benchmarks.Translation;

/// <summary>Which side of the gateway the frames arrive on.</summary>
public enum Direction
{
    /// <summary>From the internet to a bound public address: DNAT.</summary>
    Inbound,
    /// <summary>From a bound private address to the internet: SNAT.</summary>
    Outbound,
}

/// <summary>
/// Per-frame cost of <see cref="Translator.TranslateEthernet"/> for each traffic type, cache-resident (1,024
/// bindings, 4,096 frames of 60-98 bytes).
/// </summary>
/// <remarks>
/// Every frame is translated for real on every invocation without being restored: the table holds each binding
/// both ways (P ↔ Q and Q ↔ P, a legal 1:1 table), so a frame translated to Q is translated back to P on the next
/// invocation, checksums updated incrementally each time. Setup checks that two passes forward every frame and
/// restore it byte for byte.
/// </remarks>
[MemoryDiagnoser]
public class TranslateBenchmarks
{
    private const int Frames = 4096;
    private const int Stride = 128;
    private const int BindingCount = 1024;

    private readonly byte[] _frames = new byte[Frames * Stride];
    private readonly int[] _lengths = new int[Frames];
    private readonly TrafficCounters _counters = new(4 * BindingCount);
    private Translator _translator = null!;

    [Params(TrafficKind.Tcp, TrafficKind.Udp, TrafficKind.IcmpEcho, TrafficKind.IcmpError, TrafficKind.Fragment)]
    public TrafficKind Kind { get; set; }

    [Params(Direction.Inbound, Direction.Outbound)]
    public Direction Direction { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var table = new BindingTable(2 * BindingCount);
        for (int i = 0; i < BindingCount; i++)
        {
            table.Bind(BenchAddresses.Public(i), BenchAddresses.Private(i, 0));
            table.Bind(BenchAddresses.Private(i, 0), BenchAddresses.Public(i));
        }
        _translator = new Translator(table);

        int length = Kind switch
        {
            TrafficKind.IcmpError => SyntheticFrames.MinimumIcmpErrorLength + 24,
            TrafficKind.IcmpEcho => 98, // ping's default 56 bytes of data
            _ => 60,
        };
        ulong state = 99;
        for (int i = 0; i < Frames; i++)
        {
            state = (state * 6364136223846793005) + 1442695040888963407;
            int index = (int)((state >> 33) % BindingCount);
            uint remote = BenchAddresses.Remote((uint)(state >> 20));
            var frame = _frames.AsSpan(i * Stride, length);
            if (Direction == Direction.Inbound)
            {
                SyntheticFrames.Write(frame, Kind, remote, BenchAddresses.Public(index), (ushort)(32768 + (i & 0x7FFF)), 443);
            }
            else
            {
                SyntheticFrames.Write(frame, Kind, BenchAddresses.Private(index, 0), remote, (ushort)(32768 + (i & 0x7FFF)), 443);
            }
            _lengths[i] = length;
        }

        var pristine = _frames.ToArray();
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = 0; i < Frames; i++)
            {
                var verdict = _translator.TranslateEthernet(_frames.AsSpan(i * Stride, _lengths[i]), _lengths[i], _counters);
                if (verdict != DropReason.None)
                {
                    throw new InvalidOperationException($"setup: frame {i} ({Kind}, {Direction}) was dropped as {DropReasons.Name(verdict)}.");
                }
            }
        }
        if (!pristine.AsSpan().SequenceEqual(_frames))
        {
            throw new InvalidOperationException("setup: two translations through mirrored bindings did not restore the frames.");
        }
    }

    /// <summary>One frame at a time: find IPv4, validate, look up both addresses, rewrite, update checksums, count.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Frames)]
    public int Translate()
    {
        int dropped = 0;
        var translator = _translator;
        var counters = _counters;
        for (int i = 0; i < Frames; i++)
        {
            int length = _lengths[i];
            dropped += (int)translator.TranslateEthernet(_frames.AsSpan(i * Stride, length), length, counters);
        }
        return dropped;
    }
}
