using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Gateway.Control.Hosting;
using Gateway.Control.Rules;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;
using Gateway.Io.Forwarding;

namespace Gateway.Cli.Hosting;

/// <summary>
/// Attaches <see cref="LabDataPath"/> (TAP devices or live interfaces) to the daemon: it reads the host's binding
/// table per frame, keeps the set of known private sources (anti-spoofing) in step with the control plane, and
/// announces newly bound public addresses with a gratuitous ARP.
/// </summary>
/// <remarks>
/// <see cref="GatewayHost.Changed"/> is raised under the control plane's lock, so the handler only touches the
/// lock-free <see cref="PrivateAddressSet"/> and queues announcements; a worker sends them. Order matters for a new
/// instance: its private address is known (InstanceAdded) before its public address is announced, so the first
/// reply from the instance is never taken for spoofing.
/// </remarks>
internal sealed class LabDataPathAttachment : IDataPath, IDataPathCounters
{
    /// <summary>The counters file in the state directory, rewritten (atomically) while counters change.</summary>
    public const string StatsFileName = "datapath-stats.json";

    private readonly LabDataPathOptions _options;
    private readonly TextWriter _log;
    private readonly TimeSpan _statsInterval;
    private readonly string? _statsPath;
    private readonly PrivateAddressSet _knownPrivates = new();
    private readonly Channel<uint> _announcements = Channel.CreateUnbounded<uint>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private GatewayHost? _host;
    private LabDataPath? _path;
    private Task _announcer = Task.CompletedTask;
    private Task _statsWriter = Task.CompletedTask;

    /// <param name="statsInterval">How often a stats line is printed (zero: only at shutdown).</param>
    /// <param name="stateDirectory">Where <see cref="StatsFileName"/> is kept (null: no file).</param>
    public LabDataPathAttachment(LabDataPathOptions options, TextWriter log, TimeSpan statsInterval, string? stateDirectory)
    {
        _options = options;
        _log = log;
        _statsInterval = statsInterval;
        _statsPath = stateDirectory is null ? null : System.IO.Path.Combine(stateDirectory, StatsFileName);
    }

    public LabDataPath? DataPath => _path;

    public Task StartAsync(GatewayHost host, CancellationToken cancellationToken)
    {
        _host = host;
        // Nothing changes before the API answers, so subscribing and then reading the instances misses nothing.
        host.Changed += OnChanged;
        foreach (uint ip in host.KnownPrivateAddresses())
        {
            _knownPrivates.Add(ip);
        }
        var options = _options;
        if (host.IsClustered)
        {
            // A cluster node starts as a standby on the cluster's virtual MACs; etcd's election makes one node active.
            options = options with { StartStandby = true, Authority = host.ForwardingAuthority };
            if (host.VirtualMacs is { } macs && Gateway.Io.L2.MacAddress.TryParse(macs.Internet, out var internetMac) && Gateway.Io.L2.MacAddress.TryParse(macs.Vpc, out var vpcMac))
            {
                options = options with { InternetMac = options.InternetMac ?? internetMac, VpcMac = options.VpcMac ?? vpcMac };
            }
        }
        try
        {
            _path = LabDataPath.Start(options, host.Bindings, _knownPrivates, host.Policer);
        }
        catch
        {
            host.Changed -= OnChanged;
            throw;
        }
        host.RoleChanged += OnRoleChanged;
        _log.WriteLine($"gateway: data path: internet {_path.DescribeInternetPort()} (MAC {_path.InternetMac}), vpc {_path.DescribeVpcPort()} (MAC {_path.VpcMac}, gateway {Gateway.Packets.Ipv4Address.Format(_path.VpcGateway)}); {_path.Workers.Count} worker{(_path.Workers.Count == 1 ? "" : "s")}; {_knownPrivates.Count} instances known");
        _announcer = Task.Run(AnnounceAsync, CancellationToken.None);
        _statsWriter = Task.Run(WriteStatsAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// etcd made this node active (true) or another one (false). Standing down is immediate; taking over switches the
    /// workers on and sends the gratuitous ARPs three times (at once, after 100 ms and 300 ms: a bridge port that was
    /// just re-enabled or a busy host may miss the first).
    /// </summary>
    private void OnRoleChanged(bool active)
    {
        var path = _path;
        if (path is null)
        {
            return;
        }
        path.SetStandby(!active);
        if (!active)
        {
            _log.WriteLine("gateway: data path: standby (another node is active)");
            return;
        }
        int sent = path.AnnounceTakeover();
        _log.WriteLine($"gateway: data path: active; gratuitous ARPs for {sent - 1} public addresses and the VPC gateway");
        _ = Task.Run(async () =>
        {
            foreach (int delay in (int[])[100, 200])
            {
                await Task.Delay(delay).ConfigureAwait(false);
                path.AnnounceTakeover();
            }
        });
    }

    private void OnChanged(ControlPlaneEvent e)
    {
        switch (e.Kind)
        {
            case ControlPlaneEventKind.InstanceAdded:
                _knownPrivates.Add(e.PrivateAddress);
                break;
            case ControlPlaneEventKind.InstanceRemoved:
                _knownPrivates.Remove(e.PrivateAddress);
                break;
            case ControlPlaneEventKind.PublicAddressBound:
                _announcements.Writer.TryWrite(e.PublicAddress); // unbounded: never fails while open
                break;
            case ControlPlaneEventKind.PublicAddressUnbound:
                break; // the table no longer has it: ARP for it goes unanswered from now on
        }
    }

    private async Task AnnounceAsync()
    {
        await foreach (uint ip in _announcements.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            // Ignored by the path when the address was unbound again meanwhile.
            _path?.OnPublicAddressBound(ip);
        }
    }

    private async Task WriteStatsAsync()
    {
        string last = "";
        var lastPrinted = DateTime.UtcNow;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                string json = StatsJson();
                if (json != last)
                {
                    last = json;
                    WriteStatsFile(json);
                }
                if (_statsInterval > TimeSpan.Zero && DateTime.UtcNow - lastPrinted >= _statsInterval)
                {
                    lastPrinted = DateTime.UtcNow;
                    _log.WriteLine(StatsLine());
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void WriteStatsFile(string json)
    {
        if (_statsPath is null)
        {
            return;
        }
        try
        {
            Gateway.Io.Pcap.OutputFile.WriteAllText(_statsPath, json);
        }
        catch (IOException e)
        {
            _log.WriteLine($"gateway: warning: cannot write {_statsPath}: {e.Message}");
        }
    }

    /// <summary>The name under which frames the kernel dropped before the gateway could take them are reported.</summary>
    public const string PortOverrun = "port-overrun";

    /// <summary>
    /// The counters as JSON: frames received, forwarded and dropped (by reason) in total; frames the kernel dropped
    /// before the gateway took them (<see cref="PortOverrun"/>, per port: never received, so not in droppedPackets);
    /// the L2 work per port; each worker's own counters (which, with the ARP maintenance thread's, add up to the
    /// totals); and the runtime's garbage collections and allocated bytes.
    /// </summary>
    public string StatsJson()
    {
        var path = _path!;
        var s = path.Snapshot();
        var (internetDrops, vpcDrops) = path.KernelDrops();
        long kernelDropped = Math.Max(0, internetDrops.Frames) + Math.Max(0, vpcDrops.Frames);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(8192);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("receivedPackets", s.ReceivedPackets);
            json.WriteNumber("receivedBytes", s.ReceivedBytes);
            json.WriteNumber("forwardedPackets", s.ForwardedPackets);
            json.WriteNumber("forwardedBytes", s.ForwardedBytes);
            json.WriteNumber("droppedPackets", s.DroppedPackets);
            json.WriteStartObject("drops");
            foreach (var reason in DropReasons.All)
            {
                json.WriteNumber(DropReasons.Name(reason), s.DropPackets(reason));
            }
            json.WriteNumber(PortOverrun, kernelDropped);
            json.WriteEndObject();
            json.WriteNumber("kernelDroppedPackets", kernelDropped);
            WritePort(json, "internet", path.InternetL2, path.InternetNeighbours, internetDrops, path.DescribeInternetPort());
            WritePort(json, "vpc", path.VpcL2, path.VpcNeighbours, vpcDrops, path.DescribeVpcPort());
            json.WriteStartArray("workers");
            foreach (var worker in path.Workers)
            {
                json.WriteStartObject();
                json.WriteNumber("index", worker.Index);
                json.WriteBoolean("readsInternet", worker.ReadsInternet);
                json.WriteBoolean("readsVpc", worker.ReadsVpc);
                WriteCounters(json, worker.Counters);
                var offloads = worker.Offloads;
                json.WriteNumber("gsoFrames", offloads.GsoFrames);
                json.WriteNumber("gsoSegments", offloads.GsoSegments);
                json.WriteNumber("softwareSegmentedFrames", offloads.SoftwareSegmentedFrames);
                json.WriteNumber("softwareSegments", offloads.SoftwareSegments);
                json.WriteNumber("checksumsFinished", offloads.ChecksumsFinished);
                json.WriteNumber("wakeups", worker.Wakeups);
                json.WriteNumber("batches", worker.Batches);
                json.WriteNumber("allocatedBytes", worker.AllocatedBytes);
                json.WriteString("scheduling", worker.SchedulingPolicy);
                json.WriteNumber("budgetExhausted", worker.BudgetExhausted);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartObject("maintenance");
            WriteCounters(json, path.MaintenanceCounters);
            json.WriteEndObject();
            json.WriteStartObject("runtime");
            json.WriteNumber("gen0Collections", GC.CollectionCount(0));
            json.WriteNumber("gen1Collections", GC.CollectionCount(1));
            json.WriteNumber("gen2Collections", GC.CollectionCount(2));
            json.WriteNumber("allocatedBytes", GC.GetTotalAllocatedBytes());
            json.WriteNumber("workerAllocatedBytes", path.Workers.Sum(w => w.AllocatedBytes));
            json.WriteEndObject();
            json.WriteNumber("knownPrivateAddresses", _knownPrivates.Count);
            json.WriteString("role", _host!.IsClustered ? (path.IsStandby ? "standby" : path.IsFenced ? "fenced" : "active") : "single");
            json.WriteString("node", _host.NodeName);
            json.WriteNumber("bindings", _host.Bindings.Count);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);

        static void WritePort(Utf8JsonWriter json, string name, Gateway.Io.L2.L2Statistics l2, int neighbours, Gateway.Io.Ports.PortKernelDrops drops, string description)
        {
            json.WriteStartObject(name);
            json.WriteString("port", l2.Port);
            json.WriteString("attachment", description);
            json.WriteString("mac", l2.Mac.ToString());
            json.WriteNumber("arpRepliesSent", l2.ArpRepliesSent);
            json.WriteNumber("arpRequestsSent", l2.ArpRequestsSent);
            json.WriteNumber("arpRequestsIgnored", l2.ArpRequestsIgnored);
            json.WriteNumber("gratuitousArpsSent", l2.GratuitousArpsSent);
            json.WriteNumber("framesNotForUs", l2.FramesNotForUs);
            json.WriteNumber("sendFailures", l2.SendFailures);
            json.WriteNumber("neighbours", neighbours);
            if (drops.Known)
            {
                json.WriteNumber("kernelDroppedPackets", drops.Frames);
            }
            else
            {
                json.WriteNull("kernelDroppedPackets");
            }
            json.WriteEndObject();
        }

        static void WriteCounters(Utf8JsonWriter json, TrafficCounters counters)
        {
            json.WriteNumber("receivedPackets", counters.ReceivedPacketCount);
            json.WriteNumber("receivedBytes", counters.ReceivedByteCount);
            json.WriteNumber("forwardedPackets", counters.ForwardedPacketCount);
            json.WriteNumber("forwardedBytes", counters.ForwardedByteCount);
            long dropped = 0;
            json.WriteStartObject("drops");
            foreach (var reason in DropReasons.All)
            {
                long packets = counters.DropPacketCount(reason);
                dropped += packets;
                json.WriteNumber(DropReasons.Name(reason), packets);
            }
            json.WriteEndObject();
            json.WriteNumber("droppedPackets", dropped);
        }
    }

    /// <summary>
    /// The counters for the console: each worker's (a worker owns one queue of both ports and does both directions of
    /// its flows), and the ARP maintenance thread's (frames forwarded but dropped later because their next hop never
    /// answered). Read lock-free from the workers' own counters; with the ports' details and the kernel's drops.
    /// </summary>
    public DataPathCounterSnapshot ReadCounters()
    {
        var path = _path;
        if (path is null)
        {
            return new DataPathCounterSnapshot([], []);
        }
        var internetL2 = path.InternetL2;
        var vpcL2 = path.VpcL2;
        var (internetDrops, vpcDrops) = path.KernelDrops();
        var rows = new List<DataPathCounterRow>();
        foreach (var worker in path.Workers)
        {
            rows.Add(Row(string.Create(CultureInfo.InvariantCulture, $"worker {worker.Index}"), "both directions, queue " + worker.Index.ToString(CultureInfo.InvariantCulture), worker.Counters,
            [
                KeyValuePair.Create("GSO super-frames", worker.Offloads.GsoFrames),
                KeyValuePair.Create("segments they stood for", worker.Offloads.GsoSegments),
                KeyValuePair.Create("super-frames segmented here", worker.Offloads.SoftwareSegmentedFrames),
            ]));
        }
        rows.Add(Row("arp", "ARP queue", path.MaintenanceCounters, [KeyValuePair.Create("frames waiting for ARP", (long)path.PendingFrames)]));
        return new DataPathCounterSnapshot(
            rows,
            [
                KeyValuePair.Create("Internet port", $"{path.DescribeInternetPort()}, MAC {path.InternetMac}; kernel dropped {KernelDropText(internetDrops)}; {L2Text(internetL2, path.InternetNeighbours)}"),
                KeyValuePair.Create("VPC port", $"{path.DescribeVpcPort()}, MAC {path.VpcMac}; kernel dropped {KernelDropText(vpcDrops)}; {L2Text(vpcL2, path.VpcNeighbours)}"),
                KeyValuePair.Create("VPC gateway", Gateway.Packets.Ipv4Address.Format(path.VpcGateway)),
                KeyValuePair.Create("Internet next hop", _options.InternetGateway is uint router ? Gateway.Packets.Ipv4Address.Format(router) : "on-link (ARP)"),
                KeyValuePair.Create("Bindings", _host!.Bindings.Count.ToString(CultureInfo.InvariantCulture)),
                KeyValuePair.Create("Known private addresses", _knownPrivates.Count.ToString(CultureInfo.InvariantCulture)),
            ]);

        static DataPathCounterRow Row(string name, string role, Gateway.DataPlane.Counters.TrafficCounters c, IReadOnlyList<KeyValuePair<string, long>> details) => new(
            name, role, c.ReceivedPacketCount, c.ReceivedByteCount, c.ForwardedPacketCount, c.ForwardedByteCount,
            [.. DropReasons.All.Select(r => KeyValuePair.Create(DropReasons.Name(r), c.DropPacketCount(r)))], details);

        static string L2Text(Gateway.Io.L2.L2Statistics l2, int neighbours) => string.Create(CultureInfo.InvariantCulture,
            $"ARP replies sent {l2.ArpRepliesSent}, requests sent {l2.ArpRequestsSent}, requests ignored {l2.ArpRequestsIgnored}, gratuitous {l2.GratuitousArpsSent}, neighbours {neighbours}");

        static string KernelDropText(Gateway.Io.Ports.PortKernelDrops drops) =>
            drops.Known ? drops.Frames.ToString(CultureInfo.InvariantCulture) + " (" + PortOverrun + ")" : "unknown";
    }

    /// <summary>One line: received, forwarded, dropped by reason (non-zero reasons only), frames the kernel dropped before us, per-worker frames.</summary>
    public string StatsLine()
    {
        var path = _path!;
        var s = path.Snapshot();
        var (internetDrops, vpcDrops) = path.KernelDrops();
        var line = new StringBuilder();
        line.Append(CultureInfo.InvariantCulture, $"gateway: data path: received {s.ReceivedPackets} frames, forwarded {s.ForwardedPackets}, dropped {s.DroppedPackets}");
        foreach (var (reason, count) in s.NonZeroDrops)
        {
            line.Append(CultureInfo.InvariantCulture, $" {reason}={count}");
        }
        line.Append(CultureInfo.InvariantCulture, $"; {PortOverrun} {Math.Max(0, internetDrops.Frames) + Math.Max(0, vpcDrops.Frames)} (kernel dropped before the gateway took them: internet {Known(internetDrops)}, vpc {Known(vpcDrops)})");
        if (path.Workers.Count > 1)
        {
            line.Append("; per worker received");
            foreach (var worker in path.Workers)
            {
                line.Append(CultureInfo.InvariantCulture, $" {worker.Counters.ReceivedPacketCount}");
            }
        }
        line.Append(CultureInfo.InvariantCulture, $"; GC {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}");
        line.Append(CultureInfo.InvariantCulture, $"; gratuitous ARPs {path.InternetL2.GratuitousArpsSent}");
        return line.ToString();

        static string Known(Gateway.Io.Ports.PortKernelDrops drops) => drops.Known ? drops.Frames.ToString(CultureInfo.InvariantCulture) : "unknown";
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            _host.Changed -= OnChanged;
            _host.RoleChanged -= OnRoleChanged;
        }
        _announcements.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _announcer.ConfigureAwait(false);
        await _statsWriter.ConfigureAwait(false);
        if (_path is not null)
        {
            string json = StatsJson();
            WriteStatsFile(json);
            _log.WriteLine(StatsLine());
            _path.Dispose(); // closes the TAP descriptors: the devices disappear, wherever they were moved
            _log.WriteLine("gateway: data path stopped");
        }
        _stop.Dispose();
    }
}
