using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Packets;

/// <summary>
/// IPv4 addresses as the data plane keeps them: a <see cref="uint"/> holding the four octets in
/// network order read as a big-endian number (198.51.100.10 is 0xC633640A).
/// </summary>
public static class Ipv4Address
{
    public static uint FromBytes(ReadOnlySpan<byte> octets) => BinaryPrimitives.ReadUInt32BigEndian(octets);

    public static uint FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"'{address}' is not an IPv4 address.", nameof(address));
        }
        Span<byte> octets = stackalloc byte[4];
        address.TryWriteBytes(octets, out _);
        return FromBytes(octets);
    }

    public static IPAddress ToIPAddress(uint address)
    {
        Span<byte> octets = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(octets, address);
        return new IPAddress(octets);
    }

    /// <summary>Parses strict dotted-quad notation only: "10.1" or "010.0.0.1" are refused, not guessed at.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out uint address)
    {
        address = 0;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        var parts = text.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }
        uint value = 0;
        foreach (var part in parts)
        {
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0') || !part.All(char.IsAsciiDigit))
            {
                return false;
            }
            int octet = int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture);
            if (octet > 255)
            {
                return false;
            }
            value = (value << 8) | (uint)octet;
        }
        address = value;
        return true;
    }

    public static string Format(uint address) =>
        string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}");
}
