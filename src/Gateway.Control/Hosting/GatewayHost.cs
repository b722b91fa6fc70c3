using System.Globalization;
using System.Net;
using Gateway.Control.Api;
using Gateway.Control.Auth;
using Gateway.Control.Metering;
using Gateway.Control.Metrics;
using Gateway.Control.Model;
using Gateway.Control.Rules;
using Gateway.Control.Store;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Policing;
using Gateway.Packets;

namespace Gateway.Control.Hosting;

/// <summary>The options contradict each other (nothing was started).</summary>
public sealed class GatewayConfigurationException(string message) : Exception(message);

/// <summary>How to run the gateway daemon.</summary>
public sealed record GatewayOptions
{
    public const int DefaultApiPort = 9700;

    /// <summary>Where the SQLite database (and generated credentials) live.</summary>
    public required string StateDirectory { get; init; }

    /// <summary>The API's listen address: loopback unless asked otherwise. Port 0 picks a free port (see <see cref="GatewayHost.ApiEndPoint"/>).</summary>
    public IPEndPoint ApiEndPoint { get; init; } = new(IPAddress.Loopback, DefaultApiPort);

    /// <summary>The public addresses handed out (network and broadcast addresses excluded).</summary>
    public required IReadOnlyList<Ipv4Cidr> PublicPools { get; init; }

    /// <summary>The VPC subnet instances get private addresses from.</summary>
    public required Ipv4Cidr Subnet { get; init; }

    public int EipQuota { get; init; } = ControlPlaneLimits.DefaultEipQuota;

    /// <summary>Longest a change may take (commit, conflicts, applied here) before it fails with ServiceUnavailable.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public long MaxRequestBodyBytes { get; init; } = ApiServer.DefaultMaxBodyBytes;

    /// <summary>The key pair; null: <c>GATEWAY_SECRET_ID</c>/<c>GATEWAY_SECRET_KEY</c>, else the state directory's file, else a new one there.</summary>
    public Credentials? Credentials { get; init; }

    /// <summary>Packet paths (TAP ports, a forwarding engine) started after the table is loaded and before the API answers.</summary>
    public IReadOnlyList<IDataPath> DataPaths { get; init; } = [];

    /// <summary>With a certificate the API's listener (and the console on it) speaks TLS only (HTTP/1.1 and HTTP/2).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ApiCertificate { get; init; }

    /// <summary>Served on the API's listener beside the API (the web console), each under its own path.</summary>
    public IReadOnlyList<IListenerExtension> ListenerExtensions { get; init; } = [];

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Keep the control state in this etcd cluster instead of SQLite (<c>--etcd</c>): one node of a cluster.</summary>
    public Store.Etcd.EtcdOptions? Etcd { get; init; }

    /// <summary>The node's part in the cluster (lease, election of the active data path); used with <see cref="Etcd"/>.</summary>
    public Cluster.ClusterOptions ClusterOptions { get; init; } = new();

    /// <summary>How long PENDING, STOPPING, STARTING and REBOOTING read (0: every change settles within its request).</summary>
    public TimeSpan TransitionTime { get; init; }

    /// <summary>Where to serve Prometheus metrics (<c>--metrics</c>); null: not served.</summary>
    public IPEndPoint? MetricsEndPoint { get; init; }

    /// <summary>Police every public address at its instance's caps (<c>--bandwidth-caps enforce</c>, the default); false: meter only.</summary>
    public bool EnforceBandwidthCaps { get; init; } = true;
}

/// <summary>
/// A data path attached to the gateway: it reads <see cref="GatewayHost.Bindings"/> per frame and follows
/// <see cref="GatewayHost.Changed"/> for its L2 duties (gratuitous ARP for newly bound public addresses,
/// the set of known private sources for anti-spoofing).
/// </summary>
public interface IDataPath : IAsyncDisposable
{
    /// <summary>Starts the path. The table is already loaded; the API is not answering yet.</summary>
    Task StartAsync(GatewayHost host, CancellationToken cancellationToken);
}

/// <summary>
/// The daemon's composition: store → control plane → binding table → data paths → API, started in that order
/// (everything restored and loaded before the API answers) and stopped in reverse.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly IControlStore _store;
    private readonly ControlPlane _plane;
    private readonly ApiServer _api;
    private readonly IReadOnlyList<IDataPath> _dataPaths;
    private Cluster.ClusterNode? _cluster;
    private bool _stopped;

    private GatewayHost(IControlStore store, ControlPlane plane, ApiServer api, BindingTable table, Credentials credentials, string? generatedCredentialsPath, IReadOnlyList<IDataPath> dataPaths, TimeProvider clock)
    {
        Clock = clock;
        _store = store;
        _plane = plane;
        _api = api;
        Bindings = table;
        Credentials = credentials;
        GeneratedCredentialsPath = generatedCredentialsPath;
        _dataPaths = dataPaths;
        // One node forwards without asking anyone; a cluster node only while its election grants it (self-fencing).
        ForwardingAuthority = store.FeedsCommits ? Gateway.DataPlane.Cluster.ForwardingAuthority.None() : Gateway.DataPlane.Cluster.ForwardingAuthority.Unlimited();
    }

    /// <summary>
    /// Until when this node's data paths may forward (read by their workers once per batch): unlimited on one node; in a
    /// cluster, advanced while this node holds the role and the standbys or etcd confirm it (Cluster/ActiveAuthority).
    /// </summary>
    public Gateway.DataPlane.Cluster.ForwardingAuthority ForwardingAuthority { get; }

    /// <summary>True while this node holds the role in etcd but may not forward (its authority lapsed: self-fenced).</summary>
    public bool IsFenced => _cluster?.IsFenced ?? false;

    /// <summary>The data plane's lock-free table; the control plane is its only writer.</summary>
    public BindingTable Bindings { get; }

    /// <summary>The bandwidth caps of every binding (written by the control plane); each data-path worker takes a lane.</summary>
    public Policer Policer { get; private set; } = null!;

    /// <summary>Per-instance and per-address metering (the Monitor API's source), node-local.</summary>
    public TrafficMeter Meter { get; private set; } = null!;

    /// <summary>Where Prometheus metrics are served, if they are.</summary>
    public IPEndPoint? MetricsEndPoint => _metrics?.EndPoint;

    private MeteringStore? _meteringStore;
    private MetricsEndpoint? _metrics;

    public Credentials Credentials { get; }

    /// <summary>The credentials file written at this start, if one was generated.</summary>
    public string? GeneratedCredentialsPath { get; }

    public IPEndPoint ApiEndPoint => _api.EndPoint;

    /// <summary>Where the control state lives: the database file, or etcd's endpoints and key prefix.</summary>
    public string DatabasePath => _store.Location;

    public string VpcId => _plane.VpcId;

    /// <summary>The clock the control plane and the API use (sessions and signatures expire by it).</summary>
    public TimeProvider Clock { get; }

    /// <summary>The one control plane: the API and the console change state only through it.</summary>
    internal ControlPlane Plane => _plane;

    /// <summary>Per-instance traffic history where traffic is metered (null: not metered here).</summary>
    public IInstanceTrafficHistory? TrafficHistory { get; set; }

    /// <summary>The counters of every attached data path that keeps them (empty without a data path).</summary>
    public IReadOnlyList<IDataPathCounters> DataPathCounters => [.. _dataPaths.OfType<IDataPathCounters>()];

    public string SubnetId => _plane.SubnetId;

    /// <summary>
    /// Raised after every change reached <see cref="Bindings"/>, in order, on the thread that made the change and
    /// under the control plane's lock: handlers must be quick (queue the work) and must not call the API.
    /// </summary>
    public event Action<ControlPlaneEvent>? Changed
    {
        add => _plane.Changed += value;
        remove => _plane.Changed -= value;
    }

    /// <summary>True when the control state is in etcd, shared with other nodes.</summary>
    public bool IsClustered => _store.FeedsCommits;

    /// <summary>This node's name in the cluster (null on SQLite).</summary>
    public string? NodeName { get; private set; }

    /// <summary>
    /// True while this node's data path may answer: always on one node; in a cluster, while etcd names it the active
    /// node of its segment pair (<see cref="RoleChanged"/>).
    /// </summary>
    public bool IsActive => _cluster?.IsActive ?? !IsClustered;

    /// <summary>
    /// Raised when this node becomes the active one of its segment pair (true) or stops being it (false), on the
    /// election's thread. A data path that sees false must stop answering at once.
    /// </summary>
    public event Action<bool>? RoleChanged;

    /// <summary>
    /// The cluster's virtual MACs for this node's segment pair (internet, VPC; <c>aa:bb:cc:dd:ee:ff</c>): the same on every
    /// node, as VRRP's virtual router MAC, so a takeover needs no host to relearn anything. Null on one node.
    /// </summary>
    public (string Internet, string Vpc)? VirtualMacs { get; private set; }

    /// <summary>The store revision this node's table has applied (0 on SQLite).</summary>
    public long AppliedRevision => _plane.AppliedRevision;

    /// <summary>The private addresses of every instance now.</summary>
    public IReadOnlyList<uint> KnownPrivateAddresses() => _plane.KnownPrivateAddresses();

    /// <summary>Differences between <see cref="Bindings"/> and the database (empty when equal).</summary>
    public IReadOnlyList<string> CheckTableAgainstStore() => _plane.CheckTableAgainstStore();

    public static async Task<GatewayHost> StartAsync(GatewayOptions options, TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        var members = new List<uint>();
        foreach (var pool in options.PublicPools)
        {
            members.AddRange(pool.Hosts());
        }
        members = [.. members.Distinct()];
        if (members.Count == 0)
        {
            throw new GatewayConfigurationException("the public pool is empty: give at least one --public-pool prefix with a host address.");
        }
        foreach (uint ip in members)
        {
            if (options.Subnet.Contains(ip))
            {
                throw new GatewayConfigurationException($"the public pool and the subnet {options.Subnet} overlap at {Ipv4Address.Format(ip)}; public and private addresses must differ.");
            }
        }

        if (StateDirectory.Ensure(options.StateDirectory) is { } warning)
        {
            log.WriteLine($"gateway: warning: {warning}");
        }
        string? generated = null;
        IControlStore store;
        Credentials credentials;
        if (options.Etcd is { } etcd)
        {
            var etcdStore = Store.Etcd.EtcdStore.Connect(etcd with { CallTimeout = options.RequestTimeout });
            store = etcdStore;
            try
            {
                CheckClusterConfiguration(etcdStore, options);
                credentials = options.Credentials ?? ClusterCredentials(etcdStore, options.StateDirectory, out generated);
            }
            catch
            {
                store.Dispose();
                throw;
            }
            // Requests block a pool thread while their transaction and the watch round-trip (milliseconds); do not let the
            // pool's slow thread injection turn eight concurrent clients into seconds of queueing.
            ThreadPool.GetMinThreads(out int workers, out int ports);
            ThreadPool.SetMinThreads(Math.Max(workers, 64), ports);
        }
        else
        {
            credentials = options.Credentials ?? Credentials.LoadOrCreate(options.StateDirectory, out generated);
            var sqlite = SqliteStore.Open(options.StateDirectory);
            // SQLite creates the database, its WAL and its shared-memory file with the process's umask (often 0644).
            foreach (string file in (string[])[sqlite.Path, sqlite.Path + "-wal", sqlite.Path + "-shm"])
            {
                StateDirectory.MakeOwnerOnly(file);
            }
            store = sqlite;
        }
        try
        {
            string vpcId = store.GetOrCreateMeta("vpc_id", () => ResourceIds.New(ResourceIds.VpcPrefix, _ => false));
            string subnetId = store.GetOrCreateMeta("subnet_id", () => ResourceIds.New(ResourceIds.SubnetPrefix, _ => false));
            var state = store.Load(members, options.Subnet, vpcId, subnetId);
            string created = store.GetOrCreateMeta("network_created", () => options.Clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            state.NetworkCreated = DateTimeOffset.Parse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            foreach (var instance in state.Instances.Values.Where(i => !options.Subnet.Contains(i.PrivateIp)))
            {
                log.WriteLine($"gateway: warning: instance {instance.Id} keeps {Ipv4Address.Format(instance.PrivateIp)}, outside --subnet {options.Subnet}.");
            }
            var table = new BindingTable(Math.Max(1024, members.Count));
            var policer = new Policer(Math.Max(1024, members.Count)) { Enforcing = options.EnforceBandwidthCaps };
            var plane = new ControlPlane(state, store, table, new ControlPlaneLimits(options.EipQuota) { RequestTimeout = options.RequestTimeout, TransitionTime = options.TransitionTime }, options.Clock, policer);
            plane.LoadTable();
            if (!store.FeedsCommits)
            {
                var problems = plane.CheckTableAgainstStore();
                if (problems.Count > 0)
                {
                    throw new InvalidDataException($"the binding table does not match {store.Location} after loading: {string.Join("; ", problems)}");
                }
            }
            // From here on the store's watch (if it has one) keeps the state and the table current, from the loaded revision.
            (store as IChangeFeed)?.Start(plane, state);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gateway: state {store.Location}: {state.Instances.Count} instances, {state.Addresses.Count} EIPs, {table.Count} bindings loaded{(store.FeedsCommits ? $" at revision {state.Revision}" : "")}; pool {state.Pool.FreeCount} of {state.Pool.MemberCount} free"));

            // Metering is node-local: the state database of a single node; a cluster node (state in etcd) keeps its own
            // history in <state>/metering.db, never a control-state database.
            var meteringStore = MeteringStore.Open(Path.Combine(options.StateDirectory, store.FeedsCommits ? MeteringStore.ClusterNodeFileName : SqliteStore.FileName));
            var meter = new TrafficMeter(policer, meteringStore, options.Clock, log);
            var dataPaths = options.DataPaths;
            var metrics = options.MetricsEndPoint is null ? null
                : new MetricsEndpoint(plane, table, meter, () => [.. dataPaths.OfType<IDataPathCounters>()]);
            var api = new ApiServer(plane, credentials, options.Clock, options.MaxRequestBodyBytes, log, meter, metrics);
            var host = new GatewayHost(store, plane, api, table, credentials, generated, options.DataPaths, options.Clock)
            {
                NodeName = options.Etcd?.NodeName,
            };
            host.Policer = policer;
            host.Meter = meter;
            host.TrafficHistory = meter; // the console's traffic chart reads the metering history
            host._meteringStore = meteringStore;
            host._metrics = metrics;
            if (store.FeedsCommits && options.DataPaths.Count > 0)
            {
                // Created once per segment pair by whichever node comes first; every node then uses the same pair.
                string macs = store.GetOrCreateMeta($"virtual-macs/{options.ClusterOptions.Segment}", () => $"{NewLocalMac()} {NewLocalMac()}");
                string[] pair = macs.Split(' ');
                host.VirtualMacs = (pair[0], pair[1]);
            }
            var started = new List<IDataPath>();
            try
            {
                meter.Start(plane);
                foreach (var path in options.DataPaths)
                {
                    await path.StartAsync(host, cancellationToken).ConfigureAwait(false);
                    started.Add(path);
                }
                if (metrics is not null)
                {
                    await metrics.StartAsync(options.MetricsEndPoint!, cancellationToken).ConfigureAwait(false);
                }
                await api.StartAsync(options.ApiEndPoint, options.ApiCertificate, options.ListenerExtensions, host, cancellationToken).ConfigureAwait(false);
                if (store is Store.Etcd.EtcdStore shared)
                {
                    var segment = options.DataPaths.Count > 0 ? options.ClusterOptions : options.ClusterOptions with { Segment = null };
                    var node = new Cluster.ClusterNode(shared.Connection, segment, () => plane.AppliedRevision, api.EndPoint.ToString(), host.ForwardingAuthority);
                    node.RoleChanged += active => host.RoleChanged?.Invoke(active);
                    host._cluster = node;
                    plane.ClusterStatus = node.DescribeAsync;
                    await node.StartAsync(log, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                if (host._cluster is { } node)
                {
                    await node.DisposeAsync().ConfigureAwait(false);
                }
                await api.DisposeAsync().ConfigureAwait(false);
                if (metrics is not null)
                {
                    await metrics.DisposeAsync().ConfigureAwait(false);
                }
                foreach (var path in Enumerable.Reverse(started))
                {
                    await path.DisposeAsync().ConfigureAwait(false);
                }
                await meter.DisposeAsync().ConfigureAwait(false);
                meteringStore.Dispose();
                throw;
            }
            return host;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>A random unicast, locally administered MAC (first octet xxxxxx10).</summary>
    private static string NewLocalMac()
    {
        Span<byte> bytes = stackalloc byte[6];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        bytes[0] = (byte)((bytes[0] & 0xFC) | 0x02);
        return Convert.ToHexString(bytes).ToLowerInvariant().Chunk(2).Select(c => new string(c)).Aggregate((a, b) => a + ":" + b);
    }

    /// <summary>
    /// Every node of a cluster must hand out the same pool from the same subnet under the same quota, or the rules
    /// would differ by node: the first node records its options in etcd, every later one must match them.
    /// </summary>
    private static void CheckClusterConfiguration(Store.Etcd.EtcdStore store, GatewayOptions options)
    {
        string mine = new System.Text.Json.Nodes.JsonObject
        {
            ["publicPools"] = new System.Text.Json.Nodes.JsonArray([.. options.PublicPools.Select(p => (System.Text.Json.Nodes.JsonNode?)p.ToString())]),
            ["subnet"] = options.Subnet.ToString(),
            ["eipQuota"] = options.EipQuota,
        }.ToJsonString();
        string stored = store.GetOrCreateMeta("config", () => mine);
        if (stored != mine)
        {
            throw new GatewayConfigurationException(
                $"this node's options {mine} differ from the cluster's {stored} (recorded in {store.Location}, key meta/config, by its first node): give every node the same --public-pool, --subnet and --eip-quota, or use another --etcd-prefix.");
        }
    }

    /// <summary>
    /// Any node must accept the same signatures: the environment's key pair if set, else the cluster's, created by the
    /// first node in etcd (meta/credentials) and copied to this node's state directory (0600) for <c>gateway ctl --state</c>.
    /// </summary>
    private static Credentials ClusterCredentials(Store.Etcd.EtcdStore store, string stateDirectory, out string? generatedPath)
    {
        generatedPath = null;
        if (Credentials.FromEnvironment() is { } fromEnvironment)
        {
            return fromEnvironment;
        }
        // The first node seeds the cluster with its state directory's pair if it has one (a lab writes it), else a new one.
        string text = store.GetOrCreateMeta("credentials", () => (Credentials.TryRead(stateDirectory) ?? Credentials.Generate()).ToFileText());
        var credentials = Credentials.Parse(text, $"{store.Location} key meta/credentials");
        if (Credentials.TryRead(stateDirectory) != credentials)
        {
            generatedPath = Credentials.Write(stateDirectory, credentials);
        }
        return credentials;
    }

    /// <summary>Stops the API (requests in flight finish), then the data paths, then closes the database cleanly.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        try
        {
            await _api.StopAsync(cancellationToken).ConfigureAwait(false);
            await _api.DisposeAsync().ConfigureAwait(false);
            if (_cluster is { } node)
            {
                await node.DisposeAsync().ConfigureAwait(false); // gives the active role up at once
            }
            if (_metrics is not null)
            {
                await _metrics.DisposeAsync().ConfigureAwait(false);
            }
            foreach (var path in _dataPaths.Reverse())
            {
                await path.DisposeAsync().ConfigureAwait(false);
            }
            // After the data paths stopped: the last packets are in the lanes; the open period is written.
            await Meter.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _meteringStore?.Dispose();
            _store.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
