using Gateway.TestSupport;
using Xunit.Abstractions;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>Zero bytes allocated per translated frame in steady state, for every kind of traffic and every verdict.</summary>
public class ZeroAllocationTests(ITestOutputHelper output)
{
    private const int WarmUp = 2_000;
    private const int Measured = 20_000;

    public static TheoryData<string, string> Cases => TrafficCorpus.All();

    [Theory]
    [MemberData(nameof(Cases))]
    public void TranslatingAForwardedFrame_AllocatesNothing(string direction, string kind)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        AssertNoAllocation(TrafficCorpus.Case(kind).Build(d.Source, d.Destination), DropReason.None, $"{direction}/{kind}");
    }

    public static TheoryData<string> DropCases => new() { "not-ipv4", "malformed", "bad-ip-checksum", "no-binding", "icmp-inner-mismatch", "snap-cut" };

    [Theory]
    [MemberData(nameof(DropCases))]
    public void DroppingAFrame_AllocatesNothing(string reason)
    {
        byte[] bad = Frames.Tcp(Internet, PublicA);
        bad[14 + 10] ^= 1;
        var (frame, expected) = reason switch
        {
            "not-ipv4" => (Frames.Arp(), DropReason.NotIpv4),
            "malformed" => (Frames.Tcp(Internet, PublicA).AsSpan(0, 30).ToArray(), DropReason.Malformed),
            "bad-ip-checksum" => (bad, DropReason.BadIpChecksum),
            "no-binding" => (Frames.Tcp(Internet, UnboundPublic), DropReason.NoBinding),
            "icmp-inner-mismatch" => (Frames.IcmpError(Router, PublicA, 3, 3, Frames.Udp(PublicB, Internet, 1, 2)), DropReason.IcmpInnerMismatch),
            _ => (Frames.Tcp(Internet, PublicA, 1, 2, new byte[1000]).AsSpan(0, 64).ToArray(), DropReason.None),
        };
        AssertNoAllocation(frame, expected, reason, wireLength: reason == "snap-cut" ? 1054 : null);
    }

    private void AssertNoAllocation(byte[] frame, DropReason expected, string name, int? wireLength = null)
    {
        var nat = new Nat();
        var counters = nat.Counters;
        var translator = nat.Translator;
        byte[] buffer = new byte[frame.Length];
        int wire = wireLength ?? frame.Length;

        for (int i = 0; i < WarmUp; i++)
        {
            frame.CopyTo(buffer, 0);
            Assert.Equal(expected, translator.TranslateEthernet(buffer, wire, counters, TranslateMode.Infer));
        }

        int wrong = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Measured; i++)
        {
            frame.AsSpan().CopyTo(buffer);
            if (translator.TranslateEthernet(buffer, wire, counters, TranslateMode.Infer) != expected)
            {
                wrong++;
            }
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        output.WriteLine($"{name}: {allocated} bytes allocated over {Measured} translations");
        Assert.Equal(0, wrong);
        Assert.Equal(0, allocated);
    }
}
