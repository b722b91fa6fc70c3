using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Gateway.Packets;

namespace Gateway.Io.Forwarding;

/// <summary>An IPv4 prefix such as 10.0.0.0/24 (addresses as <see cref="Ipv4Address"/> numbers).</summary>
public readonly record struct Ipv4Subnet
{
    public Ipv4Subnet(uint network, int prefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prefixLength, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 30); // a /31 or /32 leaves no gateway and instance
        Mask = prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength);
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
        subnet = default;
        int slash = text?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        if (slash < 0
            || !Ipv4Address.TryParse(text![..slash], out uint network)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int length)
            || length > 30)
        {
            return false;
        }
        uint mask = length == 0 ? 0 : uint.MaxValue << (32 - length);
        if ((network & ~mask) != 0)
        {
            return false;
        }
        subnet = new Ipv4Subnet(network, length);
        return true;
    }

    public static Ipv4Subnet Parse(string text) =>
        TryParse(text, out var subnet) ? subnet : throw new FormatException($"'{text}' is not an IPv4 subnet such as 10.0.0.0/24 (prefix 0–30, no host bits set).");

    public override string ToString() => $"{Ipv4Address.Format(Network)}/{PrefixLength}";
}
