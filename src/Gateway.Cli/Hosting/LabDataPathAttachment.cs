using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Gateway.Control.Hosting;
using Gateway.Control.Rules;
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
            _path = LabDataPath.Start(options, host.Bindings, _knownPrivates);
        }
        catch
        {
            host.Changed -= OnChanged;
            throw;
        }
        host.RoleChanged += OnRoleChanged;
        _log.WriteLine($"gateway: data path: internet {Describe(_options.InternetTap, _options.InternetInterface)} (MAC {_path.InternetMac}), vpc {Describe(_options.VpcTap, _options.VpcInterface)} (MAC {_path.VpcMac}, gateway {Gateway.Packets.Ipv4Address.Format(_path.VpcGateway)}); {_knownPrivates.Count} instances known");
        _announcer = Task.Run(AnnounceAsync, CancellationToken.None);
        _statsWriter = Task.Run(WriteStatsAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    private static string Describe(string? tap, string? iface) => tap is not null ? $"TAP {tap}" : $"interface {iface}";

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

    /// <summary>The counters as JSON: frames received, forwarded and dropped (by reason), and the L2 work per port.</summary>
    public string StatsJson()
    {
        var path = _path!;
        var s = path.Snapshot();
        var drops = new JsonObject();
        foreach (var reason in DropReasons.All)
        {
            drops[DropReasons.Name(reason)] = s.DropPackets(reason);
        }
        var root = new JsonObject
        {
            ["receivedPackets"] = s.ReceivedPackets,
            ["receivedBytes"] = s.ReceivedBytes,
            ["forwardedPackets"] = s.ForwardedPackets,
            ["forwardedBytes"] = s.ForwardedBytes,
            ["droppedPackets"] = s.DroppedPackets,
            ["drops"] = drops,
            ["internet"] = L2(path.InternetL2, path.InternetNeighbours),
            ["vpc"] = L2(path.VpcL2, path.VpcNeighbours),
            ["knownPrivateAddresses"] = _knownPrivates.Count,
            ["role"] = _host!.IsClustered ? (path.IsStandby ? "standby" : path.IsFenced ? "fenced" : "active") : "single",
            ["node"] = _host.NodeName,
            ["bindings"] = _host!.Bindings.Count,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

        static JsonObject L2(Gateway.Io.L2.L2Statistics l2, int neighbours) => new()
        {
            ["port"] = l2.Port,
            ["mac"] = l2.Mac.ToString(),
            ["arpRepliesSent"] = l2.ArpRepliesSent,
            ["arpRequestsSent"] = l2.ArpRequestsSent,
            ["arpRequestsIgnored"] = l2.ArpRequestsIgnored,
            ["gratuitousArpsSent"] = l2.GratuitousArpsSent,
            ["neighbours"] = neighbours,
        };
    }

    /// <summary>
    /// The counters per port for the console: the internet worker's (frames that arrived from the internet), the VPC
    /// worker's, and the ARP maintenance thread's (frames forwarded but dropped later because their next hop never
    /// answered). Read lock-free from the workers' own counters.
    /// </summary>
    public DataPathCounterSnapshot ReadCounters()
    {
        var path = _path;
        if (path is null)
        {
            return new DataPathCounterSnapshot([], []);
        }
        var counters = path.Counters;
        var internetL2 = path.InternetL2;
        var vpcL2 = path.VpcL2;
        return new DataPathCounterSnapshot(
            [
                Row(path.InternetPortName, "internet port", counters[0], L2Details(internetL2, path.InternetNeighbours)),
                Row(path.VpcPortName, "VPC port", counters[1], L2Details(vpcL2, path.VpcNeighbours)),
                Row("arp", "ARP queue", counters[2], [KeyValuePair.Create("frames waiting for ARP", (long)path.PendingFrames)]),
            ],
            [
                KeyValuePair.Create("Internet port", $"{Describe(_options.InternetTap, _options.InternetInterface)}, MAC {path.InternetMac}"),
                KeyValuePair.Create("VPC port", $"{Describe(_options.VpcTap, _options.VpcInterface)}, MAC {path.VpcMac}"),
                KeyValuePair.Create("VPC gateway", Gateway.Packets.Ipv4Address.Format(path.VpcGateway)),
                KeyValuePair.Create("Internet next hop", _options.InternetGateway is uint router ? Gateway.Packets.Ipv4Address.Format(router) : "on-link (ARP)"),
                KeyValuePair.Create("Bindings", _host!.Bindings.Count.ToString(CultureInfo.InvariantCulture)),
                KeyValuePair.Create("Known private addresses", _knownPrivates.Count.ToString(CultureInfo.InvariantCulture)),
            ]);

        static DataPathCounterRow Row(string name, string role, Gateway.DataPlane.Counters.TrafficCounters c, IReadOnlyList<KeyValuePair<string, long>> details) => new(
            name, role, c.ReceivedPacketCount, c.ReceivedByteCount, c.ForwardedPacketCount, c.ForwardedByteCount,
            [.. DropReasons.All.Select(r => KeyValuePair.Create(DropReasons.Name(r), c.DropPacketCount(r)))], details);

        static IReadOnlyList<KeyValuePair<string, long>> L2Details(Gateway.Io.L2.L2Statistics l2, int neighbours) =>
        [
            KeyValuePair.Create("ARP replies sent", l2.ArpRepliesSent),
            KeyValuePair.Create("ARP requests sent", l2.ArpRequestsSent),
            KeyValuePair.Create("ARP requests ignored", l2.ArpRequestsIgnored),
            KeyValuePair.Create("gratuitous ARPs sent", l2.GratuitousArpsSent),
            KeyValuePair.Create("neighbours", (long)neighbours),
        ];
    }

    /// <summary>One line: received, forwarded, dropped by reason (non-zero reasons only).</summary>
    public string StatsLine()
    {
        var s = _path!.Snapshot();
        var line = new StringBuilder();
        line.Append(CultureInfo.InvariantCulture, $"gateway: data path: received {s.ReceivedPackets} frames, forwarded {s.ForwardedPackets}, dropped {s.DroppedPackets}");
        foreach (var (reason, count) in s.NonZeroDrops)
        {
            line.Append(CultureInfo.InvariantCulture, $" {reason}={count}");
        }
        line.Append(CultureInfo.InvariantCulture, $"; gratuitous ARPs {_path.InternetL2.GratuitousArpsSent}");
        return line.ToString();
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
