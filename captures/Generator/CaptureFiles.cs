using System.Buffers.Binary;

namespace Gateway.CaptureGenerator;

/// <summary>One frame of a capture file as the generator writes it.</summary>
public sealed record CaptureRecord(long TimeNs, byte[] Data, int OriginalLength, int Interface = 0, bool Simple = false);

/// <summary>A pcapng interface as the generator declares it.</summary>
public sealed record InterfaceSpec(int LinkType, int SnapLength, byte Resolution = 6, string? Name = null);

/// <summary>
/// Small, independent pcap and pcapng writers (pcap: draft-ietf-opsawg-pcap; pcapng: draft-ietf-opsawg-pcapng):
/// the corpus must not be written by the code it tests.
/// </summary>
public static class CaptureFiles
{
    public static byte[] Pcap(IEnumerable<CaptureRecord> records, int linkType, int snapLength, bool nanoseconds, bool bigEndian)
    {
        var output = new Out(bigEndian);
        output.U32(nanoseconds ? 0xA1B23C4Du : 0xA1B2C3D4u);
        output.U16(2);
        output.U16(4);
        output.U32(0);
        output.U32(0);
        output.U32((uint)snapLength);
        output.U32((uint)linkType);
        foreach (var r in records)
        {
            output.U32((uint)(r.TimeNs / 1_000_000_000));
            long fraction = r.TimeNs % 1_000_000_000;
            output.U32((uint)(nanoseconds ? fraction : fraction / 1000));
            output.U32((uint)r.Data.Length);
            output.U32((uint)r.OriginalLength);
            output.Bytes(r.Data);
        }
        return output.ToArray();
    }

    /// <summary>
    /// pcapng. <paramref name="minimal"/> writes the layout the gateway's writer uses (an SHB without options, IDBs
    /// with only if_tsresol when it is not 6, EPBs without options); otherwise the file carries options on every
    /// block, an unknown block and a name resolution block, which a reader must skip.
    /// </summary>
    public static byte[] Pcapng(IEnumerable<CaptureRecord> records, IReadOnlyList<InterfaceSpec> interfaces, bool bigEndian, bool minimal)
    {
        var output = new Out(bigEndian);
        // Section header block.
        var shb = new Out(bigEndian);
        shb.U32(0x1A2B3C4D);
        shb.U16(1);
        shb.U16(0);
        shb.U64(ulong.MaxValue);
        if (!minimal)
        {
            shb.Option(4, "Gateway.CaptureGenerator"u8.ToArray()); // shb_userappl
            shb.U32(0);
        }
        output.Block(0x0A0D0D0A, shb.ToArray());

        if (!minimal)
        {
            // A block type nobody defined: readers skip blocks they do not know (pcapng §3.1).
            output.Block(0x00000BAD, [1, 2, 3, 4, 5, 6, 7, 8]);
        }
        foreach (var i in interfaces)
        {
            var idb = new Out(bigEndian);
            idb.U16((ushort)i.LinkType);
            idb.U16(0);
            idb.U32((uint)i.SnapLength);
            bool any = false;
            if (!minimal && i.Name != null)
            {
                idb.Option(2, System.Text.Encoding.ASCII.GetBytes(i.Name)); // if_name
                any = true;
            }
            if (i.Resolution != 6)
            {
                idb.Option(9, [i.Resolution]); // if_tsresol
                any = true;
            }
            if (any)
            {
                idb.U32(0); // opt_endofopt
            }
            output.Block(1, idb.ToArray());
        }
        if (!minimal)
        {
            // Name resolution block with just opt_endofopt-style end record: skipped.
            var nrb = new Out(bigEndian);
            nrb.U16(0);
            nrb.U16(0);
            output.Block(4, nrb.ToArray());
        }

        foreach (var r in records)
        {
            var body = new Out(bigEndian);
            if (r.Simple)
            {
                body.U32((uint)r.OriginalLength);
                body.Padded(r.Data);
                output.Block(3, body.ToArray());
                continue;
            }
            ulong ticks = Ticks(r.TimeNs, interfaces[r.Interface].Resolution);
            body.U32((uint)r.Interface);
            body.U32((uint)(ticks >> 32));
            body.U32((uint)ticks);
            body.U32((uint)r.Data.Length);
            body.U32((uint)r.OriginalLength);
            body.Padded(r.Data);
            if (!minimal)
            {
                body.Option(2, [0, 0, 0, 1]); // epb_flags: inbound
                body.U32(0);
            }
            output.Block(6, body.ToArray());
        }
        return output.ToArray();
    }

    private static ulong Ticks(long timeNs, byte resolution) => resolution switch
    {
        6 => (ulong)(timeNs / 1000),
        9 => (ulong)timeNs,
        _ => throw new ArgumentOutOfRangeException(nameof(resolution), "the corpus uses if_tsresol 6 or 9 only"),
    };

    private sealed class Out(bool bigEndian)
    {
        private readonly List<byte> _bytes = [];

        public void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            if (bigEndian) { BinaryPrimitives.WriteUInt16BigEndian(b, v); } else { BinaryPrimitives.WriteUInt16LittleEndian(b, v); }
            _bytes.AddRange(b.ToArray());
        }

        public void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            if (bigEndian) { BinaryPrimitives.WriteUInt32BigEndian(b, v); } else { BinaryPrimitives.WriteUInt32LittleEndian(b, v); }
            _bytes.AddRange(b.ToArray());
        }

        public void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            if (bigEndian) { BinaryPrimitives.WriteUInt64BigEndian(b, v); } else { BinaryPrimitives.WriteUInt64LittleEndian(b, v); }
            _bytes.AddRange(b.ToArray());
        }

        public void Bytes(byte[] data) => _bytes.AddRange(data);

        public void Padded(byte[] data)
        {
            _bytes.AddRange(data);
            for (int i = data.Length; i % 4 != 0; i++)
            {
                _bytes.Add(0);
            }
        }

        public void Option(ushort code, byte[] value)
        {
            U16(code);
            U16((ushort)value.Length);
            Padded(value);
        }

        public void Block(uint type, byte[] body)
        {
            uint length = (uint)(12 + body.Length);
            U32(type);
            U32(length);
            _bytes.AddRange(body);
            U32(length);
        }

        public byte[] ToArray() => [.. _bytes];
    }
}
