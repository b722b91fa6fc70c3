namespace Gateway.Io.Ports;

/// <summary>
/// One Ethernet segment the gateway sits on: where frames come from and go to (a TAP device, a live interface).
/// </summary>
/// <remarks>
/// One thread receives (the port's worker); any thread may send (the other port's worker forwards into it,
/// the neighbour maintenance sends ARP requests). L2 duties (ARP, neighbour caches) live beside the port,
/// in <see cref="Forwarding.LabDataPath"/>, not in it.
/// </remarks>
internal interface IFramePort : IDisposable
{
    /// <summary>The interface name, for messages and stats.</summary>
    string Name { get; }

    /// <summary>The largest frame <see cref="Receive"/> delivers; batches are sized from it.</summary>
    int MaxFrameLength { get; }

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> for frames, then takes as many as are ready, up to the
    /// batch's capacity, without waiting again. Returns the number of frames (0 on timeout).
    /// </summary>
    int Receive(FrameBatch batch, int timeoutMilliseconds);

    /// <summary>Sends one whole Ethernet frame. False when the kernel refused it (counted by the caller).</summary>
    bool Send(ReadOnlySpan<byte> frame);
}

/// <summary>A batch of received frames, its buffers allocated once per worker and reused for every batch.</summary>
internal sealed class FrameBatch
{
    private readonly byte[][] _buffers;
    private readonly int[] _lengths;
    private readonly int[] _wireLengths;
    private readonly VirtioNetHeader[] _offloads;

    public FrameBatch(int capacity, int maxFrameLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameLength, 64);
        _buffers = new byte[capacity][];
        for (int i = 0; i < capacity; i++)
        {
            _buffers[i] = GC.AllocateUninitializedArray<byte>(maxFrameLength, pinned: true);
        }
        _lengths = new int[capacity];
        _wireLengths = new int[capacity];
        _offloads = GC.AllocateArray<VirtioNetHeader>(capacity, pinned: true);
    }

    public int Capacity => _buffers.Length;

    public int MaxFrameLength => _buffers[0].Length;

    /// <summary>The whole buffer of slot <paramref name="index"/>, for a port to receive into.</summary>
    public Span<byte> Slot(int index) => _buffers[index];

    /// <summary>Records that slot <paramref name="index"/> holds a frame of <paramref name="length"/> captured bytes.</summary>
    public void SetLength(int index, int length, int wireLength)
    {
        _lengths[index] = length;
        _wireLengths[index] = wireLength;
    }

    /// <summary>The offload metadata of slot <paramref name="index"/> (a port writes it; <see cref="VirtioNetHeader.None"/> when it has none).</summary>
    public ref VirtioNetHeader Offload(int index) => ref _offloads[index];

    /// <summary>The frame in slot <paramref name="index"/>, as captured.</summary>
    public Span<byte> Frame(int index) => _buffers[index].AsSpan(0, _lengths[index]);

    /// <summary>The frame's length on the wire (more than its captured bytes only when a capture cut it).</summary>
    public int WireLength(int index) => _wireLengths[index];
}
