using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Cluster;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Policing;
using Gateway.DataPlane.Offload;
using Gateway.DataPlane.Translation;
using Gateway.Io.L2;
using Gateway.Io.Live;
using Gateway.Io.Ports;
using Gateway.Io.Tap;
using Gateway.Packets;

namespace Gateway.Io.Forwarding;

/// <summary>
/// The gateway as a real L2 hop between an internet segment and a VPC segment: two ports, workers feeding the
/// <see cref="Translator"/> in batches, ARP on both sides, anti-spoofing on the VPC side.
/// </summary>
/// <remarks>
/// <para>Attach: <c>using var path = LabDataPath.Start(options, bindings, knownPrivates);</c> then, whenever the control
/// plane binds a public address, <see cref="OnPublicAddressBound"/>; <see cref="Snapshot"/> for counters;
/// <see cref="Dispose"/> to stop (removes TAP devices). The binding table is read live: binding, rebinding and
/// unbinding need no call here (ARP answers follow the table at once).</para>
/// <para>Frames from the internet port addressed to the gateway's internet MAC are inbound
/// (<see cref="TranslateMode.FromInternet"/>, DNAT) and go to the instance's MAC on the VPC segment. Frames from the
/// VPC port to the gateway's VPC MAC must come from a known private address (else <see cref="DropReason.SpoofedSource"/>),
/// are outbound (<see cref="TranslateMode.FromVpc"/>, SNAT) and go to the internet, or back into the VPC when the
/// destination was another bound public address (hairpin).</para>
/// <para>Workers (<see cref="LabDataPathOptions.Workers"/>): worker <c>i</c> owns queue <c>i</c> of both ports. It waits
/// in one <c>poll(2)</c> on both queues' descriptors, drains each up to a batch, translates, and sends every frame out
/// on its own queue of the other port (or the same port for a hairpin), then flushes. Both directions of a flow come to
/// the same queue (the kernel steers a flow to the queue that last wrote it, see <see cref="TapPort"/>), so a flow
/// is handled by one worker, in order; each worker counts into its own <see cref="TrafficCounters"/> and
/// <see cref="OffloadStatistics"/>, so nothing on the frame path is shared but the lock-free binding table. One more
/// thread does ARP retries and expiry (its own counters: frames whose next hop never answered).</para>
/// <para>Offloads: a frame may come with a <see cref="VirtioNetHeader"/> (a GSO super-frame, a partial checksum). The
/// header is checked first (<see cref="OffloadCheck"/>: inconsistent is malformed), the frame translated once whatever
/// its size (a partial checksum updated as a sum), and sent on with its header; a port that takes no offloads gets it
/// segmented and finished by <see cref="PortTransmitter"/>. A super-frame waiting for ARP is held whole (see
/// <see cref="NeighbourCacheOptions.PendingSuperFrames"/>). Counters count a super-frame as one frame of its size;
/// <see cref="OffloadStatistics.GsoSegments"/> says how many wire segments those were.</para>
/// </remarks>
public sealed class LabDataPath : IDisposable
{
    private readonly LabDataPathOptions _options;
    private readonly BindingTable _bindings;
    private readonly Translator _translator;
    private readonly IPrivateAddressRegistry _knownPrivates;
    private readonly PortSegment _internet;
    private readonly PortSegment _vpc;
    private readonly Ipv4Subnet _subnet;
    private readonly uint _vpcGateway;
    private readonly uint _internetGateway; // 0: none, destinations are on-link
    private readonly Worker[] _workers;
    private readonly TrafficCounters _l2Counters;
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _running;
    /// <summary>Cluster standby: frames are taken off the ports and ignored, nothing is sent (no ARP, no forwarding).</summary>
    private volatile bool _standby;
    /// <summary>Cluster self-fencing: past its deadline the path behaves as a standby (one clock read and compare per batch).</summary>
    private readonly ForwardingAuthority _authority;
    private Exception? _fault;
    private int _disposed;

    private LabDataPath(
        LabDataPathOptions options, BindingTable bindings, IPrivateAddressRegistry knownPrivates,
        IFramePort internet, MacAddress internetMac, IFramePort vpc, MacAddress vpcMac, Policer? policer)
    {
        _options = options;
        _standby = options.StartStandby;
        _authority = options.Authority ?? ForwardingAuthority.Unlimited();
        _bindings = bindings;
        _translator = new Translator(bindings);
        _knownPrivates = knownPrivates;
        _subnet = options.VpcSubnet;
        _vpcGateway = options.VpcGateway ?? _subnet.FirstUsable;
        _internetGateway = options.InternetGateway ?? 0;

        uint vpcGateway = _vpcGateway;
        Ipv4Subnet subnet = _subnet;
        _internet = new PortSegment(
            internet,
            internetMac,
            answersFor: ip => bindings.TryGetPrivate(ip, out _, out _), // every bound public address, nothing else
            onLink: ip => ip != 0,
            options.Neighbours);
        _vpc = new PortSegment(
            vpc,
            vpcMac,
            answersFor: ip => ip == vpcGateway,
            onLink: ip => subnet.Contains(ip) && ip != subnet.Network && ip != subnet.Broadcast,
            options.Neighbours);

        int capacity = Math.Max(1024, bindings.IdLimit * 2);
        // A worker per queue of the port with the most; a libpcap port's single queue is read by worker 0 only.
        int workers = Math.Clamp(Math.Max(internet.QueueCount, vpc.QueueCount), 1, options.Workers);
        int maxFrame = Math.Max(internet.MaxFrameLength, vpc.MaxFrameLength);
        _workers = new Worker[workers];
        for (int i = 0; i < workers; i++)
        {
            var offloads = new OffloadStatistics();
            _workers[i] = new Worker(
                i,
                new TrafficCounters(capacity),
                offloads,
                i < internet.QueueCount ? internet.Queue(i) : null,
                i < vpc.QueueCount ? vpc.Queue(i) : null,
                new PortTransmitter(_internet, internet.Queue(i % internet.QueueCount), offloads),
                new PortTransmitter(_vpc, vpc.Queue(i % vpc.QueueCount), offloads),
                new FrameBatch(options.BatchSize, maxFrame),
                // Each worker its own lane of the policer (its clock and meters; the buckets are shared), and room to cut
                // a super-frame the caps let only partly through.
                policer?.CreateLane(),
                policer is null ? [] : GC.AllocateUninitializedArray<byte>(maxFrame, pinned: true));
        }
        _l2Counters = new TrafficCounters(capacity);
        _threads = new Thread[workers + 1];
        for (int i = 0; i < workers; i++)
        {
            var worker = _workers[i];
            _threads[i] = new Thread(() => Run(() => RunWorker(worker))) { IsBackground = true, Name = $"gw-worker {i}" };
        }
        _threads[workers] = new Thread(() => Run(RunMaintenance)) { IsBackground = true, Name = "gw-arp" };
    }

    /// <summary>
    /// Opens (or creates) both ports and starts forwarding.
    /// </summary>
    /// <param name="options">The ports and the VPC's addressing.</param>
    /// <param name="bindings">The live binding table (read lock-free; the control plane stays its one writer).</param>
    /// <param name="knownPrivates">The private addresses allowed as sources on the VPC port.</param>
    /// <param name="policer">The bandwidth caps to enforce and meter (null: none).</param>
    /// <exception cref="ArgumentException">Inconsistent options.</exception>
    /// <exception cref="IOException">A port could not be created or opened; nothing is left behind.</exception>
    public static LabDataPath Start(LabDataPathOptions options, BindingTable bindings, IPrivateAddressRegistry knownPrivates, Policer? policer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(bindings);
        ArgumentNullException.ThrowIfNull(knownPrivates);
        options.Validate();
        MacAddress internetMac = options.InternetMac ?? MacAddress.NewLocal();
        MacAddress vpcMac = options.VpcMac ?? MacAddress.NewLocal();
        IFramePort? internet = null, vpc = null;
        try
        {
            internet = options.InternetTap is { } internetTap
                ? TapPort.Create(internetTap, TapOptionsFor(options, options.InternetTapInterfaceMac))
                : OpenInterface(options, options.InternetInterface!, internetMac);
            vpc = options.VpcTap is { } vpcTap
                ? TapPort.Create(vpcTap, TapOptionsFor(options, options.VpcTapInterfaceMac))
                : OpenInterface(options, options.VpcInterface!, vpcMac);
            var path = new LabDataPath(options, bindings, knownPrivates, internet, internetMac, vpc, vpcMac, policer);
            path.StartThreads();
            return path;
        }
        catch
        {
            vpc?.Dispose();
            internet?.Dispose();
            throw;
        }
    }

    /// <summary>An existing interface, through AF_PACKET (a queue per worker) or libpcap, as the options say.</summary>
    private static IFramePort OpenInterface(LabDataPathOptions options, string name, MacAddress gatewayMac) =>
        options.InterfaceBackend == InterfaceBackend.Packet
            ? PacketPort.Open(name, options.Workers, options.PacketRingFrames, options.PacketQdiscBypass)
            : LivePort.Open(name, gatewayMac, options.PollMilliseconds);

    /// <summary>Starts forwarding between two ports that are already open (tests: ports in memory).</summary>
    internal static LabDataPath Start(LabDataPathOptions options, BindingTable bindings, IPrivateAddressRegistry knownPrivates, IFramePort internet, IFramePort vpc, Policer? policer = null)
    {
        options.Validate(portsGiven: true);
        var path = new LabDataPath(options, bindings, knownPrivates, internet, options.InternetMac ?? MacAddress.NewLocal(), vpc, options.VpcMac ?? MacAddress.NewLocal(), policer);
        path.StartThreads();
        return path;
    }

    private static TapOptions TapOptionsFor(LabDataPathOptions options, MacAddress? interfaceMac) => new()
    {
        Queues = options.Workers,
        Offloads = options.TapOffloads,
        TxQueueLength = options.TapTxQueueLength,
        InterfaceMac = interfaceMac,
    };

    private void StartThreads()
    {
        _running = _threads.Length;
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    /// <summary>The gateway's MAC on the internet segment (the one internet hosts learn for every public IP).</summary>
    public MacAddress InternetMac => _internet.Mac;

    /// <summary>The gateway's MAC on the VPC segment (the one instances learn for the VPC gateway address).</summary>
    public MacAddress VpcMac => _vpc.Mac;

    /// <summary>The VPC gateway address the data path answers ARP for.</summary>
    public uint VpcGateway => _vpcGateway;

    /// <summary>Interface names of the two ports.</summary>
    public string InternetPortName => _internet.Port.Name;

    public string VpcPortName => _vpc.Port.Name;

    /// <summary>ARP and ignored-frame statistics per segment.</summary>
    public L2Statistics InternetL2 => _internet.Statistics;

    public L2Statistics VpcL2 => _vpc.Statistics;

    /// <summary>Entries in the neighbour caches (resolved or pending), for stats.</summary>
    public int InternetNeighbours => _internet.Neighbours.Count;

    public int VpcNeighbours => _vpc.Neighbours.Count;

    /// <summary>Frames translated and waiting for their next hop's ARP answer (counted forwarded until they fail).</summary>
    public int PendingFrames => _internet.Neighbours.PendingFrames + _vpc.Neighbours.PendingFrames;

    /// <summary>The workers, each with its own counters, in queue order.</summary>
    public IReadOnlyList<WorkerStatistics> Workers => _workers;

    /// <summary>The counters of the ARP maintenance thread (frames held for a next hop that never answered).</summary>
    public TrafficCounters MaintenanceCounters => _l2Counters;

    /// <summary>Every counter set: the workers', then the ARP maintenance thread's. Sum them with <see cref="CounterSnapshot.Of"/>.</summary>
    public IReadOnlyList<TrafficCounters> Counters => [.. _workers.Select(w => w.Counters), _l2Counters];

    /// <summary>All counters summed: received, forwarded, dropped by reason (same names as replay).</summary>
    public CounterSnapshot Snapshot() => CounterSnapshot.Of(Counters);

    /// <summary>One binding's traffic (ids from <see cref="BindingTable.Bind"/>).</summary>
    public BindingTraffic ForBinding(int bindingId) => CounterSnapshot.ForBinding(bindingId, Counters);

    /// <summary>
    /// Bytes each worker's thread has allocated so far (sampled after each wake-up): flat while traffic flows to known
    /// neighbours, which is how the tests check that forwarding allocates nothing per frame.
    /// </summary>
    public IReadOnlyList<long> WorkerAllocatedBytes => [.. _workers.Select(w => w.AllocatedBytes)];

    /// <summary>
    /// Frames the kernel dropped before the gateway could take them, per port (tun's tx_dropped; libpcap's ps_drop):
    /// the port-overrun drops. Reads kernel counters: call it from a stats thread, not per frame.
    /// </summary>
    public (PortKernelDrops Internet, PortKernelDrops Vpc) KernelDrops() => (_internet.Port.KernelDrops(), _vpc.Port.KernelDrops());

    /// <summary>How a port is attached, for the start-up line: TAP with queues and offloads, or a libpcap interface.</summary>
    public string DescribeInternetPort() => Describe(_internet.Port);

    public string DescribeVpcPort() => Describe(_vpc.Port);

    private static string Describe(IFramePort port) => port switch
    {
        TapPort tap => string.Create(CultureInfo.InvariantCulture,
            $"TAP {tap.Name} ({tap.QueueCount} queue{(tap.QueueCount == 1 ? "" : "s")}, {(tap.Offloads ? (tap.UdpSegmentationOffload ? "offloads: csum, TSO, USO" : "offloads: csum, TSO") : "no offloads")})"),
        PacketPort packet => string.Create(CultureInfo.InvariantCulture,
            $"interface {packet.Name} (AF_PACKET, {packet.QueueCount} queue{(packet.QueueCount == 1 ? "" : "s")}, offloads: csum, GSO)"),
        _ => $"interface {port.Name} (libpcap, 1 queue, no offloads)",
    };

    /// <summary>Completes when the workers have stopped: after <see cref="Dispose"/>, or faulted when a worker failed.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// The control plane bound <paramref name="publicAddress"/> (an instance got it, an EIP moved): tell the internet
    /// segment at once with a gratuitous ARP, so neighbours update their caches instead of waiting for expiry.
    /// Call after the binding is in the table; ignored when the address is not bound (any more).
    /// </summary>
    public void OnPublicAddressBound(uint publicAddress)
    {
        if (Volatile.Read(ref _disposed) == 0 && !Silent && _bindings.TryGetPrivate(publicAddress, out _, out _))
        {
            _internet.Announce(publicAddress);
        }
    }

    // ---------------------------------------------------------------- cluster role

    /// <summary>
    /// True while another node of the cluster is the active one for these segments: this path reads its ports (so the
    /// kernel's queues never fill) but forwards nothing and answers no ARP, and sends nothing at all.
    /// </summary>
    public bool IsStandby => _standby;

    /// <summary>
    /// True while this path is the active one but its <see cref="LabDataPathOptions.Authority"/> has lapsed: it behaves
    /// exactly as a standby (self-fenced) until the cluster advances the authority again or another node takes over.
    /// </summary>
    public bool IsFenced => !_standby && !_authority.PermitsNow;

    /// <summary>Standby or fenced: read the ports, forward nothing, answer nothing, send nothing.</summary>
    private bool Silent => _standby || !_authority.PermitsNow;

    /// <summary>
    /// Becomes the active node (false) or a standby (true). On becoming active call <see cref="AnnounceTakeover"/>:
    /// the workers forward from their next batch on; a standby stops at its next batch.
    /// </summary>
    public void SetStandby(bool standby) => _standby = standby;

    /// <summary>
    /// A new active node's gratuitous ARPs (RFC 5227 §3; VRRP's on becoming master, RFC 5798 §6.4.1): every bound public
    /// address on the internet segment and the VPC gateway address on the VPC segment, from this path's MACs — the
    /// cluster's virtual MACs, the same on every node, so hosts keep their ARP entries and only the bridges relearn
    /// which port the MACs are behind.
    /// </summary>
    /// <returns>How many announcements were sent.</returns>
    public int AnnounceTakeover()
    {
        if (Volatile.Read(ref _disposed) != 0 || Silent)
        {
            return 0;
        }
        int sent = 0;
        foreach (var binding in _bindings.Snapshot())
        {
            _internet.Announce(binding.PublicAddress);
            sent++;
        }
        _vpc.Announce(_vpcGateway);
        return sent + 1;
    }

    // ---------------------------------------------------------------- workers

    private void Run(Action body)
    {
        try
        {
            body();
        }
        catch (Exception e)
        {
            // A bug, not a per-packet condition: stop everything and surface it through Completion.
            Interlocked.CompareExchange(ref _fault, e, null);
            _stop.Set();
        }
        finally
        {
            if (Interlocked.Decrement(ref _running) == 0)
            {
                if (_fault is { } fault)
                {
                    _completion.TrySetException(fault);
                }
                else
                {
                    _completion.TrySetResult();
                }
            }
        }
    }

    /// <summary>
    /// One worker: look at its queues of both ports, drain each up to a batch, translate and send, flush; wait in
    /// poll(2) only when both are empty. Frames found without waiting count against the realtime budget
    /// (<see cref="WorkerScheduling"/>).
    /// </summary>
    private unsafe void RunWorker(Worker w)
    {
        var fds = stackalloc LibC.PollFd[2];
        w.SampleAllocations(); // live from the start: a worker no flow reaches still shows what it allocated
        var scheduling = WorkerScheduling.ForCurrentThread(_options.WorkerPriority);
        w.Scheduling = scheduling;
        while (!_stop.IsSet)
        {
            int count = 0, internetAt = -1, vpcAt = -1;
            if (w.InternetIn is { PollDescriptor: >= 0 } internetIn)
            {
                internetAt = count;
                fds[count++] = new LibC.PollFd { Fd = internetIn.PollDescriptor, Events = LibC.PollIn };
            }
            if (w.VpcIn is { PollDescriptor: >= 0 } vpcIn)
            {
                vpcAt = count;
                fds[count++] = new LibC.PollFd { Fd = vpcIn.PollDescriptor, Events = LibC.PollIn };
            }
            if (count == 0)
            {
                _stop.Wait(_options.PollMilliseconds); // ports closed under us: wait for the stop
                continue;
            }
            // First look without waiting: frames already there mean the worker has not caught up (busy, counted
            // against its realtime budget); none means it is about to sleep (idle: it may be realtime again).
            int ready = LibC.Poll(fds, (nuint)count, 0);
            if (ready == 0)
            {
                scheduling.Idle();
                ready = LibC.Poll(fds, (nuint)count, _options.PollMilliseconds);
                if (ready <= 0)
                {
                    continue; // timeout or EINTR: check for shutdown and come back
                }
            }
            else if (ready > 0)
            {
                scheduling.Busy();
            }
            else
            {
                continue; // EINTR
            }
            w.Wakeups++;
            bool failed = false;
            long now = NeighbourCache.Now;
            if (internetAt >= 0)
            {
                short events = fds[internetAt].ReturnedEvents;
                failed |= (events & (LibC.PollErr | LibC.PollHup | LibC.PollNval)) != 0 && (events & LibC.PollIn) == 0;
                if ((events & LibC.PollIn) != 0)
                {
                    ReceiveBatch(w, w.InternetIn!, fromInternet: true, now);
                }
            }
            if (vpcAt >= 0)
            {
                short events = fds[vpcAt].ReturnedEvents;
                failed |= (events & (LibC.PollErr | LibC.PollHup | LibC.PollNval)) != 0 && (events & LibC.PollIn) == 0;
                if ((events & LibC.PollIn) != 0)
                {
                    ReceiveBatch(w, w.VpcIn!, fromInternet: false, now);
                }
            }
            w.ToInternet.Queue.Flush();
            w.ToVpc.Queue.Flush();
            w.SampleAllocations();
            if (failed)
            {
                // POLLERR/POLLHUP without data: a device went away under us (its namespace was deleted). Do not spin.
                _stop.Wait(_options.PollMilliseconds);
            }
        }
    }

    /// <summary>Takes one batch from <paramref name="queue"/> and handles it.</summary>
    private void ReceiveBatch(Worker w, IPortQueue queue, bool fromInternet, long now)
    {
        FrameBatch batch = w.Batch;
        int count = queue.Receive(batch);
        if (count == 0)
        {
            return;
        }
        w.Batches++;
        if (Silent)
        {
            // Cluster standby, or active but fenced (its authority lapsed): the queue is drained (so the kernel's queues
            // never fill) and nothing is forwarded or sent. One clock read and compare per batch.
            IgnoreAsStandby(fromInternet ? _internet : _vpc, count);
            return;
        }
        if (w.Lane is { } lane)
        {
            lane.Now = Policer.MonotonicTicks(); // once per batch: the frames of a batch arrived together
        }
        for (int i = 0; i < count; i++)
        {
            if (fromInternet)
            {
                FromInternet(w, batch.Frame(i), ref batch.Offload(i), batch.WireLength(i), now);
            }
            else
            {
                FromVpc(w, batch.Frame(i), ref batch.Offload(i), batch.WireLength(i), now);
            }
        }
    }

    private void RunMaintenance()
    {
        int interval = Math.Clamp(_options.Neighbours.RetryMilliseconds / 4, 10, 250);
        while (!_stop.Wait(interval))
        {
            if (Silent)
            {
                continue; // a standby sends nothing, not even ARP retries
            }
            long now = NeighbourCache.Now;
            _internet.Neighbours.Maintain(now, _l2Counters);
            _vpc.Neighbours.Maintain(now, _l2Counters);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void IgnoreAsStandby(PortSegment segment, int count)
    {
        for (int i = 0; i < count; i++)
        {
            segment.Ignored();
        }
    }

    /// <summary>Inbound: DNAT, then to the instance's MAC.</summary>
    private void FromInternet(Worker w, Span<byte> frame, ref VirtioNetHeader offload, int wireLength, long now)
    {
        if (!Admit(_internet, frame, now, w.ToInternet) || !CheckOffload(w, frame, offload, wireLength, out bool partial))
        {
            return;
        }
        if (_translator.TranslateEthernet(frame, wireLength, w.Counters, TranslateMode.FromInternet, partial, out BindingIds ids, offload.IsGso ? null : w.Lane) != DropReason.None)
        {
            return;
        }
        uint destination = ReadAddress(frame, Ipv4Offset(frame), Ipv4.DestinationOffset);
        if (offload.IsGso && w.Lane is not null && !AdmitSuperFrame(w, frame, wireLength, ids, out int admitted))
        {
            for (int i = 0; i < admitted; i++)
            {
                int length = Segmenter.WriteSegment(frame, w.Gso, i, w.Segments);
                DeliverIntoVpc(w, w.Segments.AsSpan(0, length), VirtioNetHeader.None, length, destination, now);
            }
            return;
        }
        DeliverIntoVpc(w, frame, offload, wireLength, destination, now);
    }

    /// <summary>Outbound: anti-spoofing, SNAT, then to the internet (or back into the VPC for a hairpin).</summary>
    private void FromVpc(Worker w, Span<byte> frame, ref VirtioNetHeader offload, int wireLength, long now)
    {
        if (!Admit(_vpc, frame, now, w.ToVpc))
        {
            return;
        }
        TrafficCounters counters = w.Counters;
        int l3 = Ipv4Offset(frame);
        uint destination = 0;
        if (l3 > 0)
        {
            uint source = BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(l3 + Ipv4.SourceOffset));
            destination = BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(l3 + Ipv4.DestinationOffset));
            if (!_knownPrivates.IsKnownPrivate(source))
            {
                Reject(counters, DropReason.SpoofedSource, wireLength);
                return;
            }
            if (_subnet.Contains(destination))
            {
                // Instances reach each other on-link; a VPC-internal destination sent to the gateway has no binding
                // that could take it anywhere, and must not leak onto the internet segment.
                Reject(counters, DropReason.NoBinding, wireLength);
                return;
            }
        }
        if (!CheckOffload(w, frame, offload, wireLength, out bool partial))
        {
            return;
        }
        // Not IPv4 or too short to read: the translator says why (not-ipv4, malformed) and counts it.
        if (_translator.TranslateEthernet(frame, wireLength, counters, TranslateMode.FromVpc, partial, out BindingIds ids, offload.IsGso ? null : w.Lane) != DropReason.None)
        {
            return;
        }
        // Forwarded, so the frame is IPv4 with a whole header and l3 is where it starts (translation keeps the L2 layout).
        uint newDestination = ReadAddress(frame, l3, Ipv4.DestinationOffset);
        uint publicSource = ReadAddress(frame, l3, Ipv4.SourceOffset);
        if (offload.IsGso && w.Lane is not null && !AdmitSuperFrame(w, frame, wireLength, ids, out int admitted))
        {
            for (int i = 0; i < admitted; i++)
            {
                int length = Segmenter.WriteSegment(frame, w.Gso, i, w.Segments);
                ToInternetOrHairpin(w, w.Segments.AsSpan(0, length), VirtioNetHeader.None, length, destination, newDestination, publicSource, now);
            }
            return;
        }
        ToInternetOrHairpin(w, frame, offload, wireLength, destination, newDestination, publicSource, now);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ToInternetOrHairpin(Worker w, Span<byte> frame, in VirtioNetHeader offload, int wireLength, uint destination, uint newDestination, uint publicSource, long now)
    {
        if (newDestination != destination)
        {
            DeliverIntoVpc(w, frame, offload, wireLength, newDestination, now); // hairpin: DNAT happened too
            return;
        }
        _internet.Deliver(frame, offload, wireLength, _internetGateway != 0 ? _internetGateway : newDestination, publicSource, now, w.Counters, w.ToInternet);
    }

    /// <summary>
    /// Charges a translated GSO super-frame to the bandwidth caps as the segments it becomes (issue 11: a packet counts
    /// its IPv4 total length, and a super-frame is the packets the far side will see). True: every segment fits, forward
    /// it whole. False: only the first <paramref name="admitted"/> fit (0: none, the frame is counted as
    /// bandwidth-exceeded); the caller cuts those out of it (<see cref="Worker.Gso"/>) and forwards them alone.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool AdmitSuperFrame(Worker w, ReadOnlySpan<byte> frame, int wireLength, BindingIds ids, out int admitted)
    {
        PolicerLane lane = w.Lane!;
        if (!w.GsoParsed) // its layout was read on arrival (CheckOffloadSlow)
        {
            // Not cut the way its header says (checked on arrival, so it goes out as the one packet it is).
            int l3 = Translator.FindIpv4(frame, out _);
            admitted = lane.Admit(ids.Outbound, ids.Inbound, BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 + Ipv4.TotalLengthOffset))) ? 1 : 0;
            return admitted == 1 || Unadmitted(w, wireLength);
        }
        ref readonly GsoLayout layout = ref w.Gso;
        int segments = layout.SegmentCount;
        admitted = lane.AdmitSegments(ids.Outbound, ids.Inbound, layout.HeaderLength - layout.IpOffset, layout.SegmentSize, segments, layout.SegmentPayload(segments - 1));
        if (admitted == segments)
        {
            return true;
        }
        if (admitted == 0)
        {
            Unadmitted(w, wireLength);
        }
        return false;
    }

    /// <summary>A super-frame the caps let nothing of through: counted as one frame dropped as bandwidth-exceeded.</summary>
    private static bool Unadmitted(Worker w, int wireLength)
    {
        w.Counters.Undelivered(DropReason.BandwidthExceeded, wireLength);
        return false;
    }

    /// <summary>
    /// The frame's offload metadata, checked before anything acts on it (<see cref="OffloadCheck"/>): inconsistent is a
    /// counted malformed drop. A GSO super-frame is noted with the segments it stands for.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool CheckOffload(Worker w, ReadOnlySpan<byte> frame, in VirtioNetHeader offload, int wireLength, out bool partial)
    {
        partial = false;
        if (offload.Flags == 0 && offload.GsoType == 0)
        {
            return offload.HeaderLength <= frame.Length || Malformed(w, wireLength);
        }
        return CheckOffloadSlow(w, frame, offload, wireLength, out partial);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool CheckOffloadSlow(Worker w, ReadOnlySpan<byte> frame, in VirtioNetHeader offload, int wireLength, out bool partial)
    {
        if (OffloadCheck.Validate(frame, offload, out partial) != DropReason.None)
        {
            return Malformed(w, wireLength);
        }
        if (offload.IsGso)
        {
            var kind = offload.GsoKind == VirtioNetHeader.GsoUdpL4 ? GsoKind.Udp : GsoKind.Tcp;
            // Kept for the caps (AdmitSuperFrame): translation rewrites addresses only, so the layout stays true.
            w.GsoParsed = Segmenter.TryParse(frame, kind, offload.GsoSize, out w.Gso) == DropReason.None;
            w.Offloads.GsoReceived(w.GsoParsed ? w.Gso.SegmentCount : 1);
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool Malformed(Worker w, int wireLength)
    {
        Reject(w.Counters, DropReason.Malformed, wireLength);
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void DeliverIntoVpc(Worker w, Span<byte> frame, in VirtioNetHeader offload, int wireLength, uint privateDestination, long now)
    {
        if (!_subnet.Contains(privateDestination))
        {
            // Bound to a private address outside this VPC's subnet: no neighbour here can have it.
            w.Counters.Undelivered(DropReason.NeighbourUnresolved, wireLength);
            return;
        }
        _vpc.Deliver(frame, offload, wireLength, privateDestination, _vpcGateway, now, w.Counters, w.ToVpc);
    }

    private static void Reject(TrafficCounters counters, DropReason reason, int wireLength)
    {
        counters.Received(wireLength);
        counters.Dropped(reason, wireLength);
    }

    /// <summary>
    /// L2 admission: ARP goes to the segment's ARP handling; frames unicast to another MAC, and group frames other
    /// than ARP (IPv6 neighbour discovery, LLMNR, ...), are not the gateway's. The rest is for the translator.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Admit(PortSegment segment, Span<byte> frame, long now, PortTransmitter pending)
    {
        if (frame.Length < Ethernet.HeaderLength)
        {
            return true; // the translator counts it malformed
        }
        var destination = MacAddress.Read(frame);
        if (destination != segment.Mac && !destination.IsGroup)
        {
            segment.Ignored();
            return false;
        }
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(Ethernet.TypeOffset)) == Ethernet.TypeArp)
        {
            HandleArp(segment, frame, now, pending);
            return false;
        }
        if (destination.IsGroup)
        {
            segment.Ignored();
            return false;
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void HandleArp(PortSegment segment, Span<byte> frame, long now, PortTransmitter pending)
    {
        if (Arp.TryParse(frame, out ArpMessage message))
        {
            segment.HandleArp(message, now, pending);
        }
        else
        {
            segment.Ignored();
        }
    }

    /// <summary>Offset of the IPv4 header (after the VLAN tags the translator accepts) when the frame is IPv4 with a whole minimal header; else -1.</summary>
    private static int Ipv4Offset(ReadOnlySpan<byte> frame)
    {
        int l3 = Translator.FindIpv4(frame, out DropReason reason);
        return reason == DropReason.None && l3 + Ipv4.MinHeaderLength <= frame.Length ? l3 : -1;
    }

    /// <summary>An address of a frame the translator has just forwarded (so it is IPv4 with a whole header at <paramref name="l3"/>).</summary>
    private static uint ReadAddress(ReadOnlySpan<byte> frame, int l3, int field) =>
        BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(l3 + field));

    /// <summary>Stops the workers, drops what still waits for ARP (counted), and closes the ports (TAP devices disappear).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stop.Set();
        foreach (var thread in _threads)
        {
            if (thread.IsAlive && thread != Thread.CurrentThread)
            {
                thread.Join();
            }
        }
        _internet.Neighbours.Clear(_l2Counters);
        _vpc.Neighbours.Clear(_l2Counters);
        _internet.Port.Dispose();
        _vpc.Port.Dispose();
        _stop.Dispose();
    }

    /// <summary>One worker's state: its queues, transmitters, batch and counters. Touched by its own thread only, read by anyone.</summary>
    private sealed class Worker(
        int index, TrafficCounters counters, OffloadStatistics offloads, IPortQueue? internetIn, IPortQueue? vpcIn,
        PortTransmitter toInternet, PortTransmitter toVpc, FrameBatch batch, PolicerLane? lane, byte[] segments)
        : WorkerStatistics(index, counters, offloads, internetIn is not null, vpcIn is not null)
    {
        /// <summary>This worker's lane of the bandwidth policer (null: no caps, no metering).</summary>
        public readonly PolicerLane? Lane = lane;
        /// <summary>Where a super-frame's admitted segments are cut when the caps let only part of it through.</summary>
        public readonly byte[] Segments = segments;
        /// <summary>The layout of the GSO super-frame in hand, as read on arrival, and whether it could be read.</summary>
        public GsoLayout Gso;
        public bool GsoParsed;
        public readonly IPortQueue? InternetIn = internetIn;
        public readonly IPortQueue? VpcIn = vpcIn;
        public readonly PortTransmitter ToInternet = toInternet;
        public readonly PortTransmitter ToVpc = toVpc;
        public readonly FrameBatch Batch = batch;
    }
}

/// <summary>
/// What one worker of a <see cref="LabDataPath"/> did: its traffic counters (which, with the other workers' and the ARP
/// maintenance counters, add up to the totals), its offload work, its wake-ups and batches, and the bytes its thread
/// allocated. Written by the worker (plain stores), read by anyone at any time.
/// </summary>
public class WorkerStatistics
{
    private long _wakeups;
    private long _batches;
    private long _allocatedBytes;

    internal WorkerStatistics(int index, TrafficCounters counters, OffloadStatistics offloads, bool readsInternet, bool readsVpc)
    {
        Index = index;
        Counters = counters;
        Offloads = offloads;
        ReadsInternet = readsInternet;
        ReadsVpc = readsVpc;
    }

    /// <summary>The queue index this worker owns on every port.</summary>
    public int Index { get; }

    public TrafficCounters Counters { get; }

    public OffloadStatistics Offloads { get; }

    /// <summary>False when the internet port has fewer queues than this worker's index (a libpcap port: worker 0 only).</summary>
    public bool ReadsInternet { get; }

    public bool ReadsVpc { get; }

    /// <summary>Times poll(2) woke the worker with frames or an error.</summary>
    public long Wakeups
    {
        get => Volatile.Read(ref _wakeups);
        internal set => _wakeups = value;
    }

    /// <summary>Non-empty batches taken from a queue.</summary>
    public long Batches
    {
        get => Volatile.Read(ref _batches);
        internal set => _batches = value;
    }

    /// <summary>Bytes the worker's thread has allocated since it started (sampled after each wake-up).</summary>
    public long AllocatedBytes => Volatile.Read(ref _allocatedBytes);

    /// <summary>How the worker thread is scheduled ("realtime (SCHED_FIFO 10)", "nice -10", "normal"), once it runs.</summary>
    public string SchedulingPolicy => Volatile.Read(ref _scheduling)?.Policy ?? "starting";

    /// <summary>Times the worker ran its realtime budget out (frames waiting every time it looked, for 2 ms) and shared the CPU.</summary>
    public long BudgetExhausted => Volatile.Read(ref _scheduling)?.BudgetExhausted ?? 0;

    private WorkerScheduling? _scheduling;

    internal WorkerScheduling? Scheduling
    {
        set => Volatile.Write(ref _scheduling, value);
    }

    internal void SampleAllocations() => Volatile.Write(ref _allocatedBytes, GC.GetAllocatedBytesForCurrentThread());
}
