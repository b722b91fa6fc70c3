using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Gateway.DataPlane.Memory;

namespace Gateway.DataPlane.Bindings;

/// <summary>
/// One direction of the binding table: an open-addressing hash index of one-cache-line buckets, each holding five
/// entries whole (key, value and binding id), probed bucket after bucket (bucketised linear probing).
/// </summary>
/// <remarks>
/// <para>Bucket layout (64 bytes, one cache line, 64-byte aligned; little-endian words):</para>
/// <code>
///  byte  0        8        16       24       32       40   44   48   52   56   60   64
///       +--------+--------+--------+--------+--------+----+----+----+----+----+----+
///       | entry0 | entry1 | entry2 | entry3 | entry4 |id0 |id1 |id2 |id3 |id4 |meta|
///       +--------+--------+--------+--------+--------+----+----+----+----+----+----+
///
///  entry (64 bits, read and written atomically):
///   63             32 31              0
///  +-----------------+-----------------+
///  |  key   (IPv4)   |  value  (IPv4)  |     key 0.0.0.0 = empty, 255.255.255.255 = tombstone (value 0)
///  +-----------------+-----------------+
///
///  id (32 bits): the dense binding id of the entry beside it (counters, policer), written before the entry.
///  meta (32 bits): bit 0 = overflowed (an insert once found this bucket full and went on); bits 1-31 zero.
/// </code>
/// <para>Size: 64 bytes per 5 entries; sized for <see cref="TargetLoad"/> (80 %) that is 16 bytes per binding per
/// direction, and the id the counters need sits in the same line as the entry (no second array, no second miss).</para>
/// <para>Bucket choice: Fibonacci hashing (multiply by 2^32/φ, a bijection of the 32-bit key) then Lemire's
/// multiply-shift range reduction, so the bucket count need not be a power of two and the index can be sized to
/// the load factor exactly. Consecutive addresses land about 0.618 × buckets apart.</para>
/// <para>Probe rule: an entry lives in its home bucket or, when that was full at insert time, in a later one; every
/// bucket an insert passed is marked overflowed first (sticky until a rebuild). A lookup checks the bucket and stops
/// at the first bucket that is not overflowed. Removal leaves a tombstone (never an empty slot), and the overflow bit
/// is never cleared, so a probe is never cut short: a key that stays bound is found by every lookup, at any load.</para>
/// <para>Readers: one 64-bit atomic load gives key and value together, so a translation always uses a binding that
/// existed whole. The id is read after the entry and the entry read again: a changed entry means a race with the
/// writer and the bucket is read again. (An entry that changes and changes back between the two reads could pair it
/// with the id of the moment in between: that only misattributes one frame's counts, never its translation; ids
/// are quarantined before reuse, see <see cref="BindingTable"/>.)</para>
/// </remarks>
internal sealed unsafe class BindingIndex
{
    internal const uint EmptyKey = 0;
    internal const uint TombstoneKey = uint.MaxValue;
    internal const ulong TombstoneEntry = (ulong)TombstoneKey << 32;
    internal const int EntriesPerBucket = 5;
    internal const int BucketBytes = 64;
    internal const int IdsOffset = 40;
    internal const int MetaOffset = 60;
    internal const uint OverflowBit = 1;

    /// <summary>The load an index is sized for: 5 entries of 64 bytes at 80 % = 16 bytes per entry.</summary>
    internal const double TargetLoad = 0.8;

    /// <summary>Live entries plus tombstones above this share of the slots trigger a rebuild before the next insert.</summary>
    internal const double MaxFill = 0.9;

    private const uint FibonacciMultiplier = 0x9E3779B1; // 2^32 / φ, odd: a bijection of uint.

    private readonly LargePageMemory _memory;
    private readonly byte* _buckets;
    private readonly uint _bucketCount;
    private int _used;
    private int _tombstones;
    private uint _overflowed;

    private BindingIndex(uint bucketCount)
    {
        Debug.Assert(bucketCount >= 1);
        _bucketCount = bucketCount;
        _memory = LargePageMemory.Allocate((long)bucketCount * BucketBytes);
        _buckets = _memory.Start;
    }

    /// <summary>An index where <paramref name="count"/> entries sit at <see cref="TargetLoad"/> (at least two buckets).</summary>
    internal static BindingIndex ForCount(long count, double load = TargetLoad)
    {
        long buckets = Math.Max(2, (long)Math.Ceiling(count / (EntriesPerBucket * load)));
        return new BindingIndex((uint)Math.Min(buckets, int.MaxValue / EntriesPerBucket));
    }

    internal int Used => _used;

    internal int Tombstones => _tombstones;

    internal int Slots => (int)_bucketCount * EntriesPerBucket;

    internal uint BucketCount => _bucketCount;

    internal long MemoryBytes => (long)_bucketCount * BucketBytes;

    internal LargePageMemory Memory => _memory;

    /// <summary>
    /// True when the next insert must go into a fresh index: live entries plus tombstones would pass
    /// <see cref="MaxFill"/>, or three quarters of the buckets are marked overflowed (probes would grow long).
    /// </summary>
    internal bool NeedsRebuildBeforeInsert =>
        _used + _tombstones + 1 > (long)(Slots * MaxFill) || _overflowed * 4L >= _bucketCount * 3L;

    internal uint OverflowedBuckets => _overflowed;

    // ---------------------------------------------------------------- bit fields

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Pack(uint key, uint value) => ((ulong)key << 32) | value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint KeyOf(ulong entry) => (uint)(entry >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint ValueOf(ulong entry) => (uint)entry;

    internal static bool IsLive(ulong entry) => KeyOf(entry) is not (EmptyKey or TombstoneKey);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint HomeOf(uint key) => (uint)(((ulong)(key * FibonacciMultiplier) * _bucketCount) >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* Bucket(uint bucket) => _buckets + ((nuint)bucket * BucketBytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong* EntryAt(byte* bucket, int slot) => (ulong*)bucket + slot;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int* IdAt(byte* bucket, int slot) => (int*)(bucket + IdsOffset) + slot;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint* MetaOf(byte* bucket) => (uint*)(bucket + MetaOffset);

    // ---------------------------------------------------------------- readers (lock-free, allocation-free)

    /// <summary>Starts fetching the home bucket of <paramref name="key"/> (x86 only; elsewhere a no-op). A hint: it changes nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Prefetch(uint key)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Bucket(HomeOf(key)));
        }
        GC.KeepAlive(this);
    }

    /// <summary>
    /// Looks <paramref name="key"/> up: its value and binding id from one consistent read of its entry.
    /// The sentinel keys (0.0.0.0, 255.255.255.255) are never found.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryGet(uint key, out uint value, out int id)
    {
        // key + 1 maps 0xFFFFFFFF to 0 and 0 to 1: one unsigned compare refuses both sentinels, which would otherwise
        // "find" an empty slot or a tombstone (a DHCP discover 0.0.0.0 → 255.255.255.255 was once SNATed that way).
        if (key + 1u <= 1u)
        {
            value = 0;
            id = -1;
            return false;
        }
        uint b = HomeOf(key);
        uint visited = 0;
        while (true)
        {
            byte* bucket = Bucket(b);
            int slot = MatchSlot(bucket, key);
            if (slot >= 0)
            {
                // Acquire loads: the id was written before its entry (release), so it is at least as new as the entry.
                ulong entry = Volatile.Read(ref *EntryAt(bucket, slot));
                int found = Volatile.Read(ref *IdAt(bucket, slot));
                if (KeyOf(entry) == key && Volatile.Read(ref *EntryAt(bucket, slot)) == entry)
                {
                    value = ValueOf(entry);
                    id = found;
                    GC.KeepAlive(this); // the memory lives as long as this object: keep it past the last read
                    return true;
                }
                continue; // the writer changed this bucket between the reads: read it again
            }
            if ((Volatile.Read(ref *MetaOf(bucket)) & OverflowBit) == 0 || ++visited == _bucketCount)
            {
                value = 0;
                id = -1;
                GC.KeepAlive(this);
                return false;
            }
            // The writer rebuilds before a quarter of the buckets are left unmarked; the count is only a backstop.
            b = b + 1 == _bucketCount ? 0 : b + 1;
        }
    }

    /// <summary>The slot of <paramref name="key"/> in the bucket as one read of it saw it, or -1.</summary>
    /// <remarks>
    /// Entries 0-3 are compared in one 256-bit step (their keys are the upper halves of four 64-bit lanes), entry 4
    /// alone; no branch depends on where the key sits. A torn vector read is harmless: the slot found is re-read
    /// atomically and checked, and a key bound throughout the lookup is in every read of its slot.
    /// Measured: Bindings/TableLookupBenchmarks (perf/README.md).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MatchSlot(byte* bucket, uint key)
    {
        uint mask;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> entries = Vector256.LoadAligned((ulong*)bucket);
            Vector256<ulong> wanted = Vector256.Create((ulong)key << 32);
            Vector256<ulong> keys = entries & Vector256.Create(0xFFFFFFFF00000000UL);
            mask = Vector256.Equals(keys, wanted).ExtractMostSignificantBits();
        }
        else
        {
            mask = 0;
            for (int s = 0; s < 4; s++)
            {
                mask |= KeyOf(EntryAt(bucket, s)[0]) == key ? 1u << s : 0;
            }
        }
        mask |= *(uint*)(bucket + 36) == key ? 16u : 0u; // entry 4's key: the upper half of bytes 32..39
        return mask == 0 ? -1 : BitOperations.TrailingZeroCount(mask);
    }

    // ---------------------------------------------------------------- the writer (one at a time, under the table's lock)

    /// <summary>Overwrites the value and id of <paramref name="key"/> where it is; false when the key is absent.</summary>
    internal bool TryUpsertInPlace(uint key, uint value, int id)
    {
        if (!TryFind(key, out byte* bucket, out int slot))
        {
            return false;
        }
        Volatile.Write(ref *IdAt(bucket, slot), id);
        // Release: a reader that sees the new entry also sees its id. A reader that read the old entry and then the
        // new id sees the entry change on its second read and reads the bucket again.
        Volatile.Write(ref *EntryAt(bucket, slot), Pack(key, value));
        return true;
    }

    /// <summary>Inserts a key known to be absent, into the first free slot (empty or tombstone) from its home bucket on.</summary>
    internal void Insert(uint key, uint value, int id)
    {
        Debug.Assert(!TryFind(key, out _, out _) && !NeedsRebuildBeforeInsert);
        Debug.Assert(key is not (EmptyKey or TombstoneKey));
        uint b = HomeOf(key);
        while (true)
        {
            byte* bucket = Bucket(b);
            for (int s = 0; s < EntriesPerBucket; s++)
            {
                ulong entry = *EntryAt(bucket, s);
                if (!IsLive(entry))
                {
                    if (entry == TombstoneEntry)
                    {
                        _tombstones--;
                    }
                    Volatile.Write(ref *IdAt(bucket, s), id);
                    // Release: the id, and every overflow bit set on the way here, are visible before the entry.
                    Volatile.Write(ref *EntryAt(bucket, s), Pack(key, value));
                    _used++;
                    GC.KeepAlive(this);
                    return;
                }
            }
            // Full of live entries: mark it, so lookups that start at or before it go on past it.
            if ((*MetaOf(bucket) & OverflowBit) == 0)
            {
                Volatile.Write(ref *MetaOf(bucket), *MetaOf(bucket) | OverflowBit);
                _overflowed++;
            }
            b = b + 1 == _bucketCount ? 0 : b + 1;
        }
    }

    /// <summary>Replaces the entry of <paramref name="key"/> with a tombstone; false when it was absent.</summary>
    internal bool Remove(uint key)
    {
        if (!TryFind(key, out byte* bucket, out int slot))
        {
            return false;
        }
        Volatile.Write(ref *EntryAt(bucket, slot), TombstoneEntry);
        _used--;
        _tombstones++;
        GC.KeepAlive(this);
        return true;
    }

    /// <summary>A fresh index holding the live entries (ids kept), sized for <paramref name="count"/> entries at <paramref name="load"/>.</summary>
    internal BindingIndex Rebuild(long count, double load = TargetLoad)
    {
        var fresh = ForCount(Math.Max(count, _used + 1L), load);
        foreach (var (key, value, id) in Entries())
        {
            fresh.Insert(key, value, id);
        }
        return fresh;
    }

    /// <summary>Every live entry (writer side: the caller holds the table's lock, so nothing changes meanwhile).</summary>
    internal IEnumerable<(uint Key, uint Value, int Id)> Entries()
    {
        for (uint b = 0; b < _bucketCount; b++)
        {
            for (int s = 0; s < EntriesPerBucket; s++)
            {
                (ulong entry, int id) = ReadSlot(b, s);
                if (IsLive(entry))
                {
                    yield return (KeyOf(entry), ValueOf(entry), id);
                }
            }
        }
    }

    private (ulong Entry, int Id) ReadSlot(uint b, int s)
    {
        byte* bucket = Bucket(b);
        var result = (*EntryAt(bucket, s), *IdAt(bucket, s));
        GC.KeepAlive(this);
        return result;
    }

    /// <summary>The overflow bit of bucket <paramref name="b"/> (for tests of the probe rule).</summary>
    internal bool IsOverflowed(uint b) => (*MetaOf(Bucket(b)) & OverflowBit) != 0;

    /// <summary>How many buckets a lookup of <paramref name="key"/> reads (1 = its home bucket only).</summary>
    internal int ProbeLength(uint key)
    {
        uint b = HomeOf(key);
        int length = 1;
        while (MatchSlot(Bucket(b), key) < 0 && IsOverflowed(b) && length < _bucketCount)
        {
            b = b + 1 == _bucketCount ? 0 : b + 1;
            length++;
        }
        return length;
    }

    private bool TryFind(uint key, out byte* bucket, out int slot)
    {
        if (key is EmptyKey or TombstoneKey)
        {
            bucket = null;
            slot = -1;
            return false;
        }
        uint b = HomeOf(key);
        bucket = null;
        for (uint visited = 0; visited < _bucketCount; visited++)
        {
            bucket = Bucket(b);
            for (int s = 0; s < EntriesPerBucket; s++)
            {
                if (KeyOf(*EntryAt(bucket, s)) == key)
                {
                    slot = s;
                    return true;
                }
            }
            if ((*MetaOf(bucket) & OverflowBit) == 0)
            {
                break;
            }
            b = b + 1 == _bucketCount ? 0 : b + 1;
        }
        bucket = null;
        slot = -1;
        return false;
    }
}
