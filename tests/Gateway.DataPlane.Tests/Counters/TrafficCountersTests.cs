using Gateway.DataPlane.Translation;
using Gateway.DataPlane.Translation.Tests;
using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Counters.Tests;

/// <summary>Received, forwarded, drops by reason and per-binding packets and bytes, as the translator counts them.</summary>
public class TrafficCountersTests
{
    [Fact]
    public void Translator_CountsReceivedForwardedAndEachDropReason_InPacketsAndWireBytes()
    {
        var nat = new Nat();
        byte[] inbound = Frames.Tcp(Internet, PublicA, 1, 2, new byte[100]);
        byte[] outbound = Frames.Udp(PrivateB, Internet, 1, 2, new byte[10]);
        byte[] arp = Frames.Arp();
        byte[] malformed = Frames.Tcp(Internet, PublicA).AsSpan(0, 20).ToArray();
        byte[] badChecksum = Frames.WithIpv4Byte(Frames.Tcp(Internet, PublicA), 8, 1, fixChecksum: false);
        byte[] unbound = Frames.Tcp(Internet, UnboundPublic);
        byte[] mismatch = Frames.IcmpError(Router, PublicA, 3, 3, Frames.Udp(PublicB, Internet, 1, 2));

        nat.Translate(inbound);
        nat.Translate(inbound);
        nat.Translate(outbound);
        nat.Translate(arp);
        nat.Translate(malformed);
        nat.Translate(badChecksum);
        nat.Translate(unbound);
        nat.Translate(unbound);
        nat.Translate(mismatch);

        var c = nat.Counters;
        Assert.Equal(9, c.ReceivedPacketCount);
        Assert.Equal((2 * inbound.Length) + outbound.Length + arp.Length + malformed.Length + badChecksum.Length + (2 * unbound.Length) + mismatch.Length, c.ReceivedByteCount);
        Assert.Equal(3, c.ForwardedPacketCount);
        Assert.Equal((2 * inbound.Length) + outbound.Length, c.ForwardedByteCount);
        Assert.Equal(1, c.DropPacketCount(DropReason.NotIpv4));
        Assert.Equal(arp.Length, c.DropByteCount(DropReason.NotIpv4));
        Assert.Equal(1, c.DropPacketCount(DropReason.Malformed));
        Assert.Equal(malformed.Length, c.DropByteCount(DropReason.Malformed));
        Assert.Equal(1, c.DropPacketCount(DropReason.BadIpChecksum));
        Assert.Equal(2, c.DropPacketCount(DropReason.NoBinding));
        Assert.Equal(2 * unbound.Length, c.DropByteCount(DropReason.NoBinding));
        Assert.Equal(1, c.DropPacketCount(DropReason.IcmpInnerMismatch));
        Assert.Equal(0, c.DropPacketCount(DropReason.SpoofedSource));

        Assert.Equal(new BindingTraffic(2, 2 * inbound.Length, 0, 0), c.ForBinding(nat.IdA));
        Assert.Equal(new BindingTraffic(0, 0, 1, outbound.Length), c.ForBinding(nat.IdB));
    }

    [Fact]
    public void Hairpin_CountsOutboundOnTheSourcesBindingAndInboundOnTheDestinations()
    {
        var nat = new Nat();
        byte[] frame = Frames.Tcp(PrivateA, PublicB, 1, 2, new byte[33]);
        nat.Forward(frame);

        Assert.Equal(new BindingTraffic(0, 0, 1, frame.Length), nat.Counters.ForBinding(nat.IdA));
        Assert.Equal(new BindingTraffic(1, frame.Length, 0, 0), nat.Counters.ForBinding(nat.IdB));
    }

    [Fact]
    public void DroppedFrames_AreNotCountedOnAnyBinding()
    {
        var nat = new Nat();
        nat.Translate(Frames.IcmpError(Router, PublicA, 3, 3, Frames.Udp(PublicB, Internet, 1, 2)));
        nat.Translate(Frames.Tcp(PrivateA, Internet), TranslateMode.FromInternet);
        Assert.Equal(default, nat.Counters.ForBinding(nat.IdA));
        Assert.Equal(default, nat.Counters.ForBinding(nat.IdB));
    }

    [Fact]
    public void Snapshot_SumsSeveralWorkers_AndListsNonZeroDropsByName()
    {
        var nat = new Nat();
        var first = new TrafficCounters();
        var second = new TrafficCounters();
        byte[] inbound = Frames.Tcp(Internet, PublicA);
        byte[] unbound = Frames.Tcp(Internet, UnboundPublic);
        nat.Translator.TranslateEthernet((byte[])inbound.Clone(), inbound.Length, first);
        nat.Translator.TranslateEthernet((byte[])inbound.Clone(), inbound.Length, second);
        nat.Translator.TranslateEthernet((byte[])unbound.Clone(), unbound.Length, second);
        nat.Translator.TranslateEthernet(Frames.Arp(), 42, second);

        var snapshot = CounterSnapshot.Of(first, second);

        Assert.Equal(4, snapshot.ReceivedPackets);
        Assert.Equal(2, snapshot.ForwardedPackets);
        Assert.Equal(2 * inbound.Length, snapshot.ForwardedBytes);
        Assert.Equal(2, snapshot.DroppedPackets);
        Assert.Equal(1, snapshot.DropPackets(DropReason.NoBinding));
        Assert.Equal(42, snapshot.DropBytes(DropReason.NotIpv4));
        Assert.Equal([KeyValuePair.Create("not-ipv4", 1L), KeyValuePair.Create("no-binding", 1L)], snapshot.NonZeroDrops.ToList());
        Assert.Equal(new BindingTraffic(2, 2 * inbound.Length, 0, 0), CounterSnapshot.ForBinding(nat.IdA, first, second));
    }

    [Fact]
    public void PerBindingCounters_GrowForIdsBeyondTheInitialCapacity()
    {
        var counters = new TrafficCounters(bindingIdCapacity: 16);
        counters.BindingInbound(5000, 100);
        counters.BindingOutbound(5000, 7);
        counters.BindingInbound(3, 1);

        Assert.Equal(new BindingTraffic(1, 100, 1, 7), counters.ForBinding(5000));
        Assert.Equal(new BindingTraffic(1, 1, 0, 0), counters.ForBinding(3));
        Assert.Equal(default, counters.ForBinding(-1));
        Assert.Equal(default, counters.ForBinding(1_000_000));
    }

    [Fact]
    public void Rebinding_CountsTheNewBindingUnderItsNewId_AndLeavesTheOldCountsAlone()
    {
        var nat = new Nat();
        byte[] frame = Frames.Tcp(Internet, PublicA, 1, 2);
        nat.Forward(frame);
        int newId = nat.Table.Bind(Ip(PublicA), Ip("10.9.9.9"));
        byte[] output = nat.Forward(frame);

        Assert.NotEqual(nat.IdA, newId);
        Assert.Equal(Frames.Tcp(Internet, "10.9.9.9", 1, 2), output);
        Assert.Equal(new BindingTraffic(1, frame.Length, 0, 0), nat.Counters.ForBinding(nat.IdA));
        Assert.Equal(new BindingTraffic(1, frame.Length, 0, 0), nat.Counters.ForBinding(newId));
    }

    [Fact]
    public void BareIpv4Translation_IsCountedLikeEthernet()
    {
        var nat = new Nat();
        byte[] packet = Frames.Ipv4Packet(Frames.Udp(PrivateA, Internet, 1, 2, [1]));
        byte[] ipv6 = Frames.Ipv6Udp().AsSpan(14).ToArray();

        Assert.Equal(DropReason.None, nat.Translator.TranslateIpv4(packet, packet.Length, nat.Counters));
        // Without an EtherType, an IPv6 packet is an IPv4 header with version 6: malformed.
        Assert.Equal(DropReason.Malformed, nat.Translator.TranslateIpv4(ipv6, ipv6.Length, nat.Counters));

        Assert.Equal(2, nat.Counters.ReceivedPacketCount);
        Assert.Equal(packet.Length + ipv6.Length, nat.Counters.ReceivedByteCount);
        Assert.Equal(packet.Length, nat.Counters.ForwardedByteCount);
        Assert.Equal(1, nat.Counters.DropPacketCount(DropReason.Malformed));
        Assert.Equal(new BindingTraffic(0, 0, 1, packet.Length), nat.Counters.ForBinding(nat.IdA));
    }

    [Fact]
    public void BindingTraffic_AddsAndSubtracts()
    {
        var a = new BindingTraffic(1, 2, 3, 4);
        var b = new BindingTraffic(10, 20, 30, 40);
        Assert.Equal(new BindingTraffic(11, 22, 33, 44), a + b);
        Assert.Equal(new BindingTraffic(9, 18, 27, 36), b - a);
    }

    [Fact]
    public void ReaderOnAnotherThread_SeesCountersOnlyGrow_WhileAWorkerCounts()
    {
        var counters = new TrafficCounters();
        const int Frames = 200_000;
        using var done = new ManualResetEventSlim();
        long regressions = 0, reads = 0;
        var reader = new Thread(() =>
        {
            long last = 0;
            while (!done.IsSet)
            {
                long now = counters.ReceivedByteCount;
                if (now < last || now % 64 != 0)
                {
                    regressions++;
                }
                last = now;
                reads++;
            }
        });
        reader.Start();
        for (int i = 0; i < Frames; i++)
        {
            counters.Received(64);
        }
        done.Set();
        reader.Join();

        Assert.Equal(0, regressions);
        Assert.True(reads > 0);
        Assert.Equal(64L * Frames, counters.ReceivedByteCount);
    }
}
