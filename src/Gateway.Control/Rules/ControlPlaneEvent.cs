namespace Gateway.Control.Rules;

/// <summary>What an applied change did, in the order the data plane saw it.</summary>
public enum ControlPlaneEventKind
{
    /// <summary>An instance now exists with <see cref="ControlPlaneEvent.PrivateAddress"/> (anti-spoofing: a known source).</summary>
    InstanceAdded,
    /// <summary><see cref="ControlPlaneEvent.PublicAddress"/> now translates to the private address (announce it: gratuitous ARP).</summary>
    PublicAddressBound,
    /// <summary><see cref="ControlPlaneEvent.PublicAddress"/> no longer translates to the private address.</summary>
    PublicAddressUnbound,
    /// <summary>The instance with the private address is gone.</summary>
    InstanceRemoved,
    /// <summary>The binding stays, its caps changed (<see cref="ControlPlaneEvent.Caps"/>; the buckets were refilled).</summary>
    CapsChanged,
}

/// <summary>One event; addresses are IPv4 as <see cref="Gateway.Packets.Ipv4Address"/> numbers (0 when not applicable).</summary>
public readonly record struct ControlPlaneEvent(ControlPlaneEventKind Kind, uint PrivateAddress, uint PublicAddress)
{
    /// <summary>The binding's id in the table (bound, caps changed: the live one; unbound: the one that ended), else -1.</summary>
    public int BindingId { get; init; } = -1;

    /// <summary>The instance the binding belongs to (binding and cap events).</summary>
    public string? InstanceId { get; init; }

    /// <summary>The binding's caps (binding and cap events).</summary>
    public Gateway.DataPlane.Policing.BandwidthCaps Caps { get; init; }
}
