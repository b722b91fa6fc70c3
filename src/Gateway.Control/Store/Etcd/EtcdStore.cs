using System.Globalization;
using System.Security.Cryptography;
using Etcdserverpb;
using Gateway.Control.Model;
using Gateway.Control.Rules;
using Gateway.Packets;
using Google.Protobuf;
using Grpc.Core;
using Mvccpb;

namespace Gateway.Control.Store.Etcd;

/// <summary>
/// The control state in etcd v3, shared by every gateway node of a cluster: each accepted change is one transaction
/// that compares the version of every fact the rules read, and the watch on <c>state/</c> is the control channel
/// that brings every node's changes to every node's binding table, in revision order.
/// </summary>
/// <remarks>
/// <para><b>Commit.</b> <see cref="Prepare"/> turns a <see cref="ChangeSet"/> into puts and deletes of records and of the
/// index keys they imply (<see cref="StateLayout"/>), and one compare per key read or written: its mod revision must
/// still be the one this node's state reflects (0: the key must not exist). Two nodes racing for the last free address
/// both create <c>pool/held/&lt;ip&gt;</c> expecting it absent; for the last quota slot both write
/// <c>counters/eips</c> expecting the same version; etcd applies the first transaction and fails the other's
/// compares, whose node decides again once it has seen the winner's change (then: <c>ResourceInsufficient</c>,
/// <c>AddressQuotaLimitExceeded</c>). Every transaction also writes <c>state/last-change</c> (so a failed one learns
/// the revision to catch up to) and <c>commit-markers/&lt;node&gt;</c> = a fresh id, so that a transaction sent again
/// after its answer was lost recognises its own earlier commit instead of being decided twice.</para>
/// <para><b>Feed.</b> <see cref="Start"/> follows a watch on <c>state/</c> from the revision the state was loaded at,
/// applying the events of each revision as one change, in order. A broken watch resumes from the last applied revision
/// (on any member); a compacted one (etcd kept no history that far back) makes the feed read the whole state again at
/// the current revision, build it aside and hand it to <see cref="IChangeSink.ReplaceState"/> to swap in at once.</para>
/// <para><b>Numbers.</b> Sequence numbers and task ids must not need a shared counter (which would make every change
/// conflict with every other): a change decided on the state at revision R numbers from (R+1)·1024. Any change
/// committed later than another was decided on a state that includes it, so it numbers higher: the pool's
/// longest-free order holds across nodes. Task ids add 12 random bits, and their keys must not exist.</para>
/// </remarks>
internal sealed class EtcdStore : IControlStore, IChangeFeed
{
    private const int SeqShift = 10;
    private const int TaskShift = 12;

    private readonly EtcdConnection _etcd;
    private readonly bool _ownsConnection;
    private readonly CancellationTokenSource _stop = new();
    private IReadOnlyCollection<uint> _poolMembers = [];
    private Ipv4Cidr _subnet;
    private string _vpcId = "";
    private string _subnetId = "";
    private Task _feed = Task.CompletedTask;
    private long _feedErrors;
    private long _reloads;
    private string? _feedProblem;

    public EtcdStore(EtcdConnection etcd, bool ownsConnection = true)
    {
        _etcd = etcd;
        _ownsConnection = ownsConnection;
    }

    /// <summary>Connects and checks that etcd answers (a linearizable read of the meta keys).</summary>
    /// <exception cref="EtcdUnavailableException">No member answered, or the cluster has no quorum.</exception>
    public static EtcdStore Connect(EtcdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var etcd = new EtcdConnection(options);
        try
        {
            Call(etcd, () => etcd.RangeAsync(StateLayout.Meta, 0, CancellationToken.None), "read the cluster's meta keys");
            return new EtcdStore(etcd);
        }
        catch
        {
            etcd.Dispose();
            throw;
        }
    }

    public EtcdConnection Connection => _etcd;

    public string Location => _etcd.Options.Describe();

    public bool FeedsCommits => true;

    /// <summary>Times the watch broke and was resumed (or the state reloaded) since start.</summary>
    public long FeedErrors => Interlocked.Read(ref _feedErrors);

    /// <summary>Times the feed found its revision compacted away and swapped in the whole state, read again.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Why the feed is not following now (null while it is).</summary>
    public string? FeedProblem => Volatile.Read(ref _feedProblem);

    // ----------------------------------------------------------------- meta

    public string GetOrCreateMeta(string key, Func<string> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        string relative = StateLayout.Meta + key;
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = _etcd.Key(relative), Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        string value = create();
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _etcd.Key(relative), Value = ByteString.CopyFromUtf8(value) } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = _etcd.Key(relative) } });
        var response = Call(_etcd, () => _etcd.TxnAsync(txn, CancellationToken.None), $"store {relative}");
        return response.Succeeded ? value : response.Responses[0].ResponseRange.Kvs[0].Value.ToStringUtf8();
    }

    /// <summary>The value under meta/<paramref name="key"/>, or null.</summary>
    public string? GetMeta(string key) =>
        Call(_etcd, () => _etcd.GetAsync(StateLayout.Meta + key, CancellationToken.None), $"read meta/{key}");

    // ----------------------------------------------------------------- load

    public ControlState Load(IReadOnlyCollection<uint> poolMembers, Ipv4Cidr subnet, string vpcId, string subnetId)
    {
        _poolMembers = poolMembers;
        _subnet = subnet;
        _vpcId = vpcId;
        _subnetId = subnetId;
        return LoadAt(0, CancellationToken.None);
    }

    /// <summary>Reads all of <c>state/</c> at one revision (0: now) into a fresh state.</summary>
    private ControlState LoadAt(long revision, CancellationToken cancellationToken)
    {
        var response = Call(_etcd, () => _etcd.RangeAsync(StateLayout.State, revision, cancellationToken), "read the control state");
        var state = new ControlState(new PublicPool(_poolMembers), _subnet, _vpcId, _subnetId) { Revision = response.Header.Revision };
        var held = new HashSet<uint>();
        var freed = new Dictionary<uint, long>();
        long maxTask = 0;
        foreach (var kv in response.Kvs)
        {
            string key = _etcd.Relative(kv.Key);
            string value = kv.Value.ToStringUtf8();
            state.KeyRevisions[key] = kv.ModRevision;
            if (key.StartsWith(StateLayout.Instances, StringComparison.Ordinal))
            {
                state.Load(StateLayout.Decode<Instance>(value, key));
            }
            else if (key.StartsWith(StateLayout.Addresses, StringComparison.Ordinal))
            {
                state.Load(StateLayout.Decode<ElasticAddress>(value, key));
            }
            else if (key.StartsWith(StateLayout.PoolHeld, StringComparison.Ordinal))
            {
                held.Add(StateLayout.ParseIp(key[StateLayout.PoolHeld.Length..], key));
            }
            else if (key.StartsWith(StateLayout.PoolFreed, StringComparison.Ordinal))
            {
                freed[StateLayout.ParseIp(key[StateLayout.PoolFreed.Length..], key)] = StateLayout.DecodeNumber(value, key);
            }
            else if (key.StartsWith(StateLayout.Tasks, StringComparison.Ordinal))
            {
                long id = StateLayout.DecodeNumber(key[StateLayout.Tasks.Length..], key);
                state.LoadTask(id);
                maxTask = Math.Max(maxTask, id);
            }
            else if (key.StartsWith(StateLayout.ClientTokens, StringComparison.Ordinal))
            {
                state.LoadClientToken(key[StateLayout.ClientTokens.Length..], StateLayout.Decode<List<string>>(value, key));
            }
        }
        foreach (uint ip in _poolMembers)
        {
            if (!held.Contains(ip))
            {
                state.Pool.Return(ip, freed.GetValueOrDefault(ip)); // never handed out: free since forever (0)
            }
        }
        state.NextTaskId = maxTask + 1;
        return state;
    }

    public IReadOnlyList<(uint PublicIp, uint PrivateIp)> ReadBindings()
    {
        var response = Call(_etcd, () => _etcd.RangeAsync(StateLayout.State, 0, CancellationToken.None), "read the control state");
        var instances = new Dictionary<string, Instance>(StringComparer.Ordinal);
        var eipOf = new Dictionary<string, uint>(StringComparer.Ordinal);
        foreach (var kv in response.Kvs)
        {
            string key = _etcd.Relative(kv.Key);
            if (key.StartsWith(StateLayout.Instances, StringComparison.Ordinal))
            {
                var instance = StateLayout.Decode<Instance>(kv.Value.ToStringUtf8(), key);
                instances[instance.Id] = instance;
            }
            else if (key.StartsWith(StateLayout.Addresses, StringComparison.Ordinal))
            {
                var address = StateLayout.Decode<ElasticAddress>(kv.Value.ToStringUtf8(), key);
                if (address.InstanceId is not null)
                {
                    eipOf[address.InstanceId] = address.Ip;
                }
            }
        }
        var result = new List<(uint, uint)>();
        foreach (var instance in instances.Values)
        {
            // As ControlState.BoundPublicIp: a stopped instance's address is not translated.
            uint? pub = instance.IsStopped ? null : eipOf.TryGetValue(instance.Id, out uint eip) ? eip : instance.OrdinaryPublicIp;
            if (pub is uint p)
            {
                result.Add((p, instance.PrivateIp));
            }
        }
        return result;
    }

    // ----------------------------------------------------------------- commit

    public MutationNumbering Numbering(ControlState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        long next = state.Revision + 1;
        return new MutationNumbering(next << SeqShift, (next << TaskShift) | (long)RandomNumberGenerator.GetInt32(1 << TaskShift));
    }

    public long HeadRevision(CancellationToken cancellationToken)
    {
        try
        {
            var response = _etcd.RangeAsync(StateLayout.LastChange, 0, cancellationToken, prefix: false).GetAwaiter().GetResult();
            return response.Kvs.Count == 1 ? response.Kvs[0].ModRevision : 0;
        }
        catch (RpcException e)
        {
            throw new ApiException(ErrorCodes.ServiceUnavailable, $"The change was not made: {_etcd.Explain(e)}. Retry once the etcd cluster answers again.");
        }
        catch (OperationCanceledException)
        {
            throw new ApiException(ErrorCodes.ServiceUnavailable, "The change was not made: etcd did not tell this node its head revision within the request timeout. Retry.");
        }
    }

    public PreparedCommit Prepare(ChangeSet change, IReadOnlySet<StateKey> reads, ControlState state)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(reads);
        ArgumentNullException.ThrowIfNull(state);
        var ops = new Dictionary<string, string?>(StringComparer.Ordinal); // key → value; null: delete

        // Deletes first, so that a put of the same key in this change wins.
        foreach (string id in change.DeletedInstances)
        {
            ops[StateLayout.Instances + id] = null;
            if (state.Instances.GetValueOrDefault(id) is { } old)
            {
                ops[StateLayout.PrivateIpIndex + StateLayout.Ip(old.PrivateIp)] = null;
            }
        }
        foreach (var instance in change.PutInstances)
        {
            ops[StateLayout.Instances + instance.Id] = StateLayout.EncodeRecord(instance);
            var old = state.Instances.GetValueOrDefault(instance.Id);
            if (old is null || old.PrivateIp != instance.PrivateIp)
            {
                if (old is not null)
                {
                    ops.TryAdd(StateLayout.PrivateIpIndex + StateLayout.Ip(old.PrivateIp), null);
                }
                ops[StateLayout.PrivateIpIndex + StateLayout.Ip(instance.PrivateIp)] = instance.Id;
            }
        }

        var changedAddresses = new HashSet<string>(change.DeletedAddresses, StringComparer.Ordinal);
        var boundInstances = new HashSet<string>(StringComparer.Ordinal);
        foreach (string id in change.DeletedAddresses)
        {
            ops[StateLayout.Addresses + id] = null;
            if (state.Addresses.GetValueOrDefault(id)?.InstanceId is string was)
            {
                boundInstances.Add(was);
            }
        }
        foreach (var address in change.PutAddresses)
        {
            changedAddresses.Add(address.Id);
            ops[StateLayout.Addresses + address.Id] = StateLayout.EncodeRecord(address);
            if (state.Addresses.GetValueOrDefault(address.Id)?.InstanceId is string was)
            {
                boundInstances.Add(was);
            }
            if (address.InstanceId is not null)
            {
                boundInstances.Add(address.InstanceId);
            }
        }
        foreach (string instanceId in boundInstances)
        {
            string? before = state.AddressBoundTo(instanceId)?.Id;
            string? after = before is not null && !changedAddresses.Contains(before) ? before : null;
            foreach (var address in change.PutAddresses)
            {
                if (address.InstanceId == instanceId)
                {
                    after = address.Id;
                }
            }
            if (after != before)
            {
                ops[StateLayout.EipOfIndex + instanceId] = after;
            }
        }
        int added = change.PutAddresses.Count(a => !state.Addresses.ContainsKey(a.Id));
        int removed = change.DeletedAddresses.Count(state.Addresses.ContainsKey);
        if (added != removed)
        {
            ops[StateLayout.EipCount] = StateLayout.Encode(state.Addresses.Count + added - removed);
        }

        foreach (uint ip in change.Taken)
        {
            ops[StateLayout.PoolHeld + StateLayout.Ip(ip)] = "";
            if (state.KeyRevisions.ContainsKey(StateLayout.PoolFreed + StateLayout.Ip(ip)))
            {
                ops[StateLayout.PoolFreed + StateLayout.Ip(ip)] = null;
            }
        }
        foreach (var (ip, seq) in change.Returned)
        {
            ops[StateLayout.PoolHeld + StateLayout.Ip(ip)] = null;
            ops[StateLayout.PoolFreed + StateLayout.Ip(ip)] = StateLayout.Encode(seq);
        }
        if (change.Task is { } task)
        {
            ops[StateLayout.Tasks + StateLayout.Encode(task.Id)] = task.Action;
        }
        if (change.ClientToken is { } token)
        {
            ops[StateLayout.ClientTokens + token.Token] = StateLayout.Encode(token.InstanceIds);
        }

        string commitId = Guid.NewGuid().ToString("N");
        var txn = new TxnRequest();
        var compared = new HashSet<string>(ops.Keys, StringComparer.Ordinal);
        compared.UnionWith(reads.Select(StateLayout.KeyOf));
        foreach (string key in compared.Order(StringComparer.Ordinal))
        {
            txn.Compare.Add(new Compare
            {
                Key = _etcd.Key(key),
                Target = Compare.Types.CompareTarget.Mod,
                Result = Compare.Types.CompareResult.Equal,
                ModRevision = state.KeyRevisions.GetValueOrDefault(key), // 0: the key must not exist
            });
        }
        foreach (var (key, value) in ops)
        {
            txn.Success.Add(value is null
                ? new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = _etcd.Key(key) } }
                : new RequestOp { RequestPut = new PutRequest { Key = _etcd.Key(key), Value = ByteString.CopyFromUtf8(value) } });
        }
        string node = _etcd.Options.NodeName;
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _etcd.Key(StateLayout.LastChange), Value = ByteString.CopyFromUtf8($"{node} {commitId}") } });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _etcd.Key(StateLayout.CommitMarkers + node), Value = ByteString.CopyFromUtf8(commitId) } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = _etcd.Key(StateLayout.LastChange), KeysOnly = true } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = _etcd.Key(StateLayout.CommitMarkers + node) } });
        return new EtcdCommit(change, txn, commitId);
    }

    public CommitOutcome Commit(PreparedCommit prepared, CancellationToken cancellationToken)
    {
        var commit = (EtcdCommit)prepared;
        bool maybeSent = false;
        RpcException? lastFailure = null;
        for (int attempt = 1; ; attempt++)
        {
            TxnResponse response;
            try
            {
                response = _etcd.Kv.TxnAsync(commit.Txn, EtcdConnection.Headers, _etcd.Deadline(), cancellationToken).ResponseAsync.GetAwaiter().GetResult();
            }
            catch (RpcException e) when (IsConnectionFailure(e) && attempt < ConnectionAttempts && !cancellationToken.IsCancellationRequested)
            {
                // The member went away under the call (killed, restarting): send the same transaction again, to whichever
                // member the channel picks. If the first attempt did commit, this one's compares fail and the marker says so.
                maybeSent = true;
                lastFailure = e;
                Thread.Sleep(50 * attempt);
                continue;
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException)
            {
                var rpc = e as RpcException ?? lastFailure;
                bool notProposed = e is RpcException r && IsNoLeader(r) && !maybeSent;
                string why = rpc is not null ? _etcd.Explain(rpc) : "the request timeout passed";
                throw new ApiException(ErrorCodes.ServiceUnavailable, notProposed
                    ? $"The change was not made: {why}. Retry once the etcd cluster has quorum again."
                    : $"The change could not be confirmed: {why}. It may or may not have been committed; describe the resources before retrying.");
            }
            if (response.Succeeded)
            {
                return CommitOutcome.Committed(response.Header.Revision);
            }
            var marker = response.Responses[1].ResponseRange.Kvs;
            if (marker.Count == 1 && marker[0].Value.ToStringUtf8() == commit.CommitId)
            {
                return CommitOutcome.Committed(marker[0].ModRevision); // an earlier attempt of this very commit went through
            }
            var last = response.Responses[0].ResponseRange.Kvs;
            long head = last.Count == 1 ? last[0].ModRevision : response.Header.Revision;
            return CommitOutcome.Conflict(state => state.Revision >= head);
        }
    }

    /// <summary>Attempts of one commit when members drop the connection (a member killed or restarting), about 1.3 s in all.</summary>
    private const int ConnectionAttempts = 7;

    private static bool IsNoLeader(RpcException e) =>
        e.StatusCode == StatusCode.Unavailable && (e.Status.Detail?.Contains("no leader", StringComparison.OrdinalIgnoreCase) ?? false);

    /// <summary>The call never reached a member that could answer (connection refused or reset), as opposed to a member's answer.</summary>
    private static bool IsConnectionFailure(RpcException e) =>
        e.StatusCode == StatusCode.Unavailable && !IsNoLeader(e);

    private sealed class EtcdCommit(ChangeSet change, TxnRequest txn, string commitId) : PreparedCommit(change)
    {
        public TxnRequest Txn { get; } = txn;
        public string CommitId { get; } = commitId;
    }

    // ----------------------------------------------------------------- feed

    public void Start(IChangeSink sink, ControlState loaded)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(loaded);
        long from = loaded.Revision + 1;
        _feed = Task.Run(() => FollowAsync(sink, from, _stop.Token));
    }

    private async Task FollowAsync(IChangeSink sink, long next, CancellationToken stop)
    {
        var backoff = TimeSpan.FromMilliseconds(20);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var call = _etcd.Watch.Watch(EtcdConnection.Headers, cancellationToken: stop);
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest
                    {
                        Key = _etcd.Key(StateLayout.State),
                        RangeEnd = _etcd.RangeEnd(StateLayout.State),
                        StartRevision = next,
                    },
                }, stop).ConfigureAwait(false);
                while (await call.ResponseStream.MoveNext(stop).ConfigureAwait(false))
                {
                    var response = call.ResponseStream.Current;
                    if (response.CompactRevision > 0)
                    {
                        // etcd no longer has the revisions after `next - 1`: read everything again and swap it in whole.
                        Interlocked.Increment(ref _feedErrors);
                        var fresh = await Task.Run(() => LoadAt(0, stop), stop).ConfigureAwait(false);
                        sink.ReplaceState(fresh);
                        Interlocked.Increment(ref _reloads);
                        next = fresh.Revision + 1;
                        break;
                    }
                    if (response.Canceled)
                    {
                        throw new RpcException(new Status(StatusCode.Unavailable, $"the watch was cancelled by etcd: {response.CancelReason}"));
                    }
                    if (response.Created)
                    {
                        Volatile.Write(ref _feedProblem, null);
                        backoff = TimeSpan.FromMilliseconds(20);
                    }
                    ChangeSet? pending = null;
                    foreach (var e in response.Events)
                    {
                        if (pending is not null && e.Kv.ModRevision != pending.Revision)
                        {
                            sink.ApplyCommitted(pending);
                            next = pending.Revision + 1;
                            pending = null;
                        }
                        pending ??= new ChangeSet { Revision = e.Kv.ModRevision };
                        Decode(e, pending);
                    }
                    if (pending is not null)
                    {
                        sink.ApplyCommitted(pending);
                        next = pending.Revision + 1;
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException e) when (stop.IsCancellationRequested && e.StatusCode == StatusCode.Cancelled)
            {
                return;
            }
#pragma warning disable CA1031 // The feed must outlive any failure: it resumes from the last applied revision.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref _feedErrors);
                Volatile.Write(ref _feedProblem, e is RpcException rpc ? _etcd.Explain(rpc) : e.Message);
            }
            try
            {
                await Task.Delay(backoff, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 500));
        }
    }

    /// <summary>One watch event into the change of its revision.</summary>
    private void Decode(Event e, ChangeSet change)
    {
        string key = _etcd.Relative(e.Kv.Key);
        bool put = e.Type == Event.Types.EventType.Put;
        change.KeyRevisions[key] = put ? e.Kv.ModRevision : 0;
        string value = e.Kv.Value.ToStringUtf8();
        if (key.StartsWith(StateLayout.Instances, StringComparison.Ordinal))
        {
            if (put)
            {
                change.PutInstances.Add(StateLayout.Decode<Instance>(value, key));
            }
            else
            {
                change.DeletedInstances.Add(key[StateLayout.Instances.Length..]);
            }
        }
        else if (key.StartsWith(StateLayout.Addresses, StringComparison.Ordinal))
        {
            if (put)
            {
                change.PutAddresses.Add(StateLayout.Decode<ElasticAddress>(value, key));
            }
            else
            {
                change.DeletedAddresses.Add(key[StateLayout.Addresses.Length..]);
            }
        }
        else if (put && key.StartsWith(StateLayout.PoolHeld, StringComparison.Ordinal))
        {
            change.Taken.Add(StateLayout.ParseIp(key[StateLayout.PoolHeld.Length..], key));
        }
        else if (put && key.StartsWith(StateLayout.PoolFreed, StringComparison.Ordinal))
        {
            change.Returned.Add((StateLayout.ParseIp(key[StateLayout.PoolFreed.Length..], key), StateLayout.DecodeNumber(value, key)));
        }
        else if (put && key.StartsWith(StateLayout.Tasks, StringComparison.Ordinal))
        {
            change.Task = (StateLayout.DecodeNumber(key[StateLayout.Tasks.Length..], key), value);
        }
        else if (put && key.StartsWith(StateLayout.ClientTokens, StringComparison.Ordinal))
        {
            change.ClientToken = (key[StateLayout.ClientTokens.Length..], StateLayout.Decode<List<string>>(value, key));
        }
    }

    // ----------------------------------------------------------------- helpers

    /// <summary>Runs one etcd call to completion; failures become <see cref="EtcdUnavailableException"/> naming what was being done.</summary>
    internal static T Call<T>(EtcdConnection etcd, Func<Task<T>> call, string what)
    {
        try
        {
            return call().GetAwaiter().GetResult();
        }
        catch (RpcException e)
        {
            throw new EtcdUnavailableException($"cannot {what} in {etcd.Options.Describe()}: {etcd.Explain(e)}", e);
        }
    }

    internal static async Task<T> CallAsync<T>(EtcdConnection etcd, Func<Task<T>> call, string what)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw new EtcdUnavailableException($"cannot {what} in {etcd.Options.Describe()}: {etcd.Explain(e)}", e);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _feed.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
        if (_ownsConnection)
        {
            _etcd.Dispose();
        }
    }
}

/// <summary>etcd could not be reached or could not serve (no quorum, wrong credentials); the message says which and where.</summary>
public sealed class EtcdUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
