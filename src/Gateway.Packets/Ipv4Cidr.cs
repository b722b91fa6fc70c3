using System.Globalization;

namespace Gateway.Packets;

/// <summary>An IPv4 prefix such as 198.51.100.0/24, parsed strictly.</summary>
public readonly record struct Ipv4Cidr(uint Network, int PrefixLength)
{
    public uint Mask => PrefixLength == 0 ? 0 : uint.MaxValue << (32 - PrefixLength);

    public uint Broadcast => Network | ~Mask;

    public long Size => 1L << (32 - PrefixLength);

    public bool Contains(uint address) => (address & Mask) == Network;

    /// <summary>
    /// The addresses a host can hold: without the network and broadcast addresses, except in /31 and /32
    /// (RFC 3021 point-to-point links and single addresses have none to spare).
    /// </summary>
    public IEnumerable<uint> Hosts()
    {
        uint first = PrefixLength >= 31 ? Network : Network + 1;
        uint last = PrefixLength >= 31 ? Broadcast : Broadcast - 1;
        for (ulong a = first; a <= last; a++)
        {
            yield return (uint)a;
        }
    }

    public static bool TryParse(string? text, out Ipv4Cidr cidr, out string error)
    {
        cidr = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "an address prefix is empty; write it as a.b.c.d/len, e.g. 198.51.100.0/24";
            return false;
        }
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string addressText = slash < 0 ? text : text[..slash];
        int prefix = 32;
        if (slash >= 0 && !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix))
        {
            error = $"'{text}' has no prefix length after '/'; write it as a.b.c.d/len, e.g. 198.51.100.0/24";
            return false;
        }
        if (prefix is < 0 or > 32)
        {
            error = $"'{text}': the prefix length must be 0 to 32";
            return false;
        }
        if (!Ipv4Address.TryParse(addressText, out uint address))
        {
            error = $"'{text}': '{addressText}' is not a dotted-quad IPv4 address";
            return false;
        }
        var candidate = new Ipv4Cidr(address, prefix);
        if ((address & candidate.Mask) != address)
        {
            error = $"'{text}' has host bits set; did you mean {Ipv4Address.Format(address & candidate.Mask)}/{prefix}?";
            return false;
        }
        cidr = candidate;
        error = string.Empty;
        return true;
    }

    public static Ipv4Cidr Parse(string text) =>
        TryParse(text, out var cidr, out string error) ? cidr : throw new FormatException(error);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Ipv4Address.Format(Network)}/{PrefixLength}");
}
