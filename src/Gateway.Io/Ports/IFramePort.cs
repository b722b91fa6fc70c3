namespace Gateway.Io.Ports;

/// <summary>
/// One Ethernet segment the gateway sits on: where frames come from and go to (a TAP device, a live interface),
/// as one or more queues.
/// </summary>
/// <remarks>
/// <para>Queues: the kernel spreads frames over a port's queues by flow (tun's automq / AF_PACKET fanout), and keeps
/// one flow on one queue, so order within a flow is kept when each queue has one reader. Worker <c>i</c> of the data
/// path owns queue <c>i</c> of every port: it alone receives from it, sends on it and flushes it, so the frame path
/// takes no lock. A port with fewer queues than workers (a libpcap port has one) is read by the first
/// <see cref="QueueCount"/> workers only; the others send on queue <c>i % QueueCount</c>, so the queues of such a port
/// must take <see cref="IPortQueue.Send"/> from several threads (LivePort locks; a TAP's writes are atomic per frame).</para>
/// <para>Frames that no worker sends (ARP requests from the maintenance thread, gratuitous ARPs from the control
/// plane) go through <see cref="SendControl"/>, which any thread may call at any time.</para>
/// <para>L2 duties (ARP, neighbour caches) live beside the port, in <see cref="Forwarding.LabDataPath"/>, not in it.</para>
/// </remarks>
internal interface IFramePort : IDisposable
{
    /// <summary>The interface name, for messages and stats.</summary>
    string Name { get; }

    /// <summary>Queues of this port (at least 1); one per worker when the port can have several.</summary>
    int QueueCount { get; }

    /// <summary>The largest frame a queue's <see cref="IPortQueue.Receive"/> delivers (64 KiB + headers for a GSO port); batches are sized from it.</summary>
    int MaxFrameLength { get; }

    /// <summary>
    /// True when <see cref="IPortQueue.Send"/> takes offload metadata (<see cref="VirtioNetHeader"/>): GSO super-frames
    /// and partial checksums go out as they are, and the kernel beyond segments and checksums them if it has to.
    /// False: only whole frames with finished checksums; the caller segments and finishes them first.
    /// </summary>
    bool AcceptsGso { get; }

    /// <summary>Queue <paramref name="index"/> (0 ≤ index &lt; <see cref="QueueCount"/>).</summary>
    IPortQueue Queue(int index);

    /// <summary>Sends one whole frame from any thread, at once, unbuffered (ARP, announcements; never the frame path).</summary>
    bool SendControl(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Frames the kernel dropped on their way to the gateway because a queue was not drained in time (tun's
    /// <c>tx_dropped</c>, AF_PACKET's <c>PACKET_STATISTICS</c>), cumulative since the port opened. Off the frame path:
    /// may take a system call or a thread; callers sample it (the stats writer, once a second).
    /// </summary>
    PortKernelDrops KernelDrops();
}

/// <summary>One queue of a port: a descriptor to wait on, non-blocking batch receive, buffered send.</summary>
internal interface IPortQueue
{
    /// <summary>A descriptor that <c>poll(2)</c> reports <c>POLLIN</c> on when frames wait (-1 when the port is closed).</summary>
    int PollDescriptor { get; }

    /// <summary>
    /// Takes as many ready frames as fit in <paramref name="batch"/>, each with its <see cref="VirtioNetHeader"/>
    /// (<see cref="VirtioNetHeader.None"/> on a port without offloads), without waiting. Returns how many; fewer than
    /// the batch holds means the queue is drained, and the descriptor signals again when more arrive.
    /// </summary>
    int Receive(FrameBatch batch);

    /// <summary>
    /// Sends one frame with its offload metadata (must be <see cref="VirtioNetHeader.None"/>-like, i.e. plain, unless the
    /// port <see cref="IFramePort.AcceptsGso"/>). May buffer until <see cref="Flush"/>. False when the kernel refused it
    /// (counted by the caller, not a reason to stop).
    /// </summary>
    bool Send(ReadOnlySpan<byte> frame, in VirtioNetHeader offload);

    /// <summary>Pushes out what <see cref="Send"/> buffered (one call per batch: sendmmsg, a ring kick); a no-op for unbuffered queues.</summary>
    void Flush();
}

/// <summary>Frames the kernel dropped before the gateway could take them (cumulative), when the port can tell.</summary>
/// <param name="Frames">Frames dropped so far.</param>
/// <param name="Known">False when the port has no such counter or it could not be read now.</param>
public readonly record struct PortKernelDrops(long Frames, bool Known)
{
    public static PortKernelDrops Unknown => default;
}

/// <summary>
/// A batch of received frames, each with its offload metadata; the buffers are allocated once per worker (pinned,
/// so ports may hand their addresses to the kernel) and reused for every batch.
/// </summary>
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

    /// <summary>The whole buffer of slot <paramref name="index"/>, for a port to receive into (pinned: its address is stable).</summary>
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

/// <summary>
/// A port whose queues accept frames into a batch and learn only at <see cref="IPortQueue.Flush"/> that the kernel refused
/// some (sendmmsg): it counts those itself, and the segment's statistics add them to the refusals seen at once.
/// </summary>
internal interface IBatchSendFailures
{
    /// <summary>Frames refused at flush time, summed over the queues, since the port opened.</summary>
    long SendFailures { get; }
}
