using System.Collections.Concurrent;
using System.Collections.Frozen;
using BenchmarkDotNet.Attributes;
using Gateway.Bench;
using Gateway.DataPlane.Bindings;

namespace Gateway.Benchmarks.Bindings;

/// <summary>
/// Inbound lookups (public → private) at table sizes from cache-resident to far beyond the L3 cache, against the
/// dictionaries a C# gateway would otherwise reach for: <see cref="ConcurrentDictionary{TKey,TValue}"/> (the
/// baseline), <see cref="FrozenDictionary{TKey,TValue}"/> (read-only: it cannot take a rebind at all) and
/// NonBlocking's lock-free <c>ConcurrentDictionary</c>.
/// </summary>
/// <remarks>
/// Every lookup hits; its key is drawn uniformly from the bound addresses. 2^20 keys per invocation, read in order,
/// so at 1M and 4M bindings the table lines touched do not fit in the cache and each lookup pays for memory.
/// </remarks>
[MemoryDiagnoser]
public class TableLookupBenchmarks
{
    private const int Lookups = 1 << 20;

    private readonly uint[] _keys = new uint[Lookups];
    private BindingTable _table = null!;
    private ConcurrentDictionary<uint, uint> _concurrent = null!;
    private NonBlocking.ConcurrentDictionary<uint, uint> _nonBlocking = null!;
    private FrozenDictionary<uint, uint> _frozen = null!;

    [Params(1 << 10, 1 << 16, 1 << 20, 1 << 22)]
    public int Bindings { get; set; }

    private void MakeKeys()
    {
        ulong state = 12345;
        for (int i = 0; i < Lookups; i++)
        {
            state = (state * 6364136223846793005) + 1442695040888963407;
            _keys[i] = BenchAddresses.Public((int)((state >> 33) % (ulong)Bindings));
        }
    }

    [GlobalSetup(Target = nameof(ConcurrentDictionaryLookup))]
    public void SetupConcurrent()
    {
        MakeKeys();
        _concurrent = new ConcurrentDictionary<uint, uint>(Environment.ProcessorCount, Bindings);
        for (int i = 0; i < Bindings; i++)
        {
            _concurrent[BenchAddresses.Public(i)] = BenchAddresses.Private(i, 0);
        }
    }

    [GlobalSetup(Target = nameof(NonBlockingLookup))]
    public void SetupNonBlocking()
    {
        MakeKeys();
        _nonBlocking = new NonBlocking.ConcurrentDictionary<uint, uint>(Environment.ProcessorCount, Bindings);
        for (int i = 0; i < Bindings; i++)
        {
            _nonBlocking[BenchAddresses.Public(i)] = BenchAddresses.Private(i, 0);
        }
    }

    [GlobalSetup(Target = nameof(FrozenDictionaryLookup))]
    public void SetupFrozen()
    {
        MakeKeys();
        var pairs = new Dictionary<uint, uint>(Bindings);
        for (int i = 0; i < Bindings; i++)
        {
            pairs[BenchAddresses.Public(i)] = BenchAddresses.Private(i, 0);
        }
        _frozen = pairs.ToFrozenDictionary();
    }

    [GlobalSetup(Targets = [nameof(BindingTableLookup), nameof(BindingTableBatchLookup)])]
    public void SetupTable()
    {
        MakeKeys();
        _table = new BindingTable(Bindings);
        for (int i = 0; i < Bindings; i++)
        {
            _table.Bind(BenchAddresses.Public(i), BenchAddresses.Private(i, 0));
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups)]
    public uint ConcurrentDictionaryLookup()
    {
        uint sum = 0;
        var map = _concurrent;
        foreach (uint key in _keys)
        {
            map.TryGetValue(key, out uint value);
            sum += value;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public uint NonBlockingLookup()
    {
        uint sum = 0;
        var map = _nonBlocking;
        foreach (uint key in _keys)
        {
            map.TryGetValue(key, out uint value);
            sum += value;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public uint FrozenDictionaryLookup()
    {
        uint sum = 0;
        var map = _frozen;
        foreach (uint key in _keys)
        {
            map.TryGetValue(key, out uint value);
            sum += value;
        }
        return sum;
    }

    /// <summary>The data plane's table, one lookup at a time (as <c>Translator.TranslateEthernet</c> does).</summary>
    [Benchmark(OperationsPerInvoke = Lookups)]
    public uint BindingTableLookup()
    {
        uint sum = 0;
        var table = _table;
        foreach (uint key in _keys)
        {
            table.TryGetPrivate(key, out uint value, out _);
            sum += value;
        }
        return sum;
    }

    /// <summary>
    /// The data plane's table in batches of 32 as <c>Translator.TranslateEthernetBatch</c> uses it: prefetch the
    /// batch's slots (<see cref="BindingTable.Prefetch"/>), then look each key up.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Lookups)]
    public uint BindingTableBatchLookup()
    {
        const int Batch = 32;
        uint sum = 0;
        var table = _table;
        var keys = _keys;
        for (int start = 0; start < keys.Length; start += Batch)
        {
            for (int i = start; i < start + Batch; i++)
            {
                table.Prefetch(0, keys[i]);
            }
            for (int i = start; i < start + Batch; i++)
            {
                table.TryGetPrivate(keys[i], out uint value, out _);
                sum += value;
            }
        }
        return sum;
    }
}
