using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace Gateway.Io.L2;

/// <summary>A 48-bit IEEE 802 MAC address held in the low bits of a <see cref="ulong"/> (first octet highest).</summary>
public readonly record struct MacAddress(ulong Value)
{
    public const int Length = 6;

    public static MacAddress Broadcast { get; } = new(0xFFFF_FFFF_FFFFUL);

    /// <summary>True for group addresses (broadcast and multicast): the I/G bit of the first octet (IEEE 802-2014 §8.2).</summary>
    public bool IsGroup => (Value & 0x0100_0000_0000UL) != 0;

    public static MacAddress Read(ReadOnlySpan<byte> source) =>
        new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(source) << 32) | BinaryPrimitives.ReadUInt32BigEndian(source.Slice(2)));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(2), (uint)Value);
    }

    /// <summary>A random unicast, locally administered address (x2:xx:xx:xx:xx:xx), as virtual NICs use.</summary>
    public static MacAddress NewLocal()
    {
        Span<byte> bytes = stackalloc byte[Length];
        RandomNumberGenerator.Fill(bytes);
        bytes[0] = (byte)((bytes[0] & 0xFC) | 0x02); // unicast (I/G = 0), locally administered (U/L = 1)
        return Read(bytes);
    }

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c> (or with dashes).</summary>
    public static bool TryParse(string? text, out MacAddress address)
    {
        address = default;
        if (text is null || text.Length != 17)
        {
            return false;
        }
        ulong value = 0;
        for (int i = 0; i < Length; i++)
        {
            if (i > 0 && text[(i * 3) - 1] is not (':' or '-'))
            {
                return false;
            }
            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte octet))
            {
                return false;
            }
            value = (value << 8) | octet;
        }
        address = new MacAddress(value);
        return true;
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        Write(bytes);
        return string.Create(CultureInfo.InvariantCulture, $"{bytes[0]:x2}:{bytes[1]:x2}:{bytes[2]:x2}:{bytes[3]:x2}:{bytes[4]:x2}:{bytes[5]:x2}");
    }
}
