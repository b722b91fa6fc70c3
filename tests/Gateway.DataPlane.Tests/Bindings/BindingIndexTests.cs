using Xunit.Abstractions;

namespace Gateway.DataPlane.Bindings.Tests;

/// <summary>
/// The index layout drawn over <see cref="BindingIndex"/>: every bit field round-trips, the id sits beside its entry,
/// overflow marks keep probes whole, and tombstones and rebuilds keep every lookup exact at every load factor.
/// </summary>
public sealed class BindingIndexTests(ITestOutputHelper output)
{
    private static readonly uint[] s_edgeValues = [1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0x0A000001, 0xC6336401, 0x00FF00FF, 0xFF00FF00];

    [Fact]
    public void EntryBitFields_RoundTrip_ForEdgeAndRandomValues()
    {
        var random = new Random(15);
        var values = s_edgeValues.Concat(Enumerable.Range(0, 10_000).Select(_ => (uint)random.NextInt64(1, uint.MaxValue))).ToArray();
        foreach (uint key in values)
        {
            uint value = values[random.Next(values.Length)];
            ulong entry = BindingIndex.Pack(key, value);
            Assert.Equal(key, BindingIndex.KeyOf(entry));
            Assert.Equal(value, BindingIndex.ValueOf(entry));
            Assert.True(BindingIndex.IsLive(entry));
            // The key is the upper half: what the vector compare in MatchSlot masks in.
            Assert.Equal((ulong)key << 32, entry & 0xFFFFFFFF00000000UL);
        }
        Assert.False(BindingIndex.IsLive(0));
        Assert.False(BindingIndex.IsLive(BindingIndex.TombstoneEntry));
        Assert.Equal(BindingIndex.TombstoneKey, BindingIndex.KeyOf(BindingIndex.TombstoneEntry));
        Assert.Equal(0u, BindingIndex.ValueOf(BindingIndex.TombstoneEntry));
    }

    [Fact]
    public void BucketLayout_IsOneCacheLine_OfFiveEntriesTheirIdsAndAMetaWord()
    {
        Assert.Equal(64, BindingIndex.BucketBytes);
        Assert.Equal(5 * sizeof(ulong), BindingIndex.IdsOffset);
        Assert.Equal(BindingIndex.IdsOffset + (5 * sizeof(int)), BindingIndex.MetaOffset);
        Assert.Equal(BindingIndex.BucketBytes, BindingIndex.MetaOffset + sizeof(uint));
        Assert.Equal(5, BindingIndex.EntriesPerBucket);
        // Sized for the target load: 16 bytes per entry.
        var index = BindingIndex.ForCount(1_000_000);
        Assert.Equal(16.0, (double)index.MemoryBytes / 1_000_000, 2);
    }

    [Fact]
    public void Ids_RoundTripBesideTheirEntries_IncludingTheExtremes()
    {
        var index = BindingIndex.ForCount(64);
        int[] ids = [0, 1, 63, 64, 1 << 20, int.MaxValue, 12345];
        for (int i = 0; i < ids.Length; i++)
        {
            index.Insert(0xC6336400 + (uint)i + 1, 0x0A000000 + (uint)i + 1, ids[i]);
        }
        for (int i = 0; i < ids.Length; i++)
        {
            Assert.True(index.TryGet(0xC6336400 + (uint)i + 1, out uint value, out int id));
            Assert.Equal(0x0A000000 + (uint)i + 1, value);
            Assert.Equal(ids[i], id);
        }
        Assert.Equal(ids.Order(), index.Entries().Select(e => e.Id).Order());
        // In place: value and id change together.
        Assert.True(index.TryUpsertInPlace(0xC6336401, 0x0A0000FF, 77));
        Assert.True(index.TryGet(0xC6336401, out uint moved, out int movedId));
        Assert.Equal((0x0A0000FFu, 77), (moved, movedId));
    }

    [Fact]
    public void AFullBucket_IsMarkedOverflowed_AndKeysBeyondItAreFound()
    {
        // Two buckets: ten keys that all hash home to bucket 0 fill it and spill into bucket 1.
        var index = BindingIndex.ForCount(1, load: 1);
        Assert.Equal(2u, index.BucketCount);
        var keys = Enumerable.Range(1, 100_000).Select(k => (uint)k).Where(k => index.HomeOf(k) == 0).Take(8).ToArray();
        for (int i = 0; i < keys.Length; i++)
        {
            if (index.NeedsRebuildBeforeInsert)
            {
                break;
            }
            index.Insert(keys[i], 0x0A000000 + (uint)i, i);
        }
        Assert.True(index.Used > BindingIndex.EntriesPerBucket, $"only {index.Used} keys went in");
        Assert.True(index.IsOverflowed(0));
        Assert.False(index.IsOverflowed(1));
        for (int i = 0; i < index.Used; i++)
        {
            Assert.True(index.TryGet(keys[i], out uint value, out int id), $"key {i} lost");
            Assert.Equal((0x0A000000 + (uint)i, i), (value, id));
        }
        Assert.Equal(2, index.ProbeLength(keys[index.Used - 1]));
        // Removing the keys of bucket 0 leaves tombstones and the mark: the spilled keys are still found.
        for (int i = 0; i < BindingIndex.EntriesPerBucket; i++)
        {
            Assert.True(index.Remove(keys[i]));
        }
        Assert.True(index.IsOverflowed(0));
        for (int i = BindingIndex.EntriesPerBucket; i < index.Used + BindingIndex.EntriesPerBucket; i++)
        {
            Assert.True(index.TryGet(keys[i], out _, out int id));
            Assert.Equal(i, id);
        }
        Assert.False(index.TryGet(keys[0], out _, out _));
    }

    [Fact]
    public void SentinelKeys_AreNeverFound_NorRemoved()
    {
        var index = BindingIndex.ForCount(16);
        index.Insert(0xC6336401, 0x0A000001, 0);
        index.Remove(0xC6336401); // a tombstone now sits in the index
        Assert.False(index.TryGet(BindingIndex.EmptyKey, out _, out int id));
        Assert.Equal(-1, id);
        Assert.False(index.TryGet(BindingIndex.TombstoneKey, out _, out _));
        Assert.False(index.Remove(BindingIndex.TombstoneKey));
        Assert.False(index.Remove(BindingIndex.EmptyKey));
        Assert.Equal(1, index.Tombstones);
    }

    [Theory]
    [InlineData(0.10)]
    [InlineData(0.30)]
    [InlineData(0.50)]
    [InlineData(0.70)]
    [InlineData(0.80)]
    [InlineData(0.85)]
    [InlineData(0.89)]
    public void TombstonesAndRebuilds_KeepEveryLookupExact_AtThisLoadFactor(double load)
    {
        // An index of 2,000 buckets filled to the load factor, then churned: removals leave tombstones, inserts reuse
        // them, and whenever the writer would need a rebuild the index is rebuilt (at the same size). After every
        // step batch, every key ever used is looked up and compared with the model: present with its value and id,
        // or absent.
        var random = new Random((int)(load * 1000));
        var index = BindingIndex.ForCount(10_000, load: 1.0);
        int target = (int)(index.Slots * load);
        var model = new Dictionary<uint, (uint Value, int Id)>();
        var universe = new List<uint>();
        int nextId = 0, rebuilds = 0, maxProbe = 0;

        void Insert(uint key)
        {
            if (index.NeedsRebuildBeforeInsert)
            {
                index = index.Rebuild(index.Slots, load: 1.0);
                rebuilds++;
            }
            uint value = (uint)random.NextInt64(1, uint.MaxValue);
            index.Insert(key, value, nextId);
            model[key] = (value, nextId++);
        }

        uint NewKey()
        {
            uint key;
            do
            {
                key = (uint)random.NextInt64(1, uint.MaxValue);
            }
            while (model.ContainsKey(key));
            universe.Add(key);
            return key;
        }

        while (model.Count < target)
        {
            Insert(NewKey());
        }
        for (int round = 0; round < 20; round++)
        {
            // Remove a tenth, put as many back (half of them keys removed before).
            var victims = model.Keys.OrderBy(_ => random.Next()).Take(target / 10).ToList();
            foreach (uint key in victims)
            {
                Assert.True(index.Remove(key));
                model.Remove(key);
            }
            for (int i = 0; i < victims.Count; i++)
            {
                uint key = i % 2 == 0 ? victims[i] : NewKey();
                if (!model.ContainsKey(key))
                {
                    Insert(key);
                }
            }
            foreach (uint key in universe)
            {
                bool found = index.TryGet(key, out uint value, out int id);
                if (model.TryGetValue(key, out var expected))
                {
                    Assert.True(found, $"load {load}: key {key:X8} lost in round {round}");
                    Assert.Equal(expected, (value, id));
                    maxProbe = Math.Max(maxProbe, index.ProbeLength(key));
                }
                else
                {
                    Assert.False(found, $"load {load}: removed key {key:X8} still found in round {round}");
                }
            }
            Assert.Equal(model.Count, index.Used);
        }
        // A rebuild at the end keeps everything too, and leaves no tombstone.
        index = index.Rebuild(model.Count);
        Assert.Equal(0, index.Tombstones);
        Assert.Equal(model.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value.Value, kv.Value.Id)), index.Entries().OrderBy(e => e.Key));
        output.WriteLine($"load {load:P0}: {model.Count:N0} keys in {index.Slots:N0} slots, {rebuilds} rebuild(s) during the churn, longest probe {maxProbe} bucket(s), {index.OverflowedBuckets} of {index.BucketCount} buckets marked after the final rebuild");
    }

    [Fact]
    public void LookupOfAnAbsentKey_Terminates_EvenWhenEveryBucketIsMarked()
    {
        // The backstop behind the writer's rebuild rule: a probe never loops round the index for ever.
        var index = BindingIndex.ForCount(1, load: 1);
        var keys = Enumerable.Range(1, 1_000_000).Select(k => (uint)k).ToArray();
        var home0 = keys.Where(k => index.HomeOf(k) == 0).Take(6).ToArray();
        var home1 = keys.Where(k => index.HomeOf(k) == 1).Take(6).ToArray();
        foreach (uint k in home0.Take(5))
        {
            index.Insert(k, 1, 0);
        }
        index.Insert(home0[5], 1, 0); // spills to bucket 1, marking bucket 0
        foreach (uint k in home1.Take(4))
        {
            index.Insert(k, 1, 0);
        }
        Assert.True(index.IsOverflowed(0));
        Assert.False(index.TryGet(0xDEADBEEF, out _, out _));
        Assert.True(index.NeedsRebuildBeforeInsert);
    }
}
