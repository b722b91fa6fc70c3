using System.Diagnostics.CodeAnalysis;
using Gateway.Packets;

namespace Gateway.Io.Forwarding;

/// <summary>An IPv4 prefix such as 10.0.0.0/24 (addresses as <see cref="Ipv4Address"/> numbers).</summary>
public readonly record struct Ipv4Subnet
{
    public Ipv4Subnet(uint network, int prefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prefixLength, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 30); // a /31 or /32 leaves no gateway and instance
        Mask = new Ipv4Cidr(network, prefixLength).Mask;
        if ((network & ~Mask) != 0)
        {
            throw new ArgumentException($"{Ipv4Address.Format(network)}/{prefixLength} has host bits set; the network is {Ipv4Address.Format(network & Mask)}/{prefixLength}.", nameof(network));
        }
        Network = network;
        PrefixLength = prefixLength;
    }

    public uint Network { get; }

    public int PrefixLength { get; }

    public uint Mask { get; }

    /// <summary>The first usable address: the VPC's gateway, as clouds (and Tencent Cloud's VPC router) place it.</summary>
    public uint FirstUsable => Network + 1;

    /// <summary>The broadcast address, never an instance.</summary>
    public uint Broadcast => Network | ~Mask;

    public bool Contains(uint address) => (address & Mask) == Network;

    /// <summary>Parses "a.b.c.d/len" (strict dotted quad, prefix 0–30, no host bits).</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out Ipv4Subnet subnet)
    {
        // The strict prefix parser the control plane uses; a subnet also needs an explicit length that leaves
        // room for a gateway and an instance.
        subnet = default;
        if (text is null || !text.Contains('/', StringComparison.Ordinal)
            || !Ipv4Cidr.TryParse(text, out var cidr, out _) || cidr.PrefixLength > 30)
        {
            return false;
        }
        subnet = new Ipv4Subnet(cidr.Network, cidr.PrefixLength);
        return true;
    }

    public static Ipv4Subnet Parse(string text) =>
        TryParse(text, out var subnet) ? subnet : throw new FormatException($"'{text}' is not an IPv4 subnet such as 10.0.0.0/24 (prefix 0–30, no host bits set).");

    public override string ToString() => $"{Ipv4Address.Format(Network)}/{PrefixLength}";
}
