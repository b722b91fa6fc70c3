using Gateway.Packets;

namespace Gateway.Control.Model;

/// <summary>What one accepted request changes, written to the store in one transaction and then applied here.</summary>
internal sealed class ChangeSet
{
    public List<Instance> PutInstances { get; } = [];
    public List<string> DeletedInstances { get; } = [];
    public List<ElasticAddress> PutAddresses { get; } = [];
    public List<string> DeletedAddresses { get; } = [];
    /// <summary>Pool addresses handed out by this change.</summary>
    public List<uint> Taken { get; } = [];
    /// <summary>Addresses going back to the pool, with the sequence number that orders them among the free ones.</summary>
    public List<(uint Ip, long FreedSeq)> Returned { get; } = [];
    /// <summary>The sequence counter after this change.</summary>
    public long NextSeq { get; set; }
    /// <summary>The asynchronous-task record the API answers with (DescribeTaskResult), if the action has one.</summary>
    public (long Id, string Action)? Task { get; set; }
    /// <summary>A RunInstances ClientToken and the instances it created, kept with them in the same transaction.</summary>
    public (string Token, IReadOnlyList<string> InstanceIds)? ClientToken { get; set; }
    /// <summary>
    /// The store's revision of this change (etcd: the transaction's revision; SQLite: 0). A change read back from a
    /// store's change feed carries it; <see cref="ControlState.Apply"/> records it as the state's revision.
    /// </summary>
    public long Revision { get; set; }
    /// <summary>
    /// The store's version of every key this change wrote (etcd: key → mod revision, 0 for a deleted key); empty for
    /// SQLite. Kept in <see cref="ControlState.KeyRevisions"/> so that the next change can compare what it read.
    /// </summary>
    public Dictionary<string, long> KeyRevisions { get; } = new(StringComparer.Ordinal);

    public bool IsEmpty =>
        PutInstances.Count == 0 && DeletedInstances.Count == 0 && PutAddresses.Count == 0 && DeletedAddresses.Count == 0
        && Taken.Count == 0 && Returned.Count == 0 && Task is null && ClientToken is null;
}

/// <summary>
/// The control plane's state in memory: a mirror of the store, changed only by <see cref="Apply"/> after the
/// store has committed the same <see cref="ChangeSet"/>.
/// </summary>
internal sealed class ControlState
{
    private readonly Dictionary<string, Instance> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ElasticAddress> _addresses = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, string> _instanceByPrivateIp = [];
    private readonly Dictionary<string, string> _addressByInstance = new(StringComparer.Ordinal);
    private readonly HashSet<long> _taskIds = [];
    private readonly Dictionary<string, IReadOnlyList<string>> _clientTokens = new(StringComparer.Ordinal);

    public ControlState(PublicPool pool, Ipv4Cidr subnet, string vpcId, string subnetId)
    {
        Pool = pool;
        Subnet = subnet;
        VpcId = vpcId;
        SubnetId = subnetId;
    }

    public PublicPool Pool { get; }
    public Ipv4Cidr Subnet { get; }
    public string VpcId { get; }
    public string SubnetId { get; }
    /// <summary>When the VPC and its subnet were made (the first start with this state directory).</summary>
    public DateTimeOffset NetworkCreated { get; set; }
    public long NextSeq { get; set; } = 1;
    public long NextTaskId { get; set; } = 1;

    /// <summary>The store revision this state reflects (etcd: the last revision applied from the watch; SQLite: 0).</summary>
    public long Revision { get; set; }

    /// <summary>
    /// The store's version of each of its keys that this state reflects (etcd key → mod revision; empty for SQLite).
    /// Opaque to the rules: a store reads it, under the control plane's lock, to build the compares of a transaction
    /// from exactly the versions the rules saw.
    /// </summary>
    public Dictionary<string, long> KeyRevisions { get; } = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, Instance> Instances => _instances;
    public IReadOnlyDictionary<string, ElasticAddress> Addresses => _addresses;

    public bool TryGetInstanceByPrivateIp(uint privateIp, out string instanceId) => _instanceByPrivateIp.TryGetValue(privateIp, out instanceId!);

    public ElasticAddress? AddressBoundTo(string instanceId) =>
        _addressByInstance.TryGetValue(instanceId, out string? addressId) ? _addresses[addressId] : null;

    public bool HasTask(long id) => _taskIds.Contains(id);

    /// <summary>The instances a RunInstances with this ClientToken created; null when the token is new.</summary>
    public IReadOnlyList<string>? InstancesOfClientToken(string token) => _clientTokens.GetValueOrDefault(token);

    public void LoadClientToken(string token, IReadOnlyList<string> instanceIds) => _clientTokens[token] = instanceIds;

    /// <summary>The public address that translates to the instance: its EIP if one is bound, else its ordinary public IP.</summary>
    public uint? EffectivePublicIp(Instance instance) => AddressBoundTo(instance.Id)?.Ip ?? instance.OrdinaryPublicIp;

    /// <summary>
    /// The caps of the instance's public address: its own <c>InternetMaxBandwidthOut</c> and charge type; an instance
    /// without bandwidth reached through an EIP takes the EIP's bandwidth and charge type.
    /// </summary>
    public Gateway.DataPlane.Policing.BandwidthCaps CapsOf(Instance instance)
    {
        if (instance.BandwidthOut > 0)
        {
            return InternetCharge.Caps(instance.BandwidthOut, instance.InternetChargeType);
        }
        return AddressBoundTo(instance.Id) is { } eip ? InternetCharge.Caps(eip.Bandwidth, eip.InternetChargeType) : default;
    }

    /// <summary>
    /// The public address the data plane translates to the instance now: its <see cref="EffectivePublicIp"/> while it
    /// is powered, nothing while it is stopped (the address may still be held: KEEP_CHARGING, or an EIP).
    /// </summary>
    public uint? BoundPublicIp(Instance instance) => instance.IsStopped ? null : EffectivePublicIp(instance);

    /// <summary>Every public→private binding the data plane must hold.</summary>
    public IEnumerable<(uint PublicIp, uint PrivateIp)> Bindings()
    {
        foreach (var instance in _instances.Values)
        {
            if (BoundPublicIp(instance) is uint publicIp)
            {
                yield return (publicIp, instance.PrivateIp);
            }
        }
    }

    /// <summary>Loads a row read from the store (start-up only).</summary>
    public void Load(Instance instance) => PutInstance(instance);

    /// <inheritdoc cref="Load(Instance)"/>
    public void Load(ElasticAddress address) => PutAddress(address);

    public void LoadTask(long id) => _taskIds.Add(id);

    /// <summary>
    /// The instances whose binding <paramref name="change"/> may alter (before or after it), read against this state
    /// before it is applied: changed or removed instances, and the instances of changed or removed EIPs.
    /// </summary>
    public HashSet<string> AffectedInstanceIds(ChangeSet change)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var instance in change.PutInstances)
        {
            ids.Add(instance.Id);
        }
        ids.UnionWith(change.DeletedInstances);
        foreach (var address in change.PutAddresses)
        {
            if (address.InstanceId is not null)
            {
                ids.Add(address.InstanceId);
            }
            if (_addresses.GetValueOrDefault(address.Id)?.InstanceId is string before)
            {
                ids.Add(before);
            }
        }
        foreach (string id in change.DeletedAddresses)
        {
            if (_addresses.GetValueOrDefault(id)?.InstanceId is string before)
            {
                ids.Add(before);
            }
        }
        return ids;
    }

    public void Apply(ChangeSet change)
    {
        foreach (var address in change.PutAddresses)
        {
            PutAddress(address);
        }
        foreach (string id in change.DeletedAddresses)
        {
            if (_addresses.Remove(id, out var old))
            {
                ForgetBinding(old);
            }
        }
        foreach (var instance in change.PutInstances)
        {
            PutInstance(instance);
        }
        foreach (string id in change.DeletedInstances)
        {
            if (_instances.Remove(id, out var old))
            {
                _instanceByPrivateIp.Remove(old.PrivateIp);
            }
        }
        foreach (uint ip in change.Taken)
        {
            Pool.Take(ip);
        }
        foreach (var (ip, seq) in change.Returned)
        {
            Pool.Return(ip, seq);
        }
        if (change.NextSeq > 0)
        {
            NextSeq = change.NextSeq;
        }
        foreach (var (key, revision) in change.KeyRevisions)
        {
            if (revision == 0)
            {
                KeyRevisions.Remove(key);
            }
            else
            {
                KeyRevisions[key] = revision;
            }
        }
        if (change.Revision > Revision)
        {
            Revision = change.Revision;
        }
        if (change.ClientToken is { } clientToken)
        {
            _clientTokens[clientToken.Token] = clientToken.InstanceIds;
        }
        if (change.Task is { } task)
        {
            _taskIds.Add(task.Id);
            NextTaskId = Math.Max(NextTaskId, task.Id + 1);
        }
    }

    private void PutInstance(Instance instance)
    {
        if (_instances.TryGetValue(instance.Id, out var old))
        {
            _instanceByPrivateIp.Remove(old.PrivateIp);
        }
        _instances[instance.Id] = instance;
        _instanceByPrivateIp[instance.PrivateIp] = instance.Id;
    }

    private void PutAddress(ElasticAddress address)
    {
        if (_addresses.TryGetValue(address.Id, out var old))
        {
            ForgetBinding(old);
        }
        _addresses[address.Id] = address;
        if (address.InstanceId is not null)
        {
            _addressByInstance[address.InstanceId] = address.Id;
        }
    }

    private void ForgetBinding(ElasticAddress old)
    {
        // Only if the index still points at this address: within one change another address may already own the instance.
        if (old.InstanceId is not null && _addressByInstance.TryGetValue(old.InstanceId, out string? current) && current == old.Id)
        {
            _addressByInstance.Remove(old.InstanceId);
        }
    }
}
