using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;
using Gateway.DataPlane.Translation.Tests;
using Gateway.TestSupport;
using Xunit.Abstractions;

namespace Gateway.DataPlane.Bindings.Tests;

/// <summary>
/// Readers hammer the table while one writer rebinds continuously. The writer's moves stay inside groups:
/// group g has publics 198.51.g.1–2 and privates 10.g.0.1–4, and only ever binds a public of g to a private of g.
/// So any pair a reader sees that crosses groups, or any value that is not an address of the group, was never
/// bound: a torn or impossible read. A stable set of bindings that the writer never touches must be found, with its
/// value, on every single lookup, also while the writer's other changes rebuild the index under the readers.
/// </summary>
public class BindingTableConcurrencyTests(ITestOutputHelper output)
{
    private const int Groups = 32;
    private const int WriterOperations = 300_000;
    private const int Stable = 500;

    private static uint GroupPublic(int g, int k) => 0xC6330000 | ((uint)g << 8) | (uint)(k + 1); // 198.51.g.(k+1)
    private static uint GroupPrivate(int g, int k) => 0x0A000000 | ((uint)g << 16) | (uint)(k + 1); // 10.g.0.(k+1)
    private static uint StablePublic(int i) => 0xCB000000 | (uint)(i + 1); // 203.0.x.y
    private static uint StablePrivate(int i) => 0xAC100000 | (uint)(i + 1); // 172.16.x.y

    private static bool IsGroupPrivate(uint address, int g) => (address & 0xFFFFFF00) == (0x0A000000 | ((uint)g << 16)) && (address & 0xFF) is >= 1 and <= 4;

    private static bool IsGroupPublic(uint address, int g) => (address & 0xFFFFFF00) == (0xC6330000 | ((uint)g << 8)) && (address & 0xFF) is >= 1 and <= 2;

    [Fact]
    public void ReadersDuringContinuousRebinding_NeverSeeATornOrImpossibleBinding_NorMissAStableOne()
    {
        var table = new BindingTable(64);
        for (int i = 0; i < Stable; i++)
        {
            table.Bind(StablePublic(i), StablePrivate(i));
        }
        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        long lookups = 0, hits = 0;

        void Reader(int seed)
        {
            var random = new Random(seed);
            long myLookups = 0, myHits = 0;
            while (!stop.IsCancellationRequested)
            {
                for (int n = 0; n < 1000; n++)
                {
                    int g = random.Next(Groups);
                    uint p = GroupPublic(g, random.Next(3)); // k = 2 is never bound: must always miss
                    if (table.TryGetPrivate(p, out uint v, out int id))
                    {
                        myHits++;
                        if (!IsGroupPublic(p, g) || !IsGroupPrivate(v, g) || id < 0 || id >= table.IdLimit)
                        {
                            failures.Enqueue($"public {p:X8} → {v:X8} (id {id}) was never bound");
                        }
                    }
                    uint q = GroupPrivate(g, random.Next(5)); // k = 4 is never bound
                    if (table.TryGetPublic(q, out uint back, out id))
                    {
                        myHits++;
                        if (!IsGroupPrivate(q, g) || !IsGroupPublic(back, g) || id < 0)
                        {
                            failures.Enqueue($"private {q:X8} → {back:X8} (id {id}) was never bound");
                        }
                    }
                    int s = random.Next(Stable);
                    bool inbound = table.TryGetPrivate(StablePublic(s), out uint sv, out _);
                    bool outbound = table.TryGetPublic(StablePrivate(s), out uint sp, out _);
                    if (!inbound || sv != StablePrivate(s) || !outbound || sp != StablePublic(s))
                    {
                        failures.Enqueue($"stable binding #{s} missed or wrong ({inbound}: {sv:X8}, {outbound}: {sp:X8})");
                    }
                    myLookups += 4;
                }
            }
            Interlocked.Add(ref lookups, myLookups);
            Interlocked.Add(ref hits, myHits);
        }

        var readers = Enumerable.Range(0, 3).Select(i => new Thread(() => Reader(i)) { IsBackground = true }).ToList();
        readers.ForEach(t => t.Start());

        // The writer: rebinds inside groups (moves and trades), unbinds, and every so often grows the table with
        // fillers and removes them again, so readers also race index rebuilds and tombstones.
        var model = new Dictionary<uint, uint>();
        var random = new Random(2024);
        int rebuildsForced = 0;
        for (int op = 0; op < WriterOperations; op++)
        {
            int g = random.Next(Groups);
            uint p = GroupPublic(g, random.Next(2));
            uint v = GroupPrivate(g, random.Next(4));
            if (random.Next(10) == 0)
            {
                table.UnbindPublic(p);
                model.Remove(p);
            }
            else
            {
                table.Bind(p, v);
                foreach (var stale in model.Where(kv => kv.Value == v).Select(kv => kv.Key).ToList())
                {
                    model.Remove(stale);
                }
                model[p] = v;
            }
            if (op % 20_000 == 0)
            {
                for (uint f = 1; f <= 3000; f++)
                {
                    table.Bind(0x64000000 + f, 0xC0A80000 + f);
                }
                for (uint f = 1; f <= 3000; f++)
                {
                    table.UnbindPublic(0x64000000 + f);
                }
                rebuildsForced++;
            }
        }
        stop.Cancel();
        readers.ForEach(t => t.Join());

        output.WriteLine($"{WriterOperations:N0} writer operations ({rebuildsForced} filler waves), {lookups:N0} reader lookups, {hits:N0} hits on moving bindings");
        Assert.Empty(failures);
        Assert.True(lookups > 0);

        // After the writer returns, the table is exactly the writer's model plus the stable set.
        var expected = model.Select(kv => new Binding(kv.Key, kv.Value))
            .Concat(Enumerable.Range(0, Stable).Select(i => new Binding(StablePublic(i), StablePrivate(i))))
            .ToHashSet();
        Assert.Equal(expected, table.Snapshot().ToHashSet());
    }

    [Fact]
    public void TranslatorsDuringContinuousRebinding_EmitOnlyFramesForABindingThatExisted()
    {
        // Frame-level version: each translated frame must be byte-for-byte one of the frames built from scratch for
        // a private address the public was bound to at some point; never a mix of two bindings.
        var nat = new Nat();
        uint publicAddress = Nat.Ip(Nat.PublicA);
        string[] privates = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"];
        byte[] input = Frames.Tcp(Nat.Internet, Nat.PublicA, 1, 2, "frame"u8.ToArray());
        // Nat starts with PublicA bound to PrivateA: that binding existed too.
        var legitimate = privates.Append(Nat.PrivateA).Select(v => Convert.ToHexString(Frames.Tcp(Nat.Internet, v, 1, 2, "frame"u8.ToArray()))).ToHashSet();
        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        long translated = 0;

        void Worker()
        {
            var counters = new TrafficCounters();
            var buffer = new byte[input.Length];
            long mine = 0;
            while (!stop.IsCancellationRequested)
            {
                input.CopyTo(buffer, 0);
                var verdict = nat.Translator.TranslateEthernet(buffer, buffer.Length, counters, TranslateMode.FromInternet);
                if (verdict == DropReason.None)
                {
                    mine++;
                    if (!legitimate.Contains(Convert.ToHexString(buffer)))
                    {
                        failures.Enqueue(Convert.ToHexString(buffer));
                    }
                }
                else if (verdict != DropReason.NoBinding)
                {
                    failures.Enqueue(verdict.ToString());
                }
            }
            Interlocked.Add(ref translated, mine);
        }

        var workers = Enumerable.Range(0, 2).Select(_ => new Thread(Worker) { IsBackground = true }).ToList();
        workers.ForEach(t => t.Start());
        var random = new Random(5);
        for (int op = 0; op < 100_000; op++)
        {
            if (op % 17 == 0)
            {
                nat.Table.UnbindPublic(publicAddress);
            }
            else
            {
                nat.Table.Bind(publicAddress, Nat.Ip(privates[random.Next(privates.Length)]));
            }
        }
        stop.Cancel();
        workers.ForEach(t => t.Join());

        output.WriteLine($"{translated:N0} frames translated while the binding changed 100,000 times");
        Assert.Empty(failures);
    }
}
