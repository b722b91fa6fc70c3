using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Etcdserverpb;
using Gateway.Control.Store.Etcd;
using Google.Protobuf;
using Grpc.Core;

namespace Gateway.Control.Cluster;

/// <summary>
/// This node in the cluster: its etcd lease and registration (<c>cluster/nodes/&lt;node&gt;</c>, with the revision its
/// table has applied), and, when it has a data path, the election of the one active node per segment pair.
/// </summary>
/// <remarks>
/// <para><b>Who is active.</b> The key <c>cluster/active/&lt;segment&gt;</c> names the active node and an epoch, and is
/// attached to that node's lease. Only etcd decides: a node becomes active only by a transaction that creates the key
/// (absent) or replaces it at the mod revision it last read, so of two nodes trying at once exactly one wins. A node
/// that reads the key naming another node stops being active at once (it reads it every
/// <see cref="PollInterval"/>).</para>
/// <para><b>Detecting death.</b> The lease alone would take its TTL plus etcd's expiry sweep (500 ms) — 1.5 s at the
/// least. So the active node also advertises itself straight to the others over UDP every
/// <see cref="ClusterOptions.HeartbeatInterval"/> (VRRP's adverts); a standby that has heard the active and then misses
/// <see cref="ClusterOptions.MissedHeartbeats"/> of them asks etcd to replace the key at the revision it read. The lease
/// remains the backstop: a standby that never heard the active waits for the key to vanish.</para>
/// <para><b>Keeping the role under load.</b> Advertisements go from a thread of their own at the highest priority the
/// process may set, not from the thread pool, and carry no work; the data path's workers never block it. A standby
/// measures silence only on its own receiving thread's clock, so a standby that was itself starved counts the time it
/// was not running as silence only once it runs again and has drained what arrived meanwhile. When etcd has no
/// quorum nobody can take the role (every takeover is a transaction), so the active node keeps forwarding; etcd's new
/// leader extends every lease (lessor Promote) once quorum returns.</para>
/// </remarks>
internal sealed class ClusterNode : IAsyncDisposable
{
    public const string NodesPrefix = "cluster/nodes/";
    public const string ActivePrefix = "cluster/active/";
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private readonly EtcdConnection _etcd;
    private readonly ClusterOptions _options;
    private readonly Func<long> _appliedRevision;
    private readonly string _apiEndpoint;
    private readonly CancellationTokenSource _stop = new();
    private readonly UdpClient _heartbeat;
    private readonly Dictionary<string, long> _lastAdvert = new(StringComparer.Ordinal); // node → Stopwatch ticks
    private readonly Lock _peersLock = new();
    private readonly HashSet<IPEndPoint> _peers = [];
    private long _lease;
    private long _epoch;
    private volatile bool _active;
    private string? _activeNode;
    private readonly List<Task> _loops = [];
    private Thread? _advertiser;
    private Thread? _listener;
    private TextWriter _log = TextWriter.Null;

    public ClusterNode(EtcdConnection etcd, ClusterOptions options, Func<long> appliedRevision, string apiEndpoint)
    {
        _etcd = etcd;
        _options = options;
        _appliedRevision = appliedRevision;
        _apiEndpoint = apiEndpoint;
        _heartbeat = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
    }

    public string Name => _etcd.Options.NodeName;

    /// <summary>True while this node's data path is the active one for its segment pair.</summary>
    public bool IsActive => _active;

    /// <summary>The node etcd names active for the segment pair (null: none, or not known yet).</summary>
    public string? ActiveNode => Volatile.Read(ref _activeNode);

    /// <summary>Raised on the election's thread when this node becomes active (true) or stops being active (false).</summary>
    public event Action<bool>? RoleChanged;

    public IPEndPoint HeartbeatEndPoint => (IPEndPoint)_heartbeat.Client.LocalEndPoint!;

    public async Task StartAsync(TextWriter log, CancellationToken cancellationToken)
    {
        _log = log;
        await GrantLeaseAsync(cancellationToken).ConfigureAwait(false);
        await RegisterAsync(cancellationToken).ConfigureAwait(false);
        _loops.Add(Task.Run(KeepAliveLoopAsync, CancellationToken.None));
        _loops.Add(Task.Run(RegistryLoopAsync, CancellationToken.None));
        if (_options.Segment is not null)
        {
            _listener = new Thread(ListenLoop) { IsBackground = true, Name = "gw-cluster-hb-rx", Priority = ThreadPriority.Highest };
            _listener.Start();
            _advertiser = new Thread(AdvertiseLoop) { IsBackground = true, Name = "gw-cluster-hb-tx", Priority = ThreadPriority.Highest };
            _advertiser.Start();
            _loops.Add(Task.Run(ElectionLoopAsync, CancellationToken.None));
        }
    }

    // ------------------------------------------------------------ lease and registration

    private async Task GrantLeaseAsync(CancellationToken cancellationToken)
    {
        var response = await EtcdStore.CallAsync(_etcd, async () => await _etcd.Lease.LeaseGrantAsync(
            new LeaseGrantRequest { TTL = _options.LeaseTtlSeconds }, EtcdConnection.Headers, _etcd.Deadline(), cancellationToken), "grant this node's lease").ConfigureAwait(false);
        Interlocked.Exchange(ref _lease, response.ID);
    }

    private readonly SemaphoreSlim _renewing = new(1, 1);

    /// <summary>
    /// The lease <paramref name="lostLease"/> is gone (expired while etcd could not hear us, or its keys vanished): so is
    /// every key it held, the active key included. Step down, then take a new lease and register again. Both loops
    /// may notice at once; the first renews, the second finds the lease already replaced.
    /// </summary>
    private async Task RenewRegistrationAsync(long lostLease, string why)
    {
        await _renewing.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            if (Interlocked.Read(ref _lease) != lostLease)
            {
                return;
            }
            _log.WriteLine($"gateway: cluster: node {Name}: {why}; registering again");
            SetActive(false);
            await GrantLeaseAsync(_stop.Token).ConfigureAwait(false);
            await RegisterAsync(_stop.Token).ConfigureAwait(false);
        }
        finally
        {
            _renewing.Release();
        }
    }

    private string RegistrationJson() => new JsonObject
    {
        ["name"] = Name,
        ["api"] = _apiEndpoint,
        ["pid"] = Environment.ProcessId,
        ["heartbeat"] = HeartbeatEndPoint.ToString(),
        ["segment"] = _options.Segment,
        ["active"] = _active,
        ["appliedRevision"] = _appliedRevision(),
        ["at"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
    }.ToJsonString();

    private async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var put = new PutRequest { Key = _etcd.Key(NodesPrefix + Name), Value = ByteString.CopyFromUtf8(RegistrationJson()), Lease = Interlocked.Read(ref _lease) };
        await EtcdStore.CallAsync(_etcd, async () => await _etcd.Kv.PutAsync(put, EtcdConnection.Headers, _etcd.Deadline(), cancellationToken), "register this node").ConfigureAwait(false);
    }

    private async Task KeepAliveLoopAsync()
    {
        var interval = TimeSpan.FromMilliseconds(Math.Max(100, _options.LeaseTtlSeconds * 1000 / 5));
        // An answer later than the TTL is worthless (the lease has expired by then), and the stream itself has no
        // deadline: a member can hold it without answering (etcd's lessor holds the renewal of an expired lease until
        // its revocation commits), so a round trip gets one TTL, then the stream is dropped and opened again, on
        // whichever member answers (clientv3 likewise gives up a keep-alive after one TTL without an answer).
        var roundTrip = TimeSpan.FromSeconds(Math.Max(1, _options.LeaseTtlSeconds));
        bool failing = false; // log a failure once, not every 100 ms while etcd stays away
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var call = _etcd.Lease.LeaseKeepAlive(EtcdConnection.Headers, cancellationToken: _stop.Token);
                while (!_stop.IsCancellationRequested)
                {
                    using var answer = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    answer.CancelAfter(roundTrip);
                    await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = Interlocked.Read(ref _lease) }, answer.Token).ConfigureAwait(false);
                    if (!await call.ResponseStream.MoveNext(answer.Token).ConfigureAwait(false))
                    {
                        break;
                    }
                    failing = false;
                    if (call.ResponseStream.Current.TTL <= 0)
                    {
                        await RenewRegistrationAsync(call.ResponseStream.Current.ID, "its etcd lease expired").ConfigureAwait(false);
                    }
                    await Task.Delay(interval, _stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Nothing may end this loop but the stop: without it the lease expires within its TTL.
            catch (Exception e)
#pragma warning restore CA1031
            {
                // Not only RpcException: a write on a stream whose member was killed throws the transport's IOException
                // (connection reset), and one on a stream the member ended throws InvalidOperationException.
                if (!failing)
                {
                    _log.WriteLine($"gateway: cluster: node {Name}: the etcd lease keep-alive failed ({e.GetType().Name}: {e.Message}); opening it again");
                    failing = true;
                }
                await Delay(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Keeps the registration current (applied revision, role) and learns the other nodes' heartbeat addresses.</summary>
    private async Task RegistryLoopAsync()
    {
        string last = "";
        while (!_stop.IsCancellationRequested)
        {
            await Delay(TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
            try
            {
                var json = JsonNode.Parse(RegistrationJson())!.AsObject();
                json.Remove("at");
                string now = json.ToJsonString();
                long lease = Interlocked.Read(ref _lease); // before the put and the read: a lease renewed meanwhile is no loss
                if (now != last)
                {
                    try
                    {
                        await RegisterAsync(_stop.Token).ConfigureAwait(false);
                        last = now;
                    }
                    catch (EtcdUnavailableException e) when (IsLeaseGone(e))
                    {
                        // A put under a lease etcd has revoked fails on every retry: go on to the check below, which
                        // sees the key gone and registers again under a new lease.
                    }
                }
                var nodes = await _etcd.RangeAsync(NodesPrefix, 0, _stop.Token).ConfigureAwait(false);
                var ownKey = _etcd.Key(NodesPrefix + Name);
                if (!nodes.Kvs.Any(kv => kv.Key == ownKey && kv.Lease == lease))
                {
                    // The keep-alive loop may not have noticed (its stream on a member that died or lost its leader):
                    // seeing our own key gone, or held by a lease that is not ours, is the one reliable sign.
                    await RenewRegistrationAsync(lease, "its registration vanished from etcd").ConfigureAwait(false);
                    last = "";
                    continue;
                }
                lock (_peersLock)
                {
                    _peers.Clear();
                    foreach (var kv in nodes.Kvs)
                    {
                        var node = JsonNode.Parse(kv.Value.ToStringUtf8());
                        if (node?["name"]?.GetValue<string>() != Name && IPEndPoint.TryParse(node?["heartbeat"]?.GetValue<string>() ?? "", out var peer))
                        {
                            _peers.Add(peer);
                        }
                    }
                }
            }
            catch (Exception e) when (e is RpcException or EtcdUnavailableException or OperationCanceledException or JsonException)
            {
            }
        }
    }

    /// <summary>etcd refused a put because its lease no longer exists (<c>ErrGRPCLeaseNotFound</c>: NotFound, "requested lease not found").</summary>
    private static bool IsLeaseGone(EtcdUnavailableException e) =>
        e.InnerException is RpcException { StatusCode: StatusCode.NotFound } rpc && rpc.Status.Detail.Contains("lease not found", StringComparison.Ordinal);

    // ------------------------------------------------------------ election

    private sealed record Holder(string Node, long Epoch, long ModRevision);

    private async Task ElectionLoopAsync()
    {
        string key = ActivePrefix + _options.Segment;
        Holder? seen = null;
        long seenSince = Stopwatch.GetTimestamp();
        var silence = _options.HeartbeatInterval * _options.MissedHeartbeats + _options.HeartbeatInterval / 2;
        while (!_stop.IsCancellationRequested)
        {
            Holder? holder;
            try
            {
                var response = await _etcd.RangeAsync(key, 0, _stop.Token, prefix: false).ConfigureAwait(false);
                holder = response.Kvs.Count == 0 ? null : Parse(response.Kvs[0]);
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException)
            {
                // etcd cannot say (no quorum, unreachable): nobody can take the role meanwhile, so keep ours.
                await Delay(PollInterval).ConfigureAwait(false);
                continue;
            }
            Volatile.Write(ref _activeNode, holder?.Node);
            if (holder is not null && holder.Node == Name && holder.Epoch == Interlocked.Read(ref _epoch) && _active)
            {
                await Delay(PollInterval).ConfigureAwait(false); // still ours
                continue;
            }
            if (_active)
            {
                _log.WriteLine($"gateway: cluster: node {Name} is no longer active for segment {_options.Segment} (etcd names {holder?.Node ?? "nobody"})");
                SetActive(false);
            }
            if (holder != seen)
            {
                seen = holder;
                seenSince = Stopwatch.GetTimestamp();
            }
            bool takeOver = holder is null;
            if (holder is not null && holder.Node != Name)
            {
                long heard = LastAdvert(holder.Node);
                // Only once the active node has been heard (the fast path works between us) does silence count as death.
                takeOver = heard > seenSince && Stopwatch.GetElapsedTime(heard) > silence;
            }
            else if (holder is not null && holder.Node == Name)
            {
                takeOver = true; // an earlier incarnation of this node (restarted): claim it at its revision
            }
            if (takeOver && await TryTakeAsync(key, holder).ConfigureAwait(false))
            {
                continue;
            }
            await Delay(PollInterval / 2).ConfigureAwait(false);
        }
    }

    private static Holder Parse(Mvccpb.KeyValue kv)
    {
        try
        {
            var node = JsonNode.Parse(kv.Value.ToStringUtf8());
            return new Holder(node?["node"]?.GetValue<string>() ?? "", node?["epoch"]?.GetValue<long>() ?? 0, kv.ModRevision);
        }
        catch (JsonException)
        {
            return new Holder("", 0, kv.ModRevision);
        }
    }

    /// <summary>Asks etcd to make this node active: create the key, or replace it at the revision read. etcd's answer decides.</summary>
    private async Task<bool> TryTakeAsync(string key, Holder? holder)
    {
        long epoch = (holder?.Epoch ?? 0) + 1;
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = _etcd.Key(key), Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = holder?.ModRevision ?? 0 });
        string value = new JsonObject { ["node"] = Name, ["epoch"] = epoch, ["heartbeat"] = HeartbeatEndPoint.ToString() }.ToJsonString();
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _etcd.Key(key), Value = ByteString.CopyFromUtf8(value), Lease = Interlocked.Read(ref _lease) } });
        try
        {
            var response = await _etcd.TxnAsync(txn, _stop.Token).ConfigureAwait(false);
            if (!response.Succeeded)
            {
                return false;
            }
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException)
        {
            return false;
        }
        Interlocked.Exchange(ref _epoch, epoch);
        Volatile.Write(ref _activeNode, Name);
        _log.WriteLine(holder is null
            ? $"gateway: cluster: node {Name} is active for segment {_options.Segment} (epoch {epoch})"
            : $"gateway: cluster: node {Name} took over segment {_options.Segment} from {holder.Node} (epoch {epoch})");
        SetActive(true);
        return true;
    }

    private void SetActive(bool active)
    {
        if (_active == active)
        {
            return;
        }
        _active = active;
        try
        {
            RoleChanged?.Invoke(active);
        }
#pragma warning disable CA1031 // A failing observer must not stop the election.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _log.WriteLine($"gateway: cluster: a role observer failed: {e.Message}");
        }
    }

    // ------------------------------------------------------------ heartbeats (UDP, loopback)

    private long LastAdvert(string node)
    {
        lock (_lastAdvert)
        {
            return _lastAdvert.GetValueOrDefault(node);
        }
    }

    private void AdvertiseLoop()
    {
        var interval = _options.HeartbeatInterval;
        while (!_stop.IsCancellationRequested)
        {
            // Standbys say hello too, so the active node learns a new peer before the registry tells it.
            string message = string.Create(CultureInfo.InvariantCulture, $"GWHB1 {_options.Segment} {Name} {(_active ? "active" : "standby")} {Interlocked.Read(ref _epoch)}");
            byte[] bytes = Encoding.UTF8.GetBytes(message);
            IPEndPoint[] peers;
            lock (_peersLock)
            {
                peers = [.. _peers];
            }
            foreach (var peer in peers)
            {
                try
                {
                    _heartbeat.Send(bytes, bytes.Length, peer);
                }
                catch (SocketException)
                {
                }
            }
            _stop.Token.WaitHandle.WaitOne(interval);
        }
    }

    private void ListenLoop()
    {
        var from = new IPEndPoint(IPAddress.Any, 0);
        _heartbeat.Client.ReceiveTimeout = 200;
        while (!_stop.IsCancellationRequested)
        {
            byte[] datagram;
            try
            {
                datagram = _heartbeat.Receive(ref from);
            }
            catch (SocketException)
            {
                continue; // timeout: look at _stop again
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            string[] parts = Encoding.UTF8.GetString(datagram).Split(' ');
            if (parts.Length != 5 || parts[0] != "GWHB1" || parts[1] != _options.Segment)
            {
                continue;
            }
            lock (_peersLock)
            {
                _peers.Add(from);
            }
            if (parts[3] == "active")
            {
                lock (_lastAdvert)
                {
                    _lastAdvert[parts[2]] = Stopwatch.GetTimestamp();
                }
            }
        }
    }

    // ------------------------------------------------------------ status

    /// <summary>Every registered node, the active node per segment and the state's head revision, for <c>gateway ctl cluster</c>.</summary>
    public async Task<JsonObject> DescribeAsync(CancellationToken cancellationToken)
    {
        var nodes = await EtcdStore.CallAsync(_etcd, () => _etcd.RangeAsync(NodesPrefix, 0, cancellationToken), "list the cluster's nodes").ConfigureAwait(false);
        var active = await EtcdStore.CallAsync(_etcd, () => _etcd.RangeAsync(ActivePrefix, 0, cancellationToken), "read the active nodes").ConfigureAwait(false);
        var head = await EtcdStore.CallAsync(_etcd, () => _etcd.RangeAsync(StateLayout.LastChange, 0, cancellationToken, prefix: false), "read the state's head revision").ConfigureAwait(false);
        long headRevision = head.Kvs.Count == 1 ? head.Kvs[0].ModRevision : 0;
        var list = new JsonArray();
        foreach (var kv in nodes.Kvs)
        {
            var node = JsonNode.Parse(kv.Value.ToStringUtf8())!.AsObject();
            long applied = node["appliedRevision"]?.GetValue<long>() ?? 0;
            node["lag"] = Math.Max(0, headRevision - applied);
            list.Add((JsonNode)node); // the JsonNode overload: Add<T> would wrap a value by reflection (not AOT-safe)
        }
        var segments = new JsonArray();
        foreach (var kv in active.Kvs)
        {
            var holder = JsonNode.Parse(kv.Value.ToStringUtf8())!.AsObject();
            holder["segment"] = _etcd.Relative(kv.Key)[ActivePrefix.Length..];
            holder.Remove("heartbeat");
            segments.Add((JsonNode)holder);
        }
        return new JsonObject
        {
            ["node"] = Name,
            ["headRevision"] = headRevision,
            ["etcdRevision"] = head.Header.Revision,
            ["nodes"] = list,
            ["active"] = segments,
        };
    }

    private async Task Delay(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _advertiser?.Join();
        _listener?.Join();
        // A clean stop gives the role up at once (the lease goes with it) instead of waiting for a standby to notice.
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _etcd.Lease.LeaseRevokeAsync(new LeaseRevokeRequest { ID = Interlocked.Read(ref _lease) }, EtcdConnection.Headers, _etcd.Deadline(), cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException)
        {
        }
        _heartbeat.Dispose();
        _renewing.Dispose();
        _stop.Dispose();
    }
}
