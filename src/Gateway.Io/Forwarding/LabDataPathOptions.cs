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

    /// <summary>An existing interface for the internet side (<c>--internet-if</c>), used through libpcap.</summary>
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

    /// <summary>Most frames a worker takes from its port before processing them.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>How long a worker waits for frames before checking for shutdown; bounds the time <see cref="LabDataPath.Dispose"/> takes.</summary>
    public int PollMilliseconds { get; init; } = 100;

    internal void Validate()
    {
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
        uint gateway = VpcGateway ?? VpcSubnet.FirstUsable;
        if (!VpcSubnet.Contains(gateway) || gateway == VpcSubnet.Network || gateway == VpcSubnet.Broadcast)
        {
            throw new ArgumentException($"The VPC gateway {Gateway.Packets.Ipv4Address.Format(gateway)} is not a host address of {VpcSubnet}.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(PollMilliseconds, 1);
        Neighbours.Validate();
    }
}
