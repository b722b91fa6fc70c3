using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.Packets;
using Gateway.TestSupport;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>
/// A translator over two bindings (A and B) in documentation and private ranges, with helpers that
/// translate a copy of a frame and check what came out.
/// </summary>
internal sealed class Nat
{
    public const string PublicA = "198.51.100.10";
    public const string PrivateA = "10.0.0.10";
    public const string PublicB = "198.51.100.20";
    // Not .20: with A = .10/.10 and B = .20/.20 a hairpin's two rewrites would cancel in every
    // pseudo-header checksum (PrivateA + PublicB = PublicA + PrivateB), hiding a missed update.
    public const string PrivateB = "10.0.7.21";
    /// <summary>A host on the internet.</summary>
    public const string Internet = "203.0.113.5";
    /// <summary>Another internet host (a router sending ICMP errors, a second peer).</summary>
    public const string Router = "192.0.2.1";
    public const string UnboundPublic = "198.51.100.99";
    public const string UnboundPrivate = "10.0.0.99";

    public Nat(bool inverse = false)
    {
        Table = new BindingTable();
        // The inverse table swaps public and private: translating through it undoes a translation.
        IdA = inverse ? Table.Bind(Ip(PrivateA), Ip(PublicA)) : Table.Bind(Ip(PublicA), Ip(PrivateA));
        IdB = inverse ? Table.Bind(Ip(PrivateB), Ip(PublicB)) : Table.Bind(Ip(PublicB), Ip(PrivateB));
        Translator = new Translator(Table);
        Counters = new TrafficCounters();
    }

    public BindingTable Table { get; }
    public Translator Translator { get; }
    public TrafficCounters Counters { get; }
    public int IdA { get; }
    public int IdB { get; }

    public static uint Ip(string text) =>
        Ipv4Address.TryParse(text, out uint address) ? address : throw new ArgumentException($"bad test address {text}");

    /// <summary>Translates a copy of <paramref name="frame"/>; the input array is left as it was.</summary>
    public (DropReason Verdict, byte[] Frame) Translate(byte[] frame, TranslateMode mode = TranslateMode.Infer, int? wireLength = null)
    {
        var copy = (byte[])frame.Clone();
        DropReason verdict = Translator.TranslateEthernet(copy, wireLength ?? copy.Length, Counters, mode);
        return (verdict, copy);
    }

    /// <summary>Translates a whole frame that must be forwarded; the result passes the PacketDotNet checksum oracle.</summary>
    public byte[] Forward(byte[] frame, TranslateMode mode = TranslateMode.Infer)
    {
        var (verdict, output) = Translate(frame, mode);
        Assert.Equal(DropReason.None, verdict);
        Oracle.AssertChecksumsValid(output);
        return output;
    }

    /// <summary>Asserts the frame is dropped for <paramref name="reason"/> and that not a byte of it was written.</summary>
    public void AssertDropped(byte[] frame, DropReason reason, TranslateMode mode = TranslateMode.Infer, int? wireLength = null)
    {
        var (verdict, output) = Translate(frame, mode, wireLength);
        Assert.Equal(reason, verdict);
        Assert.Equal(frame, output);
    }
}
