using Gateway.DataPlane.Counters;
using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>The translator tells its caller which bindings translated a frame (the ids per-binding state is keyed by).</summary>
public sealed class BindingIdsTests
{
    public static TheoryData<string, byte[], int, int> Cases()
    {
        var nat = new Nat();
        return new TheoryData<string, byte[], int, int>
        {
            { "inbound TCP", Frames.Tcp(Internet, PublicA, 1, 2), -1, nat.IdA },
            { "outbound UDP", Frames.Udp(PrivateB, Internet, 1, 2), nat.IdB, -1 },
            { "hairpin", Frames.Tcp(PrivateA, PublicB, 1, 2), nat.IdA, nat.IdB },
            { "tagged inbound", Frames.Tcp(Internet, PublicB, 1, 2, options: new FrameOptions { Vlans = [VlanTag.Dot1Q(5)] }), -1, nat.IdB },
            { "ICMP error outbound", Frames.IcmpError(PrivateA, Internet, 3, 3, Frames.Udp(Internet, PrivateA, 1, 2)), nat.IdA, -1 },
            { "unbound (dropped)", Frames.Tcp(Internet, UnboundPublic), -1, -1 },
            { "ARP (dropped)", Frames.Arp(), -1, -1 },
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TranslateEthernet_ReportsTheBindingsItUsed(string name, byte[] frame, int outbound, int inbound)
    {
        var nat = new Nat(); // same ids as the table the cases were built against: ids are handed out in order
        var copy = (byte[])frame.Clone();
        nat.Translator.TranslateEthernet(copy, copy.Length, nat.Counters, TranslateMode.Infer, out BindingIds ids);
        Assert.True(new BindingIds(outbound, inbound) == ids, $"{name}: {ids}");

        // The batch reports the same, frame by frame.
        var batch = (byte[])frame.Clone();
        var verdicts = new DropReason[1];
        var found = new BindingIds[1];
        nat.Translator.TranslateEthernetBatch(batch, [new BatchFrame(0, batch.Length, batch.Length)], verdicts, found, new TrafficCounters());
        Assert.Equal(ids, found[0]);
        Assert.Equal(copy, batch);
    }

    [Fact]
    public void TranslateIpv4_ReportsTheBindingsItUsed()
    {
        var nat = new Nat();
        byte[] packet = Frames.Ipv4Packet(Frames.Udp(PrivateA, PublicB, 1, 2, [1]));
        Assert.Equal(DropReason.None, nat.Translator.TranslateIpv4(packet, packet.Length, nat.Counters, TranslateMode.Infer, out BindingIds ids));
        Assert.Equal(new BindingIds(nat.IdA, nat.IdB), ids);
    }

    [Fact]
    public void Batch_WithTooFewBindingSlots_Throws()
    {
        var nat = new Nat();
        var buffer = Frames.Tcp(Internet, PublicA);
        BatchFrame[] frames = [new(0, buffer.Length, buffer.Length), new(0, buffer.Length, buffer.Length)];
        Assert.Throws<ArgumentException>(() => nat.Translator.TranslateEthernetBatch(buffer, frames, new DropReason[2], new BindingIds[1], nat.Counters));
    }
}
