using Gateway.Io.L2;

namespace Gateway.Io.Forwarding;

/// <summary>
/// Where <see cref="LabDataPath"/> attaches and how it behaves. Each side takes either a TAP device the data path
/// creates (<see cref="InternetTap"/>, <see cref="VpcTap"/>) or an existing interface it captures on and injects
/// into (<see cref="InternetInterface"/>, <see cref="VpcInterface"/>), never both.
/// </summary>
public sealed record LabDataPathOptions
{
    /// <summary>Name of the TAP device to create for the internet side (<c>--internet-tap</c>), at most 15 characters.</summary>
    public string? InternetTap { get; init; }

    /// <summary>An existing interface for the internet side (<c>--internet-if</c>), opened as <see cref="InterfaceBackend"/> says.</summary>
    public string? InternetInterface { get; init; }

    /// <summary>Name of the TAP device to create for the VPC side (<c>--vpc-tap</c>).</summary>
    public string? VpcTap { get; init; }

    /// <summary>An existing interface for the VPC side (<c>--vpc-if</c>).</summary>
    public string? VpcInterface { get; init; }

    /// <summary>The VPC subnet the instances' private addresses are in (e.g. 10.0.0.0/24).</summary>
    public required Ipv4Subnet VpcSubnet { get; init; }

    /// <summary>The gateway's address in the VPC, the instances' default route; defaults to the subnet's first usable address.</summary>
    public uint? VpcGateway { get; init; }

    /// <summary>
    /// An upstream router on the internet segment (<c>--internet-gateway</c>): every frame to the internet goes to
    /// its MAC. Null: internet hosts are on-link and each destination is resolved by ARP.
    /// </summary>
    public uint? InternetGateway { get; init; }

    /// <summary>The gateway's own MAC on the internet segment; defaults to a random locally administered address. On a
    /// live interface too it differs from the interface's MAC (captured in promiscuous mode), so the kernel behind
    /// the interface never takes the gateway's frames for its own.</summary>
    public MacAddress? InternetMac { get; init; }

    /// <summary>The gateway's own MAC on the VPC segment (as <see cref="InternetMac"/>).</summary>
    public MacAddress? VpcMac { get; init; }

    /// <summary>The MAC of the internet TAP interface itself (the kernel side, the host at the far end of the wire); default: the kernel's choice.</summary>
    public MacAddress? InternetTapInterfaceMac { get; init; }

    /// <summary>The MAC of the VPC TAP interface itself; default: the kernel's choice.</summary>
    public MacAddress? VpcTapInterfaceMac { get; init; }

    /// <summary>Start as a cluster standby (<see cref="LabDataPath.SetStandby"/>): nothing is forwarded or answered until the node is elected.</summary>
    public bool StartStandby { get; init; }

    /// <summary>
    /// Until when the workers may forward (checked once per batch; null: always). A cluster node's election advances it;
    /// past it the path behaves exactly as a standby — fenced — until it is advanced again.
    /// </summary>
    public Gateway.DataPlane.Cluster.ForwardingAuthority? Authority { get; init; }

    /// <summary>ARP timers and queue bounds, for both segments.</summary>
    public NeighbourCacheOptions Neighbours { get; init; } = new();

    /// <summary>
    /// Workers (<c>--workers</c>): threads that each own one queue of every port and do both directions of the flows
    /// the kernel steers to that queue. Default: one per core. TAP ports get this many queues; a libpcap port has one,
    /// served by worker 0 only.
    /// </summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// TAP ports with <c>IFF_VNET_HDR</c> and checksum/TSO/USO offloads (GSO super-frames of up to 64 KiB, translated once).
    /// False: plain MTU-sized frames, as before offloads existed (for comparison and for kernels without them).
    /// </summary>
    public bool TapOffloads { get; init; } = true;

    /// <summary>The TAP devices' txqueuelen: frames the kernel holds per queue for a worker before it drops them (port-overrun).</summary>
    public int TapTxQueueLength { get; init; } = Tap.TapOptions.DefaultTxQueueLength;

    /// <summary>
    /// How existing interfaces (<see cref="InternetInterface"/>, <see cref="VpcInterface"/>) are opened
    /// (<c>--if-backend</c>): AF_PACKET sockets with rings, one queue per worker and GSO offloads (default on Linux), or
    /// libpcap (one queue, no offloads; hosts behind the interface must then compute their own checksums).
    /// </summary>
    public InterfaceBackend InterfaceBackend { get; init; } = OperatingSystem.IsLinux() ? InterfaceBackend.Packet : InterfaceBackend.Pcap;

    /// <summary>
    /// Slots in each AF_PACKET queue's receive ring (frames the kernel can hold for a worker before it drops them);
    /// 0 (default): <see cref="Live.PacketPort.DefaultRingFrames"/> for the number of workers.
    /// </summary>
    public int PacketRingFrames { get; init; }

    /// <summary>AF_PACKET sends skip the qdisc (<c>PACKET_QDISC_BYPASS</c>); off by default, see <see cref="Live.PacketPort.Open"/>.</summary>
    public bool PacketQdiscBypass { get; init; }

    /// <summary>How the worker threads are scheduled (<see cref="Forwarding.WorkerPriority"/>); default realtime.</summary>
    public WorkerPriority WorkerPriority { get; init; } = WorkerPriority.Realtime;

    /// <summary>Most frames a worker takes from one queue per wake-up before processing them.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>How long a worker waits for frames before checking for shutdown; bounds the time <see cref="LabDataPath.Dispose"/> takes.</summary>
    public int PollMilliseconds { get; init; } = 100;

    /// <summary>tun's MAX_TAP_QUEUES.</summary>
    public const int MaxWorkers = 256;

    internal void Validate(bool portsGiven = false)
    {
        if (portsGiven)
        {
            ValidateAddressing();
            return;
        }
        if ((InternetTap is null) == (InternetInterface is null))
        {
            throw new ArgumentException("Give the internet side exactly one of a TAP device to create (--internet-tap) or an existing interface (--internet-if).");
        }
        if ((VpcTap is null) == (VpcInterface is null))
        {
            throw new ArgumentException("Give the VPC side exactly one of a TAP device to create (--vpc-tap) or an existing interface (--vpc-if).");
        }
        if (InternetTap is not null && InternetTap == VpcTap)
        {
            throw new ArgumentException($"The internet and VPC TAP devices must have different names (both are '{InternetTap}').");
        }
        ValidateAddressing();
    }

    private void ValidateAddressing()
    {
        uint gateway = VpcGateway ?? VpcSubnet.FirstUsable;
        if (!VpcSubnet.Contains(gateway) || gateway == VpcSubnet.Network || gateway == VpcSubnet.Broadcast)
        {
            throw new ArgumentException($"The VPC gateway {Gateway.Packets.Ipv4Address.Format(gateway)} is not a host address of {VpcSubnet}.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1);
        if (Workers is < 1 or > MaxWorkers)
        {
            throw new ArgumentException($"Workers must be 1 to {MaxWorkers} (a TAP device has at most 256 queues); {Workers} was given.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(TapTxQueueLength, 1);
        if (PacketRingFrames is not 0 and < 64)
        {
            throw new ArgumentOutOfRangeException(nameof(PacketRingFrames), PacketRingFrames, "An AF_PACKET ring needs at least 64 slots (0: the default).");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(PollMilliseconds, 1);
        Neighbours.Validate();
    }
}

/// <summary>How an existing interface is opened (<c>--if-backend</c>).</summary>
public enum InterfaceBackend
{
    /// <summary>AF_PACKET sockets: TPACKET_V2 receive rings, fanout over the workers, virtio_net_hdr offloads, sendmmsg.</summary>
    Packet,

    /// <summary>libpcap through SharpPcap: one queue, no offloads; the fallback for systems without AF_PACKET rings.</summary>
    Pcap,
}
