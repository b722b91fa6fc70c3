using System.Buffers.Binary;

namespace Gateway.TestSupport;

/// <summary>
/// Byte-level builders for deliberately broken captures (little-endian), where every length field can lie.
/// The corpus generator's writers only write valid files, so hostile ones are assembled here field by field
/// (pcap: draft-ietf-opsawg-pcap; pcapng: draft-ietf-opsawg-pcapng).
/// </summary>
public static class HostileCaptures
{
    public static byte[] U32(uint value)
    {
        byte[] b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return b;
    }

    public static byte[] U16(ushort value)
    {
        byte[] b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        return b;
    }

    /// <summary>A pcap file header: microsecond magic, version 2.4.</summary>
    public static byte[] PcapHeader(uint snapLength = 65535, uint linkType = 1, ushort major = 2) =>
        [.. U32(0xA1B2C3D4), .. U16(major), .. U16(4), .. U32(0), .. U32(0), .. U32(snapLength), .. U32(linkType)];

    /// <summary>A pcap record header claiming <paramref name="captured"/> bytes, followed by <paramref name="data"/> (which may be shorter).</summary>
    public static byte[] PcapRecord(uint captured, uint original, byte[] data, uint seconds = 1_700_000_000) =>
        [.. U32(seconds), .. U32(0), .. U32(captured), .. U32(original), .. data];

    public static byte[] PcapRecord(byte[] data) => PcapRecord((uint)data.Length, (uint)data.Length, data);

    /// <summary>A pcapng block; the leading and trailing lengths default to the true one and may be overridden to lie.</summary>
    public static byte[] Block(uint type, byte[] body, uint? length = null, uint? trailing = null)
    {
        uint real = (uint)(12 + body.Length);
        return [.. U32(type), .. U32(length ?? real), .. body, .. U32(trailing ?? length ?? real)];
    }

    public static byte[] Shb(uint byteOrderMagic = 0x1A2B3C4D, ushort major = 1) =>
        Block(0x0A0D0D0A, [.. U32(byteOrderMagic), .. U16(major), .. U16(0), .. U32(0xFFFFFFFF), .. U32(0xFFFFFFFF)]);

    /// <summary>An interface description block; <paramref name="options"/> are raw option bytes (end-of-options included if wanted).</summary>
    public static byte[] Idb(ushort linkType = 1, uint snapLength = 0, byte[]? options = null) =>
        Block(1, [.. U16(linkType), .. U16(0), .. U32(snapLength), .. options ?? []]);

    /// <summary>One option (code, length, value padded to 4 bytes).</summary>
    public static byte[] Option(ushort code, byte[] value)
    {
        byte[] padding = new byte[((value.Length + 3) & ~3) - value.Length];
        return [.. U16(code), .. U16((ushort)value.Length), .. value, .. padding];
    }

    public static byte[] EndOfOptions => [0, 0, 0, 0];

    /// <summary>An enhanced packet block; <paramref name="captured"/> defaults to the data's length and may lie.</summary>
    public static byte[] Epb(uint interfaceId, byte[] data, uint? captured = null, uint? original = null, ulong timestamp = 1_700_000_000_000_000)
    {
        byte[] padding = new byte[((data.Length + 3) & ~3) - data.Length];
        return Block(6, [.. U32(interfaceId), .. U32((uint)(timestamp >> 32)), .. U32((uint)timestamp),
            .. U32(captured ?? (uint)data.Length), .. U32(original ?? (uint)data.Length), .. data, .. padding]);
    }

    public static byte[] Spb(byte[] data, uint? original = null)
    {
        byte[] padding = new byte[((data.Length + 3) & ~3) - data.Length];
        return Block(3, [.. U32(original ?? (uint)data.Length), .. data, .. padding]);
    }

    /// <summary>A frame's worth of recognisable bytes.</summary>
    public static byte[] Frame(int length, byte seed = 1) => [.. Enumerable.Range(0, length).Select(i => (byte)(seed + i))];
}
