using Gateway.Control.Hosting;
using Gateway.Control.Rules;
using Gateway.DataPlane.Policing;
using Gateway.Packets;

namespace Gateway.Control.Metering;

/// <summary>One instance's traffic as <c>gateway ctl traffic</c> and the metrics endpoint show it.</summary>
public sealed record InstanceTraffic(
    string InstanceId, uint? PublicIp, BandwidthCaps Caps, MeterTotals Totals,
    double OutMbps, double InMbps, double OutPacketsPerSecond, double InPacketsPerSecond);

/// <summary>
/// Metering as the cloud bills it: per instance and per public address, packets and bytes forwarded each way and
/// dropped by the caps, aggregated per 10-second period and persisted to the state database.
/// </summary>
/// <remarks>
/// <para>The workers only count, in their own <see cref="PolicerLane"/>s, per binding id (no I/O, no lock, no
/// allocation per packet). This service samples the lanes once a second, attributes each binding's growth to the
/// instance and public address that held the binding, and closes a period every 10 seconds of wall clock (aligned
/// to multiples of 10 s, as the Monitor API's timestamps are): the period's rows are committed in one transaction
/// (<see cref="MeteringStore.AddPeriod"/>). At shutdown the open period is flushed too; after <c>kill -9</c> only
/// the period that was open is lost.</para>
/// <para>Attribution follows the control plane's events, which carry binding ids: a binding that ends is sampled
/// once more under the control plane's lock before its id can be handed out again, so its last bytes go to its
/// owner; a new binding starts from the id's current count (ids are recycled).</para>
/// </remarks>
public sealed class TrafficMeter : IAsyncDisposable, IInstanceTrafficHistory
{
    public const int PeriodSeconds = MeteringStore.FineResolution;

    private readonly Policer _policer;
    private readonly MeteringStore _store;
    private readonly TimeProvider _clock;
    private readonly TextWriter _log;
    private readonly Lock _lock = new();
    /// <summary>One period write at a time (the timer's and the shutdown flush); held across the disk write, unlike <see cref="_lock"/>.</summary>
    private readonly Lock _write = new();
    private readonly Dictionary<int, Owner> _owners = [];
    private readonly Dictionary<(MeterKind, string), MeterTotals> _period = [];
    private readonly Dictionary<(MeterKind, string), MeterTotals> _totals;
    private readonly Dictionary<string, (MeterTotals Delta, double Seconds)> _lastRate = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private long _periodStart;
    private long _lastSampleTicks;
    private Task _loop = Task.CompletedTask;

    private sealed class Owner(string instanceId, uint publicIp, BindingMeter baseline)
    {
        public string InstanceId { get; } = instanceId;
        public uint PublicIp { get; } = publicIp;
        public BindingMeter Last { get; set; } = baseline;
    }

    public TrafficMeter(Policer policer, MeteringStore store, TimeProvider clock, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(policer);
        ArgumentNullException.ThrowIfNull(store);
        _policer = policer;
        _store = store;
        _clock = clock ?? TimeProvider.System;
        _log = log ?? TextWriter.Null;
        _totals = new Dictionary<(MeterKind, string), MeterTotals>(_store.Totals());
        _periodStart = PeriodOf(_clock.GetUtcNow().ToUnixTimeSeconds());
        _lastSampleTicks = _clock.GetTimestamp();
    }

    public MeteringStore Store => _store;

    /// <summary>The web console's traffic chart: the instance's closed periods from the store (10 s, then 5 min points).</summary>
    public IReadOnlyList<TrafficPoint> Read(string instanceId, DateTimeOffset since) =>
        [.. _store.Read(MeterKind.Instance, [instanceId], since.ToUnixTimeSeconds(), long.MaxValue).Select(row => new TrafficPoint(
            DateTimeOffset.FromUnixTimeSeconds(row.PeriodStart), TimeSpan.FromSeconds(row.Resolution),
            row.Totals.InBytes, row.Totals.OutBytes, row.Totals.InPackets, row.Totals.OutPackets))];

    /// <summary>Starts following <paramref name="plane"/>'s bindings and the once-a-second sampler.</summary>
    internal void Start(ControlPlane plane)
    {
        // Subscribe first, then read the bindings; the plane's lock is never taken while holding ours (events arrive under
        // the plane's lock and take ours: the other order would deadlock with a store feed applying changes meanwhile).
        plane.Changed += OnChanged;
        var bindings = plane.MeteredBindings();
        lock (_lock)
        {
            foreach (var (instanceId, publicIp, bindingId) in bindings)
            {
                _owners.TryAdd(bindingId, new Owner(instanceId, publicIp, _policer.MeterOf(bindingId))); // an event may have been first
            }
        }
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Samples now and closes every period that has ended (the loop does this every second; tests call it).</summary>
    public void Tick()
    {
        lock (_write)
        {
            long current;
            lock (_lock)
            {
                Sample();
                current = PeriodOf(_clock.GetUtcNow().ToUnixTimeSeconds());
                if (current == _periodStart)
                {
                    return;
                }
            }
            // The write happens outside the meter's lock: control-plane events (raised under the plane's lock) must never
            // wait for the disk.
            WritePeriod();
            lock (_lock)
            {
                _periodStart = current;
            }
        }
    }

    /// <summary>Samples and writes the open period (shutdown): what a restart finds.</summary>
    public void Flush()
    {
        lock (_write)
        {
            lock (_lock)
            {
                Sample();
            }
            WritePeriod();
        }
    }

    /// <summary>Each instance's caps, last-second rates and totals (stored history plus what is not written yet).</summary>
    public IReadOnlyList<InstanceTraffic> Instances(IReadOnlyList<(string InstanceId, uint? PublicIp, BandwidthCaps Caps)> instances)
    {
        ArgumentNullException.ThrowIfNull(instances);
        lock (_lock)
        {
            Sample();
            var result = new List<InstanceTraffic>(instances.Count);
            foreach (var (id, publicIp, caps) in instances)
            {
                var key = (MeterKind.Instance, id);
                var totals = _totals.GetValueOrDefault(key) + _period.GetValueOrDefault(key);
                var (delta, seconds) = _lastRate.GetValueOrDefault(id);
                seconds = Math.Max(seconds, 1e-9);
                result.Add(new InstanceTraffic(id, publicIp, caps, totals,
                    delta.OutBytes * 8 / seconds / 1e6, delta.InBytes * 8 / seconds / 1e6, delta.OutPackets / seconds, delta.InPackets / seconds));
            }
            return result;
        }
    }

    /// <summary>Totals per key (instances and public addresses), stored plus open, for the metrics endpoint.</summary>
    public IReadOnlyList<(MeterKind Kind, string Key, MeterTotals Totals)> AllTotals()
    {
        lock (_lock)
        {
            Sample();
            var keys = _totals.Keys.Concat(_period.Keys).Distinct();
            return [.. keys.Select(k => (k.Item1, k.Item2, _totals.GetValueOrDefault(k) + _period.GetValueOrDefault(k)))];
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        Flush();
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _clock);
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
        {
            try
            {
                Tick();
            }
#pragma warning disable CA1031 // Metering must not take the daemon down; the next tick retries what was not written.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _log.WriteLine($"gateway: metering: cannot write the period starting {MeteringStore.FormatTime(_periodStart)}: {e.Message}; it stays in memory and is retried.");
            }
        }
    }

    /// <summary>Raised under the control plane's lock, in order: keep it short.</summary>
    private void OnChanged(ControlPlaneEvent e)
    {
        lock (_lock)
        {
            switch (e.Kind)
            {
                case ControlPlaneEventKind.PublicAddressUnbound when e.BindingId >= 0:
                    if (_owners.TryGetValue(e.BindingId, out var gone) && gone.PublicIp == e.PublicAddress)
                    {
                        Attribute(e.BindingId, gone);
                        _owners.Remove(e.BindingId);
                    }
                    break;
                case ControlPlaneEventKind.PublicAddressBound when e.BindingId >= 0 && e.InstanceId is not null:
                    if (_owners.TryGetValue(e.BindingId, out var previous))
                    {
                        Attribute(e.BindingId, previous); // the id was recycled before its Unbound arrived
                    }
                    _owners[e.BindingId] = new Owner(e.InstanceId, e.PublicAddress, _policer.MeterOf(e.BindingId));
                    break;
                default:
                    break;
            }
        }
    }

    private void Sample()
    {
        long now = _clock.GetTimestamp();
        double seconds = _clock.GetElapsedTime(_lastSampleTicks, now).TotalSeconds;
        _lastSampleTicks = now;
        var perInstance = new Dictionary<string, MeterTotals>(StringComparer.Ordinal);
        foreach (var (id, owner) in _owners)
        {
            var delta = Attribute(id, owner);
            perInstance[owner.InstanceId] = perInstance.GetValueOrDefault(owner.InstanceId) + delta;
        }
        if (seconds >= 0.2)
        {
            _lastRate.Clear();
            foreach (var (id, delta) in perInstance)
            {
                _lastRate[id] = (delta, seconds);
            }
        }
    }

    private MeterTotals Attribute(int bindingId, Owner owner)
    {
        var now = _policer.MeterOf(bindingId);
        var d = now - owner.Last;
        owner.Last = now;
        var delta = new MeterTotals(d.OutboundPackets, d.OutboundBytes, d.InboundPackets, d.InboundBytes,
            d.OutboundDroppedPackets, d.OutboundDroppedBytes, d.InboundDroppedPackets, d.InboundDroppedBytes);
        if (!delta.IsZero)
        {
            Add((MeterKind.Instance, owner.InstanceId), delta);
            Add((MeterKind.Address, Ipv4Address.Format(owner.PublicIp)), delta);
        }
        return delta;
    }

    private void Add((MeterKind, string) key, MeterTotals delta) => _period[key] = _period.GetValueOrDefault(key) + delta;

    /// <summary>Writes the open period (called under <c>_write</c>, not under the meter's lock).</summary>
    private void WritePeriod()
    {
        long periodStart;
        List<((MeterKind, string) Key, MeterTotals Totals)> rows;
        lock (_lock)
        {
            periodStart = _periodStart;
            rows = [.. _period.Select(p => (p.Key, p.Value))];
            _period.Clear();
            foreach (var (key, totals) in rows)
            {
                _totals[key] = _totals.GetValueOrDefault(key) + totals;
            }
        }
        try
        {
            _store.AddPeriod(periodStart, rows.Select(r => (r.Key.Item1, r.Key.Item2, r.Totals)));
        }
        catch
        {
            lock (_lock)
            {
                // Not written: back into the open period (the next tick retries), out of the written totals.
                foreach (var (key, totals) in rows)
                {
                    _period[key] = _period.GetValueOrDefault(key) + totals;
                    _totals[key] = _totals.GetValueOrDefault(key) - totals;
                }
            }
            throw;
        }
    }

    private static long PeriodOf(long unixSeconds) => unixSeconds - (unixSeconds % PeriodSeconds);
}
