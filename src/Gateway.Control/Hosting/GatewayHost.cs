using System.Globalization;
using System.Net;
using Gateway.Control.Api;
using Gateway.Control.Auth;
using Gateway.Control.Model;
using Gateway.Control.Rules;
using Gateway.Control.Store;
using Gateway.DataPlane.Bindings;
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

    public long MaxRequestBodyBytes { get; init; } = ApiServer.DefaultMaxBodyBytes;

    /// <summary>The key pair; null: <c>GATEWAY_SECRET_ID</c>/<c>GATEWAY_SECRET_KEY</c>, else the state directory's file, else a new one there.</summary>
    public Credentials? Credentials { get; init; }

    /// <summary>Packet paths (TAP ports, a forwarding engine) started after the table is loaded and before the API answers.</summary>
    public IReadOnlyList<IDataPath> DataPaths { get; init; } = [];

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>How long PENDING, STOPPING, STARTING and REBOOTING read (0: every change settles within its request).</summary>
    public TimeSpan TransitionTime { get; init; }
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
    private readonly SqliteStore _store;
    private readonly ControlPlane _plane;
    private readonly ApiServer _api;
    private readonly IReadOnlyList<IDataPath> _dataPaths;
    private bool _stopped;

    private GatewayHost(SqliteStore store, ControlPlane plane, ApiServer api, BindingTable table, Credentials credentials, string? generatedCredentialsPath, IReadOnlyList<IDataPath> dataPaths)
    {
        _store = store;
        _plane = plane;
        _api = api;
        Bindings = table;
        Credentials = credentials;
        GeneratedCredentialsPath = generatedCredentialsPath;
        _dataPaths = dataPaths;
    }

    /// <summary>The data plane's lock-free table; the control plane is its only writer.</summary>
    public BindingTable Bindings { get; }

    public Credentials Credentials { get; }

    /// <summary>The credentials file written at this start, if one was generated.</summary>
    public string? GeneratedCredentialsPath { get; }

    public IPEndPoint ApiEndPoint => _api.EndPoint;

    public string DatabasePath => _store.Path;

    public string VpcId => _plane.VpcId;

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
        var credentials = options.Credentials ?? Credentials.LoadOrCreate(options.StateDirectory, out generated);
        var store = SqliteStore.Open(options.StateDirectory);
        // SQLite creates the database, its WAL and its shared-memory file with the process's umask (often 0644).
        foreach (string file in (string[])[store.Path, store.Path + "-wal", store.Path + "-shm"])
        {
            StateDirectory.MakeOwnerOnly(file);
        }
        try
        {
            string vpcId = store.GetMeta("vpc_id") ?? NewMeta(store, "vpc_id", ResourceIds.VpcPrefix);
            string subnetId = store.GetMeta("subnet_id") ?? NewMeta(store, "subnet_id", ResourceIds.SubnetPrefix);
            var state = store.Load(members, options.Subnet, vpcId, subnetId);
            string created = store.GetMeta("network_created") ?? NewTime(store, "network_created", options.Clock);
            state.NetworkCreated = DateTimeOffset.Parse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            foreach (var instance in state.Instances.Values.Where(i => !options.Subnet.Contains(i.PrivateIp)))
            {
                log.WriteLine($"gateway: warning: instance {instance.Id} keeps {Ipv4Address.Format(instance.PrivateIp)}, outside --subnet {options.Subnet}.");
            }
            var table = new BindingTable(Math.Max(1024, members.Count));
            var plane = new ControlPlane(state, store, table, new ControlPlaneLimits(options.EipQuota) { TransitionTime = options.TransitionTime }, options.Clock);
            plane.LoadTable();
            var problems = plane.CheckTableAgainstStore();
            if (problems.Count > 0)
            {
                throw new InvalidDataException($"the binding table does not match {store.Path} after loading: {string.Join("; ", problems)}");
            }
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gateway: state {store.Path}: {state.Instances.Count} instances, {state.Addresses.Count} EIPs, {table.Count} bindings loaded; pool {state.Pool.FreeCount} of {state.Pool.MemberCount} free"));

            var api = new ApiServer(plane, credentials, options.Clock, options.MaxRequestBodyBytes, log);
            var host = new GatewayHost(store, plane, api, table, credentials, generated, options.DataPaths);
            var started = new List<IDataPath>();
            try
            {
                foreach (var path in options.DataPaths)
                {
                    await path.StartAsync(host, cancellationToken).ConfigureAwait(false);
                    started.Add(path);
                }
                await api.StartAsync(options.ApiEndPoint, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await api.DisposeAsync().ConfigureAwait(false);
                foreach (var path in Enumerable.Reverse(started))
                {
                    await path.DisposeAsync().ConfigureAwait(false);
                }
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
            foreach (var path in _dataPaths.Reverse())
            {
                await path.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _store.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private static string NewTime(SqliteStore store, string key, TimeProvider clock)
    {
        string now = clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        store.SetMeta(key, now);
        return now;
    }

    private static string NewMeta(SqliteStore store, string key, string prefix)
    {
        string id = ResourceIds.New(prefix, _ => false);
        store.SetMeta(key, id);
        return id;
    }
}
