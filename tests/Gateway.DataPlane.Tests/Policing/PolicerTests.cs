using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;
using Gateway.DataPlane.Translation.Tests;
using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Policing.Tests;

/// <summary>
/// The token bucket's arithmetic, pinned exactly through the translator: refill, depth, the 1,514-byte floor, charge
/// by IPv4 total length, both directions, hairpin on both bindings, GSO by segments, and workers racing on one bucket.
/// </summary>
public class PolicerTests
{
    private const long Ms = 1_000_000 * Policer.TicksPerNanosecond;
    /// <summary>A moment long after the start: every bucket is full.</summary>
    private const long T0 = 10_000 * Ms;

    /// <summary>A UDP frame whose IPv4 total length is exactly <paramref name="ipLength"/> (20 IP + 8 UDP + payload).</summary>
    private static byte[] UdpOfIpLength(string source, string destination, int ipLength, int padding = 0) =>
        Frames.Udp(source, destination, 40000, 5001, new byte[ipLength - 28], padding == 0 ? null : new FrameOptions { Padding = padding });

    private sealed class Setup
    {
        public Setup(BandwidthCaps a, BandwidthCaps b)
        {
            Nat = new Nat();
            Policer = new Policer();
            Policer.SetCaps(Nat.IdA, a);
            Policer.SetCaps(Nat.IdB, b);
            Lane = Policer.CreateLane();
            Lane.Now = T0;
        }

        public Nat Nat { get; }
        public Policer Policer { get; }
        public PolicerLane Lane { get; }

        public DropReason Send(byte[] frame, TranslateMode mode = TranslateMode.Infer)
        {
            var copy = (byte[])frame.Clone();
            DropReason verdict = Nat.Translator.TranslateEthernet(copy, copy.Length, Nat.Counters, mode, Lane);
            if (verdict != DropReason.None)
            {
                Assert.Equal(frame, copy); // a frame the cap refuses leaves as it came
            }
            return verdict;
        }

        /// <summary>Sends copies of <paramref name="frame"/> until one is refused; returns how many passed.</summary>
        public int SendUntilRefused(byte[] frame, int limit = 1_000_000)
        {
            for (int n = 0; n < limit; n++)
            {
                DropReason verdict = Send(frame);
                if (verdict == DropReason.BandwidthExceeded)
                {
                    return n;
                }
                Assert.Equal(DropReason.None, verdict);
            }
            throw new InvalidOperationException("never refused");
        }
    }

    /// <summary><c>gateway run --bandwidth-caps off</c>: the caps are told but not enforced; the lane still meters.</summary>
    [Fact]
    public void APolicerThatDoesNotEnforce_DropsNothing_AndStillMeters()
    {
        var nat = new Nat();
        var policer = new Policer { Enforcing = false };
        policer.SetCaps(nat.IdA, BandwidthCaps.FromMbps(1, 1));
        Assert.Equal(BandwidthCaps.Unlimited, policer.CapsOf(nat.IdA));
        var lane = policer.CreateLane();
        lane.Now = T0;
        byte[] frame = UdpOfIpLength(Internet, PublicA, 1500);
        for (int i = 0; i < 1000; i++) // 1.5 MB at one instant: 240 times the 1 Mbps bucket
        {
            var copy = (byte[])frame.Clone();
            Assert.Equal(DropReason.None, nat.Translator.TranslateEthernet(copy, copy.Length, nat.Counters, TranslateMode.Infer, lane));
        }
        var meter = policer.MeterOf(nat.IdA);
        Assert.Equal((1000L, 1_500_000L, 0L), (meter.InboundPackets, meter.InboundBytes, meter.InboundDroppedPackets));
    }

    [Fact]
    public void Arithmetic_ByteTimesAndDepths_AreTheDocumentedNumbers()
    {
        // 100 Mbps: 80 ns per byte = 1,280 ticks; a 1,250-byte packet 100 µs.
        Assert.Equal(1_600_000, Policer.CostTicks(1250, 100_000));
        Assert.Equal(1250 * 1280 * 20, Policer.CostTicks(1250, 5_000));
        // 3 Mbps does not divide 128,000: 42,666.67 ticks per byte, rounded up in 1/65536ths, then per packet.
        Assert.Equal(42_667, Policer.CostTicks(1, 3_000));
        // 1,500 bytes are 64,000,000 ticks exactly; the rounded-up byte time makes it one tick more (the documented bound).
        Assert.Equal(64_000_001, Policer.CostTicks(1500, 3_000));
        // Depth: 50 ms of the cap, never less than 1,514 bytes.
        Assert.Equal(625_000, Policer.DepthBytes(100_000));
        Assert.Equal(31_250, Policer.DepthBytes(5_000));
        Assert.Equal(1514, Policer.DepthBytes(100));
        Assert.Equal(50 * Ms, Policer.ToleranceTicks(100_000));
        Assert.Equal(Policer.CostTicks(1514, 100), Policer.ToleranceTicks(100));
    }

    [Fact]
    public void Depth_AFullBucketPassesExactly50MsOfTheCap()
    {
        var s = new Setup(BandwidthCaps.FromMbps(100, 100), BandwidthCaps.Unlimited);
        // 100 Mbps × 50 ms = 625,000 bytes = 500 packets of 1,250 bytes, and not one more.
        Assert.Equal(500, s.SendUntilRefused(UdpOfIpLength(PrivateA, Internet, 1250)));
        Assert.Equal(1, s.Nat.Counters.DropPacketCount(DropReason.BandwidthExceeded));
    }

    [Fact]
    public void Refill_TokensComeBackAtTheCapsRate_ToTheByte()
    {
        var s = new Setup(BandwidthCaps.FromMbps(100, 100), BandwidthCaps.Unlimited);
        byte[] frame = UdpOfIpLength(PrivateA, Internet, 1250);
        Assert.Equal(500, s.SendUntilRefused(frame));

        // 1 ms at 100 Mbps = 12,500 bytes = exactly 10 packets.
        s.Lane.Now = T0 + Ms;
        Assert.Equal(10, s.SendUntilRefused(frame));

        // One tick short of one packet's time: still refused; at the tick, it passes.
        s.Lane.Now = T0 + Ms + Policer.CostTicks(1250, 100_000) - 1;
        Assert.Equal(DropReason.BandwidthExceeded, s.Send(frame));
        s.Lane.Now++;
        Assert.Equal(DropReason.None, s.Send(frame));

        // A long pause refills to the depth and no further.
        s.Lane.Now += 10_000 * Ms;
        Assert.Equal(500, s.SendUntilRefused(frame));
    }

    [Fact]
    public void Floor_BelowAbout242Kbps_TheBucketStillHoldsOneFullFrame()
    {
        // 0.1 Mbps carries 625 bytes in 50 ms; the bucket holds 1,514 all the same.
        var s = new Setup(new BandwidthCaps(100, 100), BandwidthCaps.Unlimited);
        Assert.Equal(DropReason.None, s.Send(UdpOfIpLength(PrivateA, Internet, 1500)));
        // 14 bytes left: a 28-byte packet does not fit...
        byte[] small = UdpOfIpLength(PrivateA, Internet, 28);
        Assert.Equal(DropReason.BandwidthExceeded, s.Send(small));
        // ...until 14 more bytes have flowed in at 100 kbps (80 µs each).
        s.Lane.Now += Policer.CostTicks(14, 100);
        Assert.Equal(DropReason.None, s.Send(small));
        Assert.Equal(DropReason.BandwidthExceeded, s.Send(small));
    }

    [Fact]
    public void Charge_IsTheIpv4TotalLength_NotTheFrameWithItsPadding()
    {
        // 1 Mbps: 6,250 bytes of depth = 223 packets of 28 bytes (6,244), although each frame is 60 bytes with padding.
        var s = new Setup(BandwidthCaps.FromMbps(1, 1), BandwidthCaps.Unlimited);
        byte[] padded = UdpOfIpLength(PrivateA, Internet, 28, padding: 18);
        Assert.Equal(60, padded.Length);
        Assert.Equal(223, s.SendUntilRefused(padded));
        Assert.Equal(new BindingMeter(223, 223 * 28, 0, 0, 1, 28, 0, 0), s.Policer.MeterOf(s.Nat.IdA));
    }

    [Fact]
    public void Directions_HaveTheirOwnBuckets_OutboundBySourceInboundByDestination()
    {
        // A: 1 Mbps out (6,250 B), 10 Mbps in (62,500 B).
        var s = new Setup(BandwidthCaps.FromMbps(1, 10), BandwidthCaps.Unlimited);
        Assert.Equal(50, s.SendUntilRefused(UdpOfIpLength(Internet, PublicA, 1250)));
        Assert.Equal(5, s.SendUntilRefused(UdpOfIpLength(PrivateA, Internet, 1250)));
        Assert.Equal(new BindingMeter(5, 5 * 1250, 50, 50 * 1250, 1, 1250, 1, 1250), s.Policer.MeterOf(s.Nat.IdA));
        // The translator's per-binding counters saw only what was forwarded.
        Assert.Equal(new BindingTraffic(50, 50 * UdpOfIpLength(Internet, PublicA, 1250).Length, 5, 5 * UdpOfIpLength(PrivateA, Internet, 1250).Length), s.Nat.Counters.ForBinding(s.Nat.IdA));
    }

    [Fact]
    public void Hairpin_IsChargedOnBothBindings_SendersOutboundThenReceiversInbound()
    {
        // A sends to B's public address: A's outbound (1 Mbps, 6,250 B) and B's inbound (10 Mbps, 62,500 B) both pay.
        var s = new Setup(BandwidthCaps.FromMbps(1, 10), BandwidthCaps.FromMbps(10, 10));
        Assert.Equal(5, s.SendUntilRefused(UdpOfIpLength(PrivateA, PublicB, 1250)));
        // B's inbound bucket lost 5 packets' worth (45 left), and nothing for the refused sixth.
        Assert.Equal(45, s.SendUntilRefused(UdpOfIpLength(Internet, PublicB, 1250)));
        Assert.Equal(new BindingMeter(5, 6250, 0, 0, 1, 1250, 0, 0), s.Policer.MeterOf(s.Nat.IdA));
        Assert.Equal(new BindingMeter(0, 0, 50, 50 * 1250, 0, 0, 1, 1250), s.Policer.MeterOf(s.Nat.IdB));

        // The receiver's cap refusing: A's outbound was sent (and metered), B's inbound dropped it.
        var t = new Setup(BandwidthCaps.FromMbps(100, 100), BandwidthCaps.FromMbps(1, 1)); // B's inbound: 6,250 B
        Assert.Equal(5, t.SendUntilRefused(UdpOfIpLength(PrivateA, PublicB, 1250)));
        Assert.Equal(new BindingMeter(6, 6 * 1250, 0, 0, 0, 0, 0, 0), t.Policer.MeterOf(t.Nat.IdA));
        Assert.Equal(new BindingMeter(0, 0, 5, 5 * 1250, 0, 0, 1, 1250), t.Policer.MeterOf(t.Nat.IdB));
    }

    [Fact]
    public void Gso_SuperFramesAreChargedAsTheSegmentsTheyBecome()
    {
        var policer = new Policer();
        policer.SetCaps(7, BandwidthCaps.FromMbps(100, 100));
        var lane = policer.CreateLane();
        lane.Now = T0;
        // 64 KiB of TCP as 45 segments of 52 + 1,448 = 1,500 bytes: the bucket (625,000 B) holds 416 of them.
        for (int i = 0; i < 9; i++)
        {
            Assert.Equal(45, lane.AdmitSegments(7, -1, 52, 1448, 45, 1448));
        }
        Assert.Equal(11, lane.AdmitSegments(7, -1, 52, 1448, 45, 1448)); // segment it: 11 go, 34 are dropped
        Assert.Equal(0, lane.AdmitSegments(7, -1, 52, 1448, 45, 1448));
        Assert.Equal(new BindingMeter(416, 416 * 1500, 0, 0, 34 + 45, 79 * 1500, 0, 0), lane.MeterOf(7));

        // A short last segment costs its own length: 3 segments of 1,500 and one of 52 + 100.
        lane.Now += 10_000 * Ms;
        Assert.Equal(4, lane.AdmitSegments(7, -1, 52, 1448, 4, 100));
        Assert.Equal(416 + 4, lane.MeterOf(7).OutboundPackets);
        Assert.Equal((416 * 1500) + (3 * 1500) + 152, lane.MeterOf(7).OutboundBytes);
    }

    [Fact]
    public void Gso_Hairpin_TheReceiversBucketIsOfferedOnlyWhatTheSendersPassed()
    {
        var policer = new Policer();
        policer.SetCaps(1, BandwidthCaps.FromMbps(1, 1));   // sender: 6,250 B out = 4 segments of 1,500
        policer.SetCaps(2, BandwidthCaps.FromMbps(100, 2)); // receiver: 12,500 B in
        var lane = policer.CreateLane();
        lane.Now = T0;
        Assert.Equal(4, lane.AdmitSegments(1, 2, 52, 1448, 10, 1448));
        Assert.Equal(new BindingMeter(4, 6000, 0, 0, 6, 9000, 0, 0), lane.MeterOf(1));
        Assert.Equal(new BindingMeter(0, 0, 4, 6000, 0, 0, 0, 0), lane.MeterOf(2));
    }

    [Fact]
    public void CapChanges_TakeEffectAtOnce_AndRefillTheBucket()
    {
        var s = new Setup(BandwidthCaps.FromMbps(1, 10), BandwidthCaps.Unlimited);
        byte[] frame = UdpOfIpLength(PrivateA, Internet, 1250);
        Assert.Equal(5, s.SendUntilRefused(frame));
        s.Policer.SetCaps(s.Nat.IdA, BandwidthCaps.FromMbps(2, 10));
        Assert.Equal(10, s.SendUntilRefused(frame)); // full at the new depth (12,500 B), same instant
        s.Lane.Now += Ms;
        Assert.Equal(DropReason.None, s.Send(UdpOfIpLength(PrivateA, Internet, 250))); // 2 Mbps: 250 B per ms
        Assert.Equal(DropReason.BandwidthExceeded, s.Send(UdpOfIpLength(PrivateA, Internet, 28)));

        s.Policer.SetCaps(s.Nat.IdA, BandwidthCaps.Unlimited);
        Assert.Equal(BandwidthCaps.Unlimited, s.Policer.CapsOf(s.Nat.IdA));
        for (int i = 0; i < 10_000; i++)
        {
            Assert.Equal(DropReason.None, s.Send(frame));
        }
    }

    [Fact]
    public void Uncapped_Bindings_AreMeteredAndNeverRefused()
    {
        var s = new Setup(BandwidthCaps.Unlimited, BandwidthCaps.Unlimited);
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(DropReason.None, s.Send(UdpOfIpLength(PrivateA, PublicB, 1250)));
        }
        Assert.Equal(1000, s.Policer.MeterOf(s.Nat.IdA).OutboundPackets);
        Assert.Equal(1000 * 1250, s.Policer.MeterOf(s.Nat.IdB).InboundBytes);
    }

    [Fact]
    public void RacingWorkers_OnOneBucket_TakeExactlyItsDepth_NoChargeLostOrDoubled()
    {
        var policer = new Policer();
        policer.SetCaps(3, BandwidthCaps.FromMbps(100, 100));
        const int Workers = 4;
        var lanes = Enumerable.Range(0, Workers).Select(_ => policer.CreateLane()).ToArray();
        using var start = new Barrier(Workers);
        var threads = lanes.Select(lane => new Thread(() =>
        {
            lane.Now = T0; // everyone at one instant: no refill, so exactly the depth may pass
            start.SignalAndWait();
            for (int i = 0; i < 20_000; i++)
            {
                lane.Admit(3, -1, 100);
            }
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }
        foreach (var t in threads)
        {
            t.Join();
        }
        var meter = policer.MeterOf(3);
        Assert.Equal(6250, meter.OutboundPackets); // 625,000 B / 100 B
        Assert.Equal((Workers * 20_000) - 6250, meter.OutboundDroppedPackets);
    }

    [Fact]
    public void TranslateWithoutALane_IsNeverPoliced()
    {
        var s = new Setup(BandwidthCaps.FromMbps(1, 1), BandwidthCaps.Unlimited);
        byte[] frame = UdpOfIpLength(PrivateA, Internet, 1250);
        for (int i = 0; i < 100; i++)
        {
            var copy = (byte[])frame.Clone();
            Assert.Equal(DropReason.None, s.Nat.Translator.TranslateEthernet(copy, copy.Length, s.Nat.Counters));
        }
    }

    [Fact]
    public void Caps_OutOfRange_AreRefused()
    {
        var policer = new Policer();
        Assert.Throws<ArgumentOutOfRangeException>(() => policer.SetCaps(0, new BandwidthCaps(63, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => policer.SetCaps(0, new BandwidthCaps(0, BandwidthCaps.MaxKbps + 1)));
        Assert.Equal(10_000, BandwidthCaps.InboundKbpsByRule(5_000));
        Assert.Equal(10_000, BandwidthCaps.InboundKbpsByRule(10_000));
        Assert.Equal(20_000, BandwidthCaps.InboundKbpsByRule(20_000));
    }
}
