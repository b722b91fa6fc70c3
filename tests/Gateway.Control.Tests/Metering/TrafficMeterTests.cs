using Gateway.Control.Rules;
using Gateway.Control.Rules.Tests;
using Gateway.DataPlane.Policing;

namespace Gateway.Control.Metering.Tests;

/// <summary>
/// Metering over a real control plane, policer and SQLite store, on a clock the test moves: periods close on 10-second
/// boundaries, the open period is flushed at shutdown, totals survive a new meter over the same database, a binding
/// that ends keeps its last bytes, and old 10-second points fold into 5-minute ones.
/// </summary>
public sealed class TrafficMeterTests : IDisposable
{
    private readonly ControlPlaneFixture _f = new();
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_003));

    public void Dispose() => _f.Dispose();

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;
        public void Advance(TimeSpan by) => _now += by;
        public override DateTimeOffset GetUtcNow() => _now;
        public override long GetTimestamp() => _now.UtcTicks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }

    private (string Instance, int BindingId, string Address) Run(int mbps = 10)
    {
        string id = _f.RunOne(bandwidth: mbps);
        uint ip = _f.Instance(id).PublicIp!.Value;
        Assert.True(_f.Table.TryGetPrivate(ip, out _, out int bindingId));
        return (id, bindingId, Gateway.Packets.Ipv4Address.Format(ip));
    }

    private MeteringStore OpenStore() => MeteringStore.Open(Path.Combine(_f.Directory, Gateway.Control.Store.SqliteStore.FileName));

    [Fact]
    public async Task Periods_CloseOnTenSecondBoundaries_AndShutdownFlushesTheOpenOne()
    {
        var (instance, id, address) = Run();
        using var store = OpenStore();
        var meter = new TrafficMeter(_f.Policer, store, _clock, TextWriter.Null);
        meter.Start(_f.Plane);
        var lane = _f.Policer.CreateLane();
        lane.Now = 1;
        for (int i = 0; i < 5; i++)
        {
            Assert.True(lane.Admit(id, -1, 1000));
        }
        Assert.True(lane.Admit(-1, id, 300));

        meter.Tick(); // 1,800,000,003: the period 1,800,000,000 is open
        Assert.Null(store.LastPeriod);
        _clock.Advance(TimeSpan.FromSeconds(10));
        meter.Tick();
        Assert.Equal(1_800_000_000, store.LastPeriod);
        var row = Assert.Single(store.Read(MeterKind.Instance, [instance], 0, long.MaxValue));
        Assert.Equal((1_800_000_000, 10), (row.PeriodStart, row.Resolution));
        Assert.Equal(new MeterTotals(5, 5000, 1, 300, 0, 0, 0, 0), row.Totals);
        Assert.Equal(row.Totals, Assert.Single(store.Read(MeterKind.Address, [address], 0, long.MaxValue)).Totals);

        lane.Admit(id, -1, 700);
        await meter.DisposeAsync(); // shutdown: the open period (1,800,000,010) is written
        var rows = store.Read(MeterKind.Instance, [instance], 0, long.MaxValue);
        Assert.Equal([1_800_000_000L, 1_800_000_010L], rows.Select(r => r.PeriodStart));
        Assert.Equal(700, rows[1].Totals.OutBytes);

        // A restart's meter resumes from the stored totals.
        using var again = OpenStore();
        var restarted = new TrafficMeter(_f.Policer, again, _clock, TextWriter.Null);
        var totals = restarted.AllTotals().Single(t => t.Kind == MeterKind.Instance && t.Key == instance).Totals;
        Assert.Equal(new MeterTotals(6, 5700, 1, 300, 0, 0, 0, 0), totals);
    }

    [Fact]
    public async Task ABindingThatEnds_KeepsItsLastBytes_AndDropsByTheCapAreMetered()
    {
        var (instance, id, _) = Run(mbps: 1); // 1 Mbps: 6,250 bytes of bucket
        using var store = OpenStore();
        var meter = new TrafficMeter(_f.Policer, store, _clock, TextWriter.Null);
        meter.Start(_f.Plane);
        var lane = _f.Policer.CreateLane();
        lane.Now = 1;
        int passed = 0;
        for (int i = 0; i < 10; i++)
        {
            passed += lane.Admit(id, -1, 1250) ? 1 : 0;
        }
        Assert.Equal(5, passed);
        _f.Plane.TerminateInstances([instance], releaseAddress: false); // the binding ends before any sample
        await meter.DisposeAsync();
        var t = store.Read(MeterKind.Instance, [instance], 0, long.MaxValue).Single().Totals;
        Assert.Equal(new MeterTotals(5, 6250, 0, 0, 5, 6250, 0, 0), t);
    }

    [Fact]
    public void TenSecondPointsOlderThanADay_FoldIntoFiveMinutePoints()
    {
        using var store = OpenStore();
        long now = 1_800_000_000;
        long old = now - MeteringStore.FineRetentionSeconds - 600; // a multiple of 300 minus 600
        store.AddPeriod(old, [(MeterKind.Instance, "ins-aaaaaaaa", new MeterTotals(1, 100, 0, 0, 0, 0, 0, 0))]);
        store.AddPeriod(old + 10, [(MeterKind.Instance, "ins-aaaaaaaa", new MeterTotals(2, 200, 0, 0, 0, 0, 0, 0))]);
        store.AddPeriod(now, [(MeterKind.Instance, "ins-aaaaaaaa", new MeterTotals(4, 400, 0, 0, 0, 0, 0, 0))]);
        var rows = store.Read(MeterKind.Instance, ["ins-aaaaaaaa"], 0, long.MaxValue);
        Assert.Equal([(old - (old % 300), 300, 300L), (now, 10, 400L)], rows.Select(r => (r.PeriodStart, r.Resolution, r.Totals.OutBytes)));
        Assert.Equal(700, store.Totals()[(MeterKind.Instance, "ins-aaaaaaaa")].OutBytes);

        store.AddPeriod(now + MeteringStore.CoarseRetentionSeconds + 300, []);
        Assert.DoesNotContain(store.Read(MeterKind.Instance, ["ins-aaaaaaaa"], 0, long.MaxValue), r => r.Resolution == 300);
    }
}
