using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Cluster;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;
using Gateway.Io.L2;
using Gateway.Io.Live;
using Gateway.Io.Ports;
using Gateway.Io.Tap;
using Gateway.Packets;

namespace Gateway.Io.Forwarding;

/// <summary>
/// The gateway as a real L2 hop between an internet segment and a VPC segment: two ports, a worker per port
/// feeding the <see cref="Translator"/> in batches, ARP on both sides, anti-spoofing on the VPC side.
/// </summary>
/// <remarks>
/// <para>Attach: <c>using var path = LabDataPath.Start(options, bindings, knownPrivates);</c> then, whenever the control
/// plane binds a public address, <see cref="OnPublicAddressBound"/>; <see cref="Snapshot"/> for counters;
/// <see cref="Dispose"/> to stop (removes TAP devices). The binding table is read live: binding, rebinding and
/// unbinding need no call here (ARP answers follow the table at once).</para>
/// <para>Internet worker: frames to the gateway's internet MAC are inbound (<see cref="TranslateMode.FromInternet"/>,
/// DNAT) and go to the instance's MAC on the VPC segment. VPC worker: frames to the gateway's VPC MAC must come
/// from a known private address (else <see cref="DropReason.SpoofedSource"/>), are outbound
/// (<see cref="TranslateMode.FromVpc"/>, SNAT) and go to the internet, or back into the VPC when the destination
/// was another bound public address (hairpin).</para>
/// <para>Threads: one receiving worker per port (each with its own <see cref="TrafficCounters"/>), one
/// maintenance thread for ARP retries and expiry (its own counters: frames whose next hop never answered).</para>
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
    private readonly TrafficCounters _internetCounters;
    private readonly TrafficCounters _vpcCounters;
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
    private long _internetWorkerAllocatedBytes;
    private long _vpcWorkerAllocatedBytes;

    private LabDataPath(
        LabDataPathOptions options, BindingTable bindings, IPrivateAddressRegistry knownPrivates,
        IFramePort internet, MacAddress internetMac, IFramePort vpc, MacAddress vpcMac)
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
        _internetCounters = new TrafficCounters(capacity);
        _vpcCounters = new TrafficCounters(capacity);
        _l2Counters = new TrafficCounters(capacity);
        _threads =
        [
            new Thread(() => Run(RunInternet)) { IsBackground = true, Name = $"gw-rx {internet.Name}" },
            new Thread(() => Run(RunVpc)) { IsBackground = true, Name = $"gw-rx {vpc.Name}" },
            new Thread(() => Run(RunMaintenance)) { IsBackground = true, Name = "gw-arp" },
        ];
    }

    /// <summary>
    /// Opens (or creates) both ports and starts forwarding.
    /// </summary>
    /// <param name="options">The ports and the VPC's addressing.</param>
    /// <param name="bindings">The live binding table (read lock-free; the control plane stays its one writer).</param>
    /// <param name="knownPrivates">The private addresses allowed as sources on the VPC port.</param>
    /// <exception cref="ArgumentException">Inconsistent options.</exception>
    /// <exception cref="IOException">A port could not be created or opened; nothing is left behind.</exception>
    public static LabDataPath Start(LabDataPathOptions options, BindingTable bindings, IPrivateAddressRegistry knownPrivates)
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
                ? TapPort.Create(internetTap, options.InternetTapInterfaceMac)
                : LivePort.Open(options.InternetInterface!, internetMac, options.PollMilliseconds);
            vpc = options.VpcTap is { } vpcTap
                ? TapPort.Create(vpcTap, options.VpcTapInterfaceMac)
                : LivePort.Open(options.VpcInterface!, vpcMac, options.PollMilliseconds);
            var path = new LabDataPath(options, bindings, knownPrivates, internet, internetMac, vpc, vpcMac);
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

    /// <summary>The workers' counters: internet worker, VPC worker, ARP maintenance. Sum them with <see cref="CounterSnapshot.Of"/>.</summary>
    public IReadOnlyList<TrafficCounters> Counters => [_internetCounters, _vpcCounters, _l2Counters];

    /// <summary>All counters summed: received, forwarded, dropped by reason (same names as replay).</summary>
    public CounterSnapshot Snapshot() => CounterSnapshot.Of(_internetCounters, _vpcCounters, _l2Counters);

    /// <summary>One binding's traffic (ids from <see cref="BindingTable.Bind"/>).</summary>
    public BindingTraffic ForBinding(int bindingId) => CounterSnapshot.ForBinding(bindingId, _internetCounters, _vpcCounters, _l2Counters);

    /// <summary>
    /// Bytes the internet and VPC workers' threads have allocated so far (sampled after each batch): flat while traffic
    /// flows to known neighbours, which is how the tests check that forwarding allocates nothing per frame.
    /// </summary>
    internal (long Internet, long Vpc) WorkerAllocatedBytes =>
        (Volatile.Read(ref _internetWorkerAllocatedBytes), Volatile.Read(ref _vpcWorkerAllocatedBytes));

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

    private void RunInternet()
    {
        var batch = new FrameBatch(_options.BatchSize, _internet.Port.MaxFrameLength);
        while (!_stop.IsSet)
        {
            int count = _internet.Port.Receive(batch, _options.PollMilliseconds);
            if (Silent)
            {
                IgnoreAsStandby(_internet, count);
                continue;
            }
            long now = NeighbourCache.Now;
            for (int i = 0; i < count; i++)
            {
                FromInternet(batch.Frame(i), batch.WireLength(i), now);
            }
            Volatile.Write(ref _internetWorkerAllocatedBytes, GC.GetAllocatedBytesForCurrentThread());
        }
    }

    private void RunVpc()
    {
        var batch = new FrameBatch(_options.BatchSize, _vpc.Port.MaxFrameLength);
        while (!_stop.IsSet)
        {
            int count = _vpc.Port.Receive(batch, _options.PollMilliseconds);
            if (Silent)
            {
                IgnoreAsStandby(_vpc, count);
                continue;
            }
            long now = NeighbourCache.Now;
            for (int i = 0; i < count; i++)
            {
                FromVpc(batch.Frame(i), batch.WireLength(i), now);
            }
            Volatile.Write(ref _vpcWorkerAllocatedBytes, GC.GetAllocatedBytesForCurrentThread());
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
    private void FromInternet(Span<byte> frame, int wireLength, long now)
    {
        if (!Admit(_internet, frame, now))
        {
            return;
        }
        if (_translator.TranslateEthernet(frame, wireLength, _internetCounters, TranslateMode.FromInternet) != DropReason.None)
        {
            return;
        }
        uint destination = ReadAddress(frame, Ipv4Offset(frame), Ipv4.DestinationOffset);
        DeliverIntoVpc(frame, wireLength, destination, now, _internetCounters);
    }

    /// <summary>Outbound: anti-spoofing, SNAT, then to the internet (or back into the VPC for a hairpin).</summary>
    private void FromVpc(Span<byte> frame, int wireLength, long now)
    {
        if (!Admit(_vpc, frame, now))
        {
            return;
        }
        int l3 = Ipv4Offset(frame);
        uint destination = 0;
        if (l3 > 0)
        {
            uint source = BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(l3 + Ipv4.SourceOffset));
            destination = BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(l3 + Ipv4.DestinationOffset));
            if (!_knownPrivates.IsKnownPrivate(source))
            {
                Reject(_vpcCounters, DropReason.SpoofedSource, wireLength);
                return;
            }
            if (_subnet.Contains(destination))
            {
                // Instances reach each other on-link; a VPC-internal destination sent to the gateway has no binding
                // that could take it anywhere, and must not leak onto the internet segment.
                Reject(_vpcCounters, DropReason.NoBinding, wireLength);
                return;
            }
        }
        // Not IPv4 or too short to read: the translator says why (not-ipv4, malformed) and counts it.
        if (_translator.TranslateEthernet(frame, wireLength, _vpcCounters, TranslateMode.FromVpc) != DropReason.None)
        {
            return;
        }
        // Forwarded, so the frame is IPv4 with a whole header and l3 is where it starts (translation keeps the L2 layout).
        uint newDestination = ReadAddress(frame, l3, Ipv4.DestinationOffset);
        if (newDestination != destination)
        {
            DeliverIntoVpc(frame, wireLength, newDestination, now, _vpcCounters); // hairpin: DNAT happened too
            return;
        }
        uint publicSource = ReadAddress(frame, l3, Ipv4.SourceOffset);
        _internet.Deliver(frame, wireLength, _internetGateway != 0 ? _internetGateway : newDestination, publicSource, now, _vpcCounters);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void DeliverIntoVpc(Span<byte> frame, int wireLength, uint privateDestination, long now, TrafficCounters counters)
    {
        if (!_subnet.Contains(privateDestination))
        {
            // Bound to a private address outside this VPC's subnet: no neighbour here can have it.
            counters.Undelivered(DropReason.NeighbourUnresolved, wireLength);
            return;
        }
        _vpc.Deliver(frame, wireLength, privateDestination, _vpcGateway, now, counters);
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
    private static bool Admit(PortSegment segment, Span<byte> frame, long now)
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
            HandleArp(segment, frame, now);
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
    private static void HandleArp(PortSegment segment, Span<byte> frame, long now)
    {
        if (Arp.TryParse(frame, out ArpMessage message))
        {
            segment.HandleArp(message, now);
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
}
