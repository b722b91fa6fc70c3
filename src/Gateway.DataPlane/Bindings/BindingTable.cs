using System.Runtime.CompilerServices;
using Gateway.DataPlane.Memory;
using Gateway.Packets;

namespace Gateway.DataPlane.Bindings;

/// <summary>
/// The 1:1 NAT mapping: public→private for inbound frames and private→public for outbound ones.
/// </summary>
/// <remarks>
/// <para>Readers (packet workers, any number of threads) never lock and never allocate. Each direction is a
/// <see cref="BindingIndex"/>: one-cache-line buckets of five entries, each entry a 64-bit word <c>key:32 | value:32</c>
/// read with one atomic load (so a reader always sees a binding whole: the old one or the new one, never half of
/// each), with the binding's id beside it in the same line. 16 bytes per binding per direction at the 80 % load the
/// index is sized for; the bit layout is drawn over <see cref="BindingIndex"/>.</para>
/// <para>One writer at a time: the writer methods take a lock against each other (the control plane
/// already serialises changes; the lock only guards against misuse). Insert, remove and rebind touch
/// a constant number of slots. Removal leaves a tombstone so that a concurrent reader's probe is never
/// cut short; when live slots plus tombstones pass 90 % of the slots the writer builds a fresh index
/// off to the side and publishes it with one reference store (amortised O(1)). The replaced index's memory
/// is freed by the garbage collector once no reader holds it.</para>
/// <para>Each binding also has a small integer id (dense, reused oldest-freed-first) that names its
/// place in per-binding state outside the index: the per-worker counters (<see cref="Counters.TrafficCounters"/>)
/// and anything else keyed by binding (a policer). A reader finds it in the entry's cache line.</para>
/// </remarks>
public sealed class BindingTable
{
    private const int IdQuarantine = 64;

    private readonly Lock _writerLock = new();
    private BindingIndex _byPublic;
    private BindingIndex _byPrivate;

    // Writer-only state: the binding behind each id, for enumeration and counter reports.
    private long[] _bindingsById;
    private readonly Queue<int> _freeIds = new();
    private int _nextId;

    /// <summary>Creates a table sized so that <paramref name="expectedBindings"/> fit without a rebuild.</summary>
    public BindingTable(int expectedBindings = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expectedBindings);
        _byPublic = BindingIndex.ForCount(expectedBindings);
        _byPrivate = BindingIndex.ForCount(expectedBindings);
        _bindingsById = new long[Math.Max(16, expectedBindings)];
    }

    /// <summary>Number of bindings.</summary>
    public int Count => Volatile.Read(ref _byPublic).Used;

    /// <summary>One past the highest binding id handed out so far (the size per-binding counters need).</summary>
    public int IdLimit => Volatile.Read(ref _nextId);

    /// <summary>Bytes held by the table: both indexes and the writer's id map.</summary>
    public long MemoryBytes
    {
        get
        {
            lock (_writerLock)
            {
                return _byPublic.MemoryBytes + _byPrivate.MemoryBytes + IdMapBytes;
            }
        }
    }

    /// <summary>Bytes of the two indexes the frame path reads (the bytes-per-binding-per-direction figure).</summary>
    public long IndexBytes
    {
        get
        {
            lock (_writerLock)
            {
                return _byPublic.MemoryBytes + _byPrivate.MemoryBytes;
            }
        }
    }

    /// <summary>Bytes of the writer's id → binding map (per-binding state outside the index; readers never touch it).</summary>
    public long IdMapBytes => (long)Volatile.Read(ref _bindingsById).Length * sizeof(long);

    /// <summary>Which pages back the indexes, e.g. "2 MiB pages (transparent; 30 of 30 MiB on huge pages)".</summary>
    public string IndexPages
    {
        get
        {
            lock (_writerLock)
            {
                string inbound = _byPublic.Memory.Describe(), outbound = _byPrivate.Memory.Describe();
                return inbound == outbound ? inbound : $"inbound {inbound}; outbound {outbound}";
            }
        }
    }

    /// <summary>The pages of the inbound index (both directions are allocated alike).</summary>
    public PageKind IndexPageKind => Volatile.Read(ref _byPublic).Memory.Kind;

    /// <summary>The inbound index as it stands (readers that look up many frames read it once per batch).</summary>
    internal BindingIndex InboundIndex => Volatile.Read(ref _byPublic);

    /// <summary>The outbound index as it stands.</summary>
    internal BindingIndex OutboundIndex => Volatile.Read(ref _byPrivate);

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
            Volatile.Write(ref _byPublic, BindingIndex.ForCount(0));
            Volatile.Write(ref _byPrivate, BindingIndex.ForCount(0));
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
            foreach (var (key, value, _) in _byPublic.Entries())
            {
                result.Add(new Binding(key, value));
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
        if (address is BindingIndex.EmptyKey or BindingIndex.TombstoneKey)
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
            var grown = new long[_bindingsById.Length * 2];
            _bindingsById.CopyTo(grown, 0);
            Volatile.Write(ref _bindingsById, grown);
        }
        _bindingsById[id] = ((long)publicAddress << 32) | privateAddress;
        return id;
    }

    private void FreeId(int id)
    {
        _bindingsById[id] = 0;
        _freeIds.Enqueue(id);
    }

    private static void Upsert(ref BindingIndex index, uint key, uint value, int id)
    {
        if (!index.TryUpsertInPlace(key, value, id))
        {
            if (index.NeedsRebuildBeforeInsert)
            {
                // Built off to the side, published with one release store; readers holding the old
                // index finish their probe on it unchanged (it is never written again). Grown by half when the
                // live entries alone passed the target load, otherwise rebuilt at the target load (tombstones dropped).
                long live = index.Used + 1L;
                long count = live > index.Slots * BindingIndex.TargetLoad ? live * 3 / 2 : live;
                Volatile.Write(ref index, index.Rebuild(count));
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
