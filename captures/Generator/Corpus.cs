using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Gateway.CaptureGenerator;

/// <summary>One frame of a scenario: what goes in and what must come out (a frame, or a drop reason).</summary>
public sealed record Item(long TimeNs, byte[] Input, byte[]? Expected, string? Drop, string Note, int CapturedLength = -1, int Interface = 0, bool Simple = false)
{
    public byte[] CapturedInput => CapturedLength < 0 ? Input : Input[..CapturedLength];
    public byte[]? CapturedExpected => Expected == null ? null : CapturedLength < 0 ? Expected : Expected[..CapturedLength];
}

/// <summary>One capture of the corpus with its bindings, events and expected results.</summary>
public sealed class CaptureCase
{
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required string InputFile { get; init; }
    public required string ExpectedFile { get; init; }
    public string BindingsFile { get; init; } = "corpus.bindings.json";
    public string? EventsFile { get; init; }
    public List<string> EventLines { get; } = [];
    public List<Item> Items { get; } = [];
    public int LinkType { get; init; } = 1;
    public int SnapLength { get; init; } = 65535;
    public bool Nanoseconds { get; init; }
    public bool BigEndian { get; init; }
    /// <summary>pcapng input (and output) with these interfaces; null for pcap.</summary>
    public List<InterfaceSpec>? Interfaces { get; init; }

    public byte[] InputBytes()
    {
        var records = Items.Select(i => new CaptureRecord(i.Simple ? 0 : i.TimeNs, i.CapturedInput, i.Input.Length, i.Interface, i.Simple));
        return Interfaces == null
            ? CaptureFiles.Pcap(records, LinkType, SnapLength, Nanoseconds, BigEndian)
            : CaptureFiles.Pcapng(records, Interfaces, BigEndian, minimal: false);
    }

    /// <summary>The output the gateway must write: forwarded frames in input order, original timestamps and lengths, little-endian.</summary>
    public byte[] ExpectedBytes()
    {
        var records = Items.Where(i => i.Expected != null)
            .Select(i => new CaptureRecord(i.Simple ? 0 : i.TimeNs, i.CapturedExpected!, i.Expected!.Length, i.Interface));
        return Interfaces == null
            ? CaptureFiles.Pcap(records, LinkType, SnapLength, Nanoseconds, bigEndian: false)
            : CaptureFiles.Pcapng(records, Interfaces, bigEndian: false, minimal: true);
    }

    public string ExpectedStatsJson()
    {
        var drops = Items.Where(i => i.Drop != null).GroupBy(i => i.Drop!).ToDictionary(g => g.Key, g => g.Count());
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{{\"received\":{Items.Count},\"transmitted\":{Items.Count(i => i.Expected != null)},\"dropped\":{drops.Values.Sum()},\"drops\":{{");
        text.Append(string.Join(",", Corpus.ReasonOrder.Where(drops.ContainsKey).Select(r => $"\"{r}\":{drops[r]}")));
        text.Append("}}");
        return text.ToString();
    }
}

/// <summary>
/// The NAT as the contract states it, kept deliberately naive (two dictionaries): the generator's own model of
/// what the gateway must do, independent of the translator's code.
/// </summary>
public sealed class NatModel
{
    private readonly Dictionary<string, string> _toPrivate = [];
    private readonly Dictionary<string, string> _toPublic = [];

    public NatModel(params (string Public, string Private)[] bindings)
    {
        foreach (var (pub, priv) in bindings)
        {
            Bind(pub, priv);
        }
    }

    public IEnumerable<(string Public, string Private)> Bindings => _toPrivate.Select(p => (p.Key, p.Value));

    /// <summary>A binding either address had ends (an EIP moving to another instance).</summary>
    public void Bind(string pub, string priv)
    {
        if (_toPrivate.Remove(pub, out var oldPrivate))
        {
            _toPublic.Remove(oldPrivate);
        }
        if (_toPublic.Remove(priv, out var oldPublic))
        {
            _toPrivate.Remove(oldPublic);
        }
        _toPrivate[pub] = priv;
        _toPublic[priv] = pub;
    }

    public void Unbind(string pub)
    {
        if (_toPrivate.Remove(pub, out var priv))
        {
            _toPublic.Remove(priv);
        }
    }

    /// <summary>Destination bound public → DNAT; source bound private → SNAT; both → hairpin; neither → null.</summary>
    public (string Src, string Dst)? Map(string src, string dst)
    {
        bool snat = _toPublic.TryGetValue(src, out var newSrc);
        bool dnat = _toPrivate.TryGetValue(dst, out var newDst);
        return snat || dnat ? (snat ? newSrc! : src, dnat ? newDst! : dst) : null;
    }

    public bool Snats(string src) => _toPublic.ContainsKey(src);

    public bool Dnats(string dst) => _toPrivate.ContainsKey(dst);
}

/// <summary>Builds the items of a scenario against a model, with a clock.</summary>
public sealed class ScenarioBuilder(CaptureCase capture, NatModel nat, long startNs, long stepNs)
{
    private long _now = startNs;

    public NatModel Nat => nat;

    public long Now => _now;

    public void At(long timeNs) => _now = timeNs;

    private long Tick()
    {
        long t = _now;
        _now += stepNs;
        return t;
    }

    /// <summary>A frame whose IPv4 packet the builder makes from (source, destination); the expected frame is the same builder over the model's addresses.</summary>
    public void Flow(string note, Func<string, string, byte[]> packet, string src, string dst, Func<byte[], byte[]> link, int capturedLength = -1, int iface = 0, bool simple = false)
    {
        byte[] input = link(packet(src, dst));
        var mapped = nat.Map(src, dst);
        byte[]? expected = mapped is { } m ? link(packet(m.Src, m.Dst)) : null;
        capture.Items.Add(new Item(Tick(), input, expected, expected == null ? "no-binding" : null, note, capturedLength, iface, simple));
    }

    /// <summary>
    /// An ICMP error from <paramref name="src"/> to <paramref name="dst"/> about a packet that went
    /// <paramref name="innerSrc"/> → <paramref name="innerDst"/>. The quoted packet travelled the other way, so
    /// when the outer destination is translated its inner source must equal it and is translated the same way,
    /// and when the outer source is translated its inner destination must equal it (RFC 5508 §3.3).
    /// </summary>
    public void IcmpError(string note, Func<string, string, string, string, byte[]> packet, string src, string dst, string innerSrc, string innerDst, Func<byte[], byte[]> link)
    {
        byte[] input = link(packet(src, dst, innerSrc, innerDst));
        bool snat = nat.Snats(src);
        bool dnat = nat.Dnats(dst);
        string? drop = null;
        byte[]? expected = null;
        if (!snat && !dnat)
        {
            drop = "no-binding";
        }
        else if ((dnat && innerSrc != dst) || (snat && innerDst != src))
        {
            drop = "icmp-inner-mismatch";
        }
        else
        {
            var (newSrc, newDst) = nat.Map(src, dst)!.Value;
            expected = link(packet(newSrc, newDst, dnat ? newDst : innerSrc, snat ? newSrc : innerDst));
        }
        capture.Items.Add(new Item(Tick(), input, expected, drop, note));
    }

    /// <summary>A frame the contract drops for a reason the model does not compute (malformed, checksum, not IPv4): stated by hand.</summary>
    public void Dropped(string note, byte[] input, string reason, int capturedLength = -1) =>
        capture.Items.Add(new Item(Tick(), input, null, reason, note, capturedLength));

    /// <summary>A frame with a fixed expected output (e.g. a corrupt checksum that must stay exactly as corrupt).</summary>
    public void Exact(string note, byte[] input, byte[] expected) =>
        capture.Items.Add(new Item(Tick(), input, expected, null, note));

    /// <summary>A binding change at a capture time, written to the events file and applied to the model.</summary>
    public void Event(long atNs, string op, string pub, string? priv)
    {
        string at = (atNs / 1_000_000_000).ToString(CultureInfo.InvariantCulture) + "." + (atNs % 1_000_000_000).ToString("D9", CultureInfo.InvariantCulture);
        capture.EventLines.Add(priv == null
            ? $"{{\"at\":{at},\"op\":\"{op}\",\"publicIp\":\"{pub}\"}}"
            : $"{{\"at\":{at},\"op\":\"{op}\",\"publicIp\":\"{pub}\",\"privateIp\":\"{priv}\"}}");
        if (op == "bind")
        {
            nat.Bind(pub, priv!);
        }
        else
        {
            nat.Unbind(pub);
        }
    }
}
