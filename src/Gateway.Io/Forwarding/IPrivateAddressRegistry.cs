using System.Collections.Concurrent;

namespace Gateway.Io.Forwarding;

/// <summary>
/// The private addresses the control plane knows on the VPC port: the instances' primary private IPs, bound to a
/// public address or not. A frame from the VPC whose source is not one of them is spoofed.
/// </summary>
/// <remarks>Asked once per frame from the VPC worker: implementations must be lock-free and allocation-free to read.</remarks>
public interface IPrivateAddressRegistry
{
    /// <summary>True when <paramref name="privateAddress"/> belongs to an instance the control plane knows.</summary>
    bool IsKnownPrivate(uint privateAddress);
}

/// <summary>
/// A ready <see cref="IPrivateAddressRegistry"/>: a concurrent set the control plane adds to when an instance is
/// created and removes from when it is terminated. Reads take no lock and allocate nothing.
/// </summary>
public sealed class PrivateAddressSet : IPrivateAddressRegistry
{
    private readonly ConcurrentDictionary<uint, byte> _addresses = new();

    public bool IsKnownPrivate(uint privateAddress) => _addresses.ContainsKey(privateAddress);

    /// <summary>Adds an address; false when it was known already.</summary>
    public bool Add(uint privateAddress) => _addresses.TryAdd(privateAddress, 0);

    /// <summary>Removes an address; false when it was not known.</summary>
    public bool Remove(uint privateAddress) => _addresses.TryRemove(privateAddress, out _);

    public int Count => _addresses.Count;
}
