using Gateway.Control.Model;
using Gateway.Packets;

namespace Gateway.Control.Rules;

/// <summary>
/// A working overlay over <see cref="ControlState"/> for one request: the rules read and change the overlay, never
/// the state, so a request refused half-way (an <see cref="ApiException"/>) leaves nothing behind.
/// <see cref="Finish"/> turns the overlay into the <see cref="ChangeSet"/> the store commits.
/// </summary>
/// <remarks>
/// Every fact the rules look at goes through here and is recorded in <see cref="Reads"/>: a store shared by several
/// nodes commits the change only if none of those facts changed meanwhile (see <see cref="StateKey"/>).
/// </remarks>
internal sealed class Mutation
{
    private readonly ControlState _state;
    private readonly HashSet<StateKey> _reads = [];
    private readonly Dictionary<string, Instance?> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ElasticAddress?> _addresses = new(StringComparer.Ordinal);
    private readonly List<uint> _taken = [];
    private readonly List<(uint Ip, long Seq)> _returned = [];
    private long _nextSeq;
    private (long Id, string Action)? _task;
    private (string Token, IReadOnlyList<string> InstanceIds)? _clientToken;

    private readonly long _taskId;

    /// <param name="state">The state the rules decide on.</param>
    /// <param name="numbering">Where this change's sequence numbers start and the task id it may use (the store decides: a
    /// single writer counts, a cluster derives them from the revision the state reflects).</param>
    public Mutation(ControlState state, MutationNumbering numbering)
    {
        _state = state;
        _nextSeq = numbering.FirstSeq;
        _taskId = numbering.TaskId;
    }

    public ControlState State => _state;

    /// <summary>The facts the rules read, for a store that compares their versions on commit.</summary>
    public IReadOnlySet<StateKey> Reads => _reads;

    public long NextSeq() => _nextSeq++;

    public long AddTask(string action)
    {
        _task = (_taskId, action);
        _reads.Add(StateKey.Task(_taskId));
        return _taskId;
    }

    /// <summary>The instances a RunInstances with this ClientToken created; null when the token is new.</summary>
    public IReadOnlyList<string>? InstancesOfClientToken(string token)
    {
        _reads.Add(StateKey.ClientToken(token));
        return _state.InstancesOfClientToken(token);
    }

    public void RecordClientToken(string token, IReadOnlyList<string> instanceIds)
    {
        _reads.Add(StateKey.ClientToken(token));
        _clientToken = (token, instanceIds);
    }

    /// <summary>How many EIPs the account holds with this change (the quota's count).</summary>
    public int EipCount()
    {
        _reads.Add(StateKey.EipCount);
        int count = _state.Addresses.Count;
        foreach (var (id, pending) in _addresses)
        {
            bool stored = _state.Addresses.ContainsKey(id);
            count += pending is null ? (stored ? -1 : 0) : (stored ? 0 : 1);
        }
        return count;
    }

    public Instance? FindInstance(string id)
    {
        _reads.Add(StateKey.Instance(id));
        return _instances.TryGetValue(id, out var pending) ? pending : _state.Instances.GetValueOrDefault(id);
    }

    public ElasticAddress? FindAddress(string id)
    {
        _reads.Add(StateKey.Address(id));
        return _addresses.TryGetValue(id, out var pending) ? pending : _state.Addresses.GetValueOrDefault(id);
    }

    public ElasticAddress? AddressBoundTo(string instanceId)
    {
        _reads.Add(StateKey.EipOfInstance(instanceId));
        foreach (var pending in _addresses.Values)
        {
            if (pending?.InstanceId == instanceId)
            {
                return pending;
            }
        }
        var stored = _state.AddressBoundTo(instanceId);
        return stored is not null && !_addresses.ContainsKey(stored.Id) ? stored : null;
    }

    public void Put(Instance instance) => _instances[instance.Id] = instance;

    public void Put(ElasticAddress address) => _addresses[address.Id] = address;

    public void DeleteInstance(string id) => _instances[id] = null;

    public void DeleteAddress(string id) => _addresses[id] = null;

    public bool IsInstanceIdTaken(string id) => FindInstance(id) is not null || _instances.ContainsKey(id);

    public bool IsAddressIdTaken(string id) => FindAddress(id) is not null || _addresses.ContainsKey(id);

    public bool IsPrivateIpInUse(uint ip)
    {
        foreach (var pending in _instances.Values)
        {
            if (pending?.PrivateIp == ip)
            {
                return true;
            }
        }
        if (_state.TryGetInstanceByPrivateIp(ip, out string owner) && !_instances.ContainsKey(owner))
        {
            return true; // skipped or refused: whatever happens to it meanwhile cannot make this change wrong
        }
        _reads.Add(StateKey.PrivateAddress(ip)); // about to be used: it must still be free at commit
        return false;
    }

    /// <summary>Hands out the pool address that has been free longest; an empty pool is <paramref name="exhaustedCode"/>.</summary>
    public uint TakePublicIp(string exhaustedCode = ErrorCodes.ResourceInsufficient)
    {
        foreach (var (_, ip) in _state.Pool.FreeInOrder())
        {
            if (!_taken.Contains(ip))
            {
                _taken.Add(ip);
                _reads.Add(StateKey.PoolAddress(ip));
                return ip;
            }
        }
        foreach (var (ip, _) in _returned)
        {
            if (!_taken.Contains(ip))
            {
                _taken.Add(ip);
                return ip;
            }
        }
        throw new ApiException(exhaustedCode,
            $"The public IP pool has no free address: all {_state.Pool.MemberCount} addresses of --public-pool are held by instances or EIPs. Release an EIP, terminate an instance, or start the gateway with a larger --public-pool.");
    }

    /// <summary>Gives a public address back to the pool, behind every address that is free already.</summary>
    public void ReturnPublicIp(uint ip)
    {
        _reads.Add(StateKey.PoolAddress(ip));
        if (_taken.Remove(ip))
        {
            return; // handed out and given back within this request: as if never taken.
        }
        if (_state.Pool.IsMember(ip))
        {
            _returned.Add((ip, NextSeq()));
        }
    }

    public int FreePublicIpCount => _state.Pool.FreeCount - _taken.Count + _returned.Count;

    public ChangeSet Finish()
    {
        var change = new ChangeSet { NextSeq = _nextSeq, Task = _task, ClientToken = _clientToken };
        foreach (var (id, pending) in _instances)
        {
            if (pending is not null)
            {
                change.PutInstances.Add(pending);
            }
            else if (_state.Instances.ContainsKey(id))
            {
                change.DeletedInstances.Add(id);
            }
        }
        foreach (var (id, pending) in _addresses)
        {
            if (pending is not null)
            {
                change.PutAddresses.Add(pending);
            }
            else if (_state.Addresses.ContainsKey(id))
            {
                change.DeletedAddresses.Add(id);
            }
        }
        change.Taken.AddRange(_taken);
        // An address returned and taken again in one request stays out of the pool.
        change.Returned.AddRange(_returned.Where(r => !_taken.Contains(r.Ip)));
        change.Taken.RemoveAll(ip => _returned.Any(r => r.Ip == ip));
        return change;
    }

    public static string Format(uint ip) => Ipv4Address.Format(ip);
}

/// <summary>Where a change's sequence numbers start, and the task id it records if it has a task.</summary>
internal readonly record struct MutationNumbering(long FirstSeq, long TaskId);
