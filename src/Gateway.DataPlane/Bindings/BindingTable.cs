using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Gateway.Packets;

namespace Gateway.DataPlane.Bindings;

/// <summary>
/// The 1:1 NAT mapping: public→private for inbound frames and private→public for outbound ones.
/// </summary>
/// <remarks>
/// <para>Readers (packet workers, any number of threads) never lock and never allocate. Each
/// direction is an open-addressing hash index whose slots are single 64-bit words holding
/// <c>key:32 | value:32</c>, read with one atomic load, so a reader always sees a binding whole:
/// the old one or the new one, never half of each.</para>
/// <para>One writer at a time: the writer methods take a lock against each other (the control plane
/// already serialises changes; the lock only guards against misuse). Insert, remove and rebind touch
/// a constant number of slots. Removal leaves a tombstone so that a concurrent reader's probe is never
/// cut short; when live slots plus tombstones pass three quarters of the capacity the writer builds a
/// fresh index off to the side and publishes it with one reference store (amortised O(1)).</para>
/// <para>Each binding also has a small integer id (dense, reused oldest-freed-first) that names its
/// slot in the per-worker counters (<see cref="Counters.TrafficCounters"/>).</para>
/// </remarks>
public sealed class BindingTable
{
    private const int IdQuarantine = 64;

    private readonly Lock _writerLock = new();
    private HashIndex _byPublic;
    private HashIndex _byPrivate;

    // Writer-only state: the binding behind each id, for enumeration and counter reports.
    private long[] _bindingsById;
    private readonly Queue<int> _freeIds = new();
    private int _nextId;

    /// <summary>Creates a table sized so that <paramref name="expectedBindings"/> fit without a rebuild.</summary>
    public BindingTable(int expectedBindings = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expectedBindings);
        _byPublic = HashIndex.ForCount(expectedBindings);
        _byPrivate = HashIndex.ForCount(expectedBindings);
        _bindingsById = new long[Math.Max(16, expectedBindings)];
    }

    /// <summary>Number of bindings.</summary>
    public int Count => Volatile.Read(ref _byPublic).Used;

    /// <summary>One past the highest binding id handed out so far (the size per-binding counters need).</summary>
    public int IdLimit => Volatile.Read(ref _nextId);

    /// <summary>Bytes held by the table (both indexes and the id map), for the bytes-per-binding figure.</summary>
    public long MemoryBytes
    {
        get
        {
            lock (_writerLock)
            {
                return _byPublic.MemoryBytes + _byPrivate.MemoryBytes + ((long)_bindingsById.Length * sizeof(long));
            }
        }
    }

    // ----- Readers: lock-free, allocation-free. -----

    /// <summary>Inbound lookup: the private address bound to <paramref name="publicAddress"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetPrivate(uint publicAddress, out uint privateAddress, out int bindingId) =>
        Volatile.Read(ref _byPublic).TryGet(publicAddress, out privateAddress, out bindingId);

    /// <summary>Outbound lookup: the public address bound to <paramref name="privateAddress"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetPublic(uint privateAddress, out uint publicAddress, out int bindingId) =>
        Volatile.Read(ref _byPrivate).TryGet(privateAddress, out publicAddress, out bindingId);

    /// <summary>
    /// Starts fetching the table slots that an outbound lookup of <paramref name="source"/> and an inbound lookup of
    /// <paramref name="destination"/> will read first, so that a batch of frames waits for memory once, not once per
    /// frame. A hint only: it reads nothing and changes no outcome.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(uint source, uint destination)
    {
        Volatile.Read(ref _byPrivate).Prefetch(source);
        Volatile.Read(ref _byPublic).Prefetch(destination);
    }

    /// <summary>True when <paramref name="privateAddress"/> is bound to some public address.</summary>
    public bool IsPrivateBound(uint privateAddress) => TryGetPublic(privateAddress, out _, out _);

    // ----- The writer. -----

    /// <summary>
    /// Binds <paramref name="publicAddress"/> to <paramref name="privateAddress"/>. A binding either side
    /// had before ends (an EIP moving to another instance, an instance trading its public IP for an EIP).
    /// </summary>
    /// <remarks>
    /// Order matters for packets in flight: the new mappings are installed first (an existing key is
    /// overwritten in place, one atomic store), and only then are the mappings that pointed the old way
    /// removed. A reader in between sees each direction whole, old or new.
    /// </remarks>
    /// <returns>The id of the binding.</returns>
    public int Bind(uint publicAddress, uint privateAddress)
    {
        ValidateAddress(publicAddress, nameof(publicAddress));
        ValidateAddress(privateAddress, nameof(privateAddress));
        lock (_writerLock)
        {
            bool hadPublic = _byPublic.TryGet(publicAddress, out uint oldPrivate, out int oldId);
            bool hadPrivate = _byPrivate.TryGet(privateAddress, out uint oldPublic, out int oldPrivateId);
            if (hadPublic && oldPrivate == privateAddress)
            {
                return oldId;
            }

            int id = AllocateId(publicAddress, privateAddress);
            Upsert(ref _byPublic, publicAddress, privateAddress, id);
            Upsert(ref _byPrivate, privateAddress, publicAddress, id);

            if (hadPublic)
            {
                // publicAddress moved away from oldPrivate: oldPrivate no longer leaves as publicAddress.
                _byPrivate.Remove(oldPrivate);
                FreeId(oldId);
            }
            if (hadPrivate)
            {
                // privateAddress traded oldPublic for publicAddress: oldPublic stops answering.
                _byPublic.Remove(oldPublic);
                FreeId(oldPrivateId);
            }
            return id;
        }
    }

    /// <summary>Removes the binding of <paramref name="publicAddress"/>; false when it was not bound.</summary>
    public bool UnbindPublic(uint publicAddress)
    {
        lock (_writerLock)
        {
            if (!_byPublic.TryGet(publicAddress, out uint privateAddress, out int id))
            {
                return false;
            }
            // Inbound first: once the public address stops translating, nothing new reaches the instance through it.
            _byPublic.Remove(publicAddress);
            _byPrivate.Remove(privateAddress);
            FreeId(id);
            return true;
        }
    }

    /// <summary>Removes the binding of <paramref name="privateAddress"/>; false when it was not bound.</summary>
    public bool UnbindPrivate(uint privateAddress)
    {
        uint publicAddress;
        lock (_writerLock)
        {
            if (!_byPrivate.TryGet(privateAddress, out publicAddress, out _))
            {
                return false;
            }
        }
        return UnbindPublic(publicAddress);
    }

    /// <summary>Removes every binding.</summary>
    public void Clear()
    {
        lock (_writerLock)
        {
            Volatile.Write(ref _byPublic, HashIndex.ForCount(0));
            Volatile.Write(ref _byPrivate, HashIndex.ForCount(0));
            Array.Clear(_bindingsById);
            _freeIds.Clear();
            _nextId = 0;
        }
    }

    /// <summary>A consistent copy of every binding, for reports and for checking the table against a database.</summary>
    public IReadOnlyList<Binding> Snapshot()
    {
        lock (_writerLock)
        {
            var result = new List<Binding>(_byPublic.Used);
            foreach (long slot in _byPublic.Slots)
            {
                if (HashIndex.IsLive(slot))
                {
                    result.Add(new Binding(HashIndex.KeyOf(slot), HashIndex.ValueOf(slot)));
                }
            }
            return result;
        }
    }

    /// <summary>The binding that currently holds <paramref name="bindingId"/>, if any.</summary>
    public bool TryGetBinding(int bindingId, out Binding binding)
    {
        lock (_writerLock)
        {
            long packed = (uint)bindingId < (uint)_nextId ? _bindingsById[bindingId] : 0;
            binding = new Binding((uint)((ulong)packed >> 32), (uint)packed);
            return packed != 0;
        }
    }

    private static void ValidateAddress(uint address, string name)
    {
        // 0.0.0.0 marks an empty slot and 255.255.255.255 a tombstone; neither is a host address anyway.
        if (address is HashIndex.EmptyKey or HashIndex.TombstoneKey)
        {
            throw new ArgumentException($"{Ipv4Address.Format(address)} cannot be bound: it is not a host address.", name);
        }
    }

    private int AllocateId(uint publicAddress, uint privateAddress)
    {
        // Oldest-freed-first reuse keeps a just-freed id out of circulation as long as possible,
        // so a worker that read it a moment before the change counts to a binding that is gone, not a new one.
        int id = _freeIds.Count >= IdQuarantine ? _freeIds.Dequeue() : _nextId++;
        if (id >= _bindingsById.Length)
        {
            Array.Resize(ref _bindingsById, _bindingsById.Length * 2);
        }
        _bindingsById[id] = ((long)publicAddress << 32) | privateAddress;
        return id;
    }

    private void FreeId(int id)
    {
        _bindingsById[id] = 0;
        _freeIds.Enqueue(id);
    }

    private static void Upsert(ref HashIndex index, uint key, uint value, int id)
    {
        if (!index.TryUpsertInPlace(key, value, id))
        {
            if (index.NeedsRebuildBeforeInsert)
            {
                // Built off to the side, published with one release store; readers holding the old
                // index finish their probe on it unchanged (it is never written again).
                Volatile.Write(ref index, index.Rebuild());
            }
            index.Insert(key, value, id);
        }
    }
}

/// <summary>A public↔private pair.</summary>
public readonly record struct Binding(uint PublicAddress, uint PrivateAddress)
{
    public override string ToString() => $"{Ipv4Address.Format(PublicAddress)} <-> {Ipv4Address.Format(PrivateAddress)}";
}

/// <summary>
/// One direction of the table: linear probing over packed 64-bit slots.
/// </summary>
/// <remarks>
/// Slot layout (one <see cref="long"/>, read and written atomically):
/// <code>
///  63            32 31             0
/// +----------------+----------------+
/// |   key (IPv4)   |  value (IPv4)  |
/// +----------------+----------------+
/// </code>
/// key 0.0.0.0 = empty (ends a probe), key 255.255.255.255 = tombstone (a probe goes on past it).
/// <see cref="Ids"/> runs beside the slots and is read after the slot: a reader racing a remove and
/// re-insert into the same slot within those few nanoseconds may count the frame to the new binding's
/// id; the translation itself always uses the slot it read, whole.
/// </remarks>
internal sealed class HashIndex
{
    internal const uint EmptyKey = 0;
    internal const uint TombstoneKey = uint.MaxValue;
    private const long Tombstone = unchecked((long)((ulong)TombstoneKey << 32));
    private const int MinCapacity = 16;

    internal readonly long[] Slots;
    internal readonly int[] Ids;
    private readonly int _shift;
    private readonly int _mask;
    internal int Used;
    private int _tombstones;

    private HashIndex(int capacity)
    {
        Debug.Assert(int.IsPow2(capacity));
        Slots = new long[capacity];
        Ids = new int[capacity];
        _mask = capacity - 1;
        _shift = 32 - int.Log2(capacity);
    }

    /// <summary>An index where <paramref name="count"/> entries sit at or below half load.</summary>
    internal static HashIndex ForCount(int count)
    {
        long wanted = Math.Max(MinCapacity, (long)count * 2);
        return new HashIndex((int)Math.Min(1L << 30, (long)BitOperations.RoundUpToPowerOf2((ulong)wanted)));
    }

    internal long MemoryBytes => ((long)Slots.Length * sizeof(long)) + ((long)Ids.Length * sizeof(int));

    internal bool NeedsRebuildBeforeInsert => (Used + _tombstones + 1) * 4L > Slots.Length * 3L;

    internal static bool IsLive(long slot) => KeyOf(slot) is not (EmptyKey or TombstoneKey);

    internal static uint KeyOf(long slot) => (uint)((ulong)slot >> 32);

    internal static uint ValueOf(long slot) => (uint)slot;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(uint key) => (int)((key * 0x9E3779B1u) >> _shift) & _mask; // Fibonacci hashing: consecutive addresses spread out.

    /// <summary>Prefetches the home slot of <paramref name="key"/> and its id (x86 only; elsewhere a no-op).</summary>
    /// <remarks>
    /// The pointers are taken without pinning: if the GC moved the arrays in between, the hint would fetch a stale
    /// line, which is harmless (a prefetch never faults). Indexes of any size that matters live on the large
    /// object heap, which is not compacted by default. Measured: Bindings/TableLookupBenchmarks.BindingTableBatchLookup
    /// and 'gateway bench' with and without --no-prefetch (perf/README.md).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal unsafe void Prefetch(uint key)
    {
        if (Sse.IsSupported)
        {
            int i = Home(key);
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Slots), i)));
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Ids), i)));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryGet(uint key, out uint value, out int id)
    {
        // The two sentinel keys are never bound (Bind refuses them), but an empty slot has key 0.0.0.0 and a
        // tombstone key 255.255.255.255: without this check a lookup of either "finds" a free slot (value 0,
        // a stale id), so a DHCP discover 0.0.0.0 → 255.255.255.255 was SNATed to 0.0.0.0 and counted on another
        // binding, and UnbindPublic(0.0.0.0) turned an empty slot into a tombstone and freed someone else's id.
        // key + 1 maps 0xFFFFFFFF to 0 and 0 to 1: one unsigned compare for both.
        if (key + 1u <= 1u)
        {
            value = 0;
            id = -1;
            return false;
        }
        long[] slots = Slots;
        int i = Home(key);
        while (true)
        {
            // Acquire: the id beside the slot was written before the slot (see Insert).
            long slot = Volatile.Read(ref slots[i]);
            if (KeyOf(slot) == key)
            {
                value = ValueOf(slot);
                id = Ids[i];
                return true;
            }
            if (slot == 0)
            {
                value = 0;
                id = -1;
                return false;
            }
            i = (i + 1) & _mask; // terminates: the writer keeps at least a quarter of the slots empty.
        }
    }

    internal bool TryUpsertInPlace(uint key, uint value, int id)
    {
        int i = Find(key);
        if (i < 0)
        {
            return false;
        }
        Ids[i] = id;
        Volatile.Write(ref Slots[i], Pack(key, value));
        return true;
    }

    internal void Insert(uint key, uint value, int id)
    {
        Debug.Assert(Find(key) < 0 && !NeedsRebuildBeforeInsert);
        int i = Home(key);
        while (IsLive(Slots[i]))
        {
            i = (i + 1) & _mask;
        }
        if (Slots[i] == Tombstone)
        {
            _tombstones--;
        }
        Ids[i] = id;
        // Release: readers that see the slot also see its id.
        Volatile.Write(ref Slots[i], Pack(key, value));
        Used++;
    }

    internal void Remove(uint key)
    {
        int i = Find(key);
        if (i < 0)
        {
            return;
        }
        Volatile.Write(ref Slots[i], Tombstone);
        Used--;
        _tombstones++;
    }

    internal HashIndex Rebuild()
    {
        var fresh = ForCount(Used + 1);
        for (int i = 0; i < Slots.Length; i++)
        {
            long slot = Slots[i];
            if (IsLive(slot))
            {
                fresh.Insert(KeyOf(slot), ValueOf(slot), Ids[i]);
            }
        }
        return fresh;
    }

    private int Find(uint key)
    {
        int i = Home(key);
        while (true)
        {
            long slot = Slots[i];
            if (KeyOf(slot) == key)
            {
                return i;
            }
            if (slot == 0)
            {
                return -1;
            }
            i = (i + 1) & _mask;
        }
    }

    private static long Pack(uint key, uint value) => (long)(((ulong)key << 32) | value);
}
