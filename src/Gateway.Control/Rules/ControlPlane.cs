using Gateway.Control.Model;
using Gateway.Control.Store;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Policing;
using Gateway.Packets;

namespace Gateway.Control.Rules;

/// <summary>
/// An instance as listed: with the public address it holds (EIP or ordinary; kept while stopped with KEEP_CHARGING),
/// its EIP id, and its state and latest operation's state at the time of listing.
/// </summary>
internal sealed record InstanceView(Instance Instance, uint? PublicIp, string? AddressId)
{
    public string State { get; init; } = InstanceStates.Running;

    public string LatestOperationState { get; init; } = "SUCCESS";
}

/// <summary>The instance states DescribeInstancesStatus lists.</summary>
internal sealed record InstanceStatusView(string InstanceId, string State);

/// <summary>An EIP as listed: with the private address of the instance it is bound to.</summary>
internal sealed record AddressView(ElasticAddress Address, uint? PrivateIp);

/// <summary>What <c>RunInstances</c> asks for, already type-checked by the API layer.</summary>
internal sealed record RunInstancesCommand(
    int Count,
    int BandwidthOut,
    bool? PublicIpAssigned,
    string InternetChargeType,
    IReadOnlyList<uint>? PrivateIps,
    string Name,
    string Zone,
    string InstanceType,
    string ImageId)
{
    /// <summary>
    /// RunInstances' idempotency key (at most 64 ASCII characters): a request with a token already used returns the
    /// instances that token created and creates nothing, so a retried or replayed RunInstances cannot create twice.
    /// </summary>
    public string? ClientToken { get; init; }

    /// <summary>The API request's id, kept as the instances' LatestOperationRequestId.</summary>
    public string? RequestId { get; init; }
}

/// <summary>Limits the rules enforce, and how long the power transitions read (bandwidth ranges come with the charge type: <see cref="InternetCharge"/>).</summary>
internal sealed record ControlPlaneLimits(int EipQuota = ControlPlaneLimits.DefaultEipQuota)
{
    public const int DefaultEipQuota = 20;
    public const int MaxIdsPerRequest = 100;

    /// <summary>
    /// How long one change may take from deciding to applied (a shared store: commit, conflicts decided again, and
    /// this node's table reaching the commit); past it the request fails with <see cref="ErrorCodes.ServiceUnavailable"/>.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>InstanceName's limit in RunInstances and ModifyInstancesAttribute (cvm: InvalidInstanceName.TooLong).</summary>
    public const int MaxInstanceNameLength = 60;

    /// <summary>
    /// How long PENDING, STOPPING, STARTING and REBOOTING read before the instance reads as its target state. Zero (the
    /// default) settles every change within its request: scripts that poll for RUNNING finish at their first poll and
    /// scripts that do not poll still work. Every effect of a change is committed when it is accepted, whatever this is:
    /// the transition is a label that ends at a stored time, so a restart never has a half-done change to finish.
    /// </summary>
    public TimeSpan TransitionTime { get; init; }
}

/// <summary>
/// The seed's public-IP rules over instances, ordinary public IPs and EIPs, and the control channel to the data plane.
/// </summary>
/// <remarks>
/// <para>Every change goes in three steps: the rules build a <see cref="Mutation"/> (refusing with an
/// <see cref="ApiException"/> before anything is written), the store commits it in one transaction, and the binding
/// table and the memory state take it. Only then does the caller answer, so a client that got a success can send
/// traffic through the new binding at once, and an answered change is durable. One change at a time is decided and
/// committed on a node; queries and the change feed only wait for the state lock, never for a commit.</para>
/// <para>With a store shared by several nodes (<see cref="IControlStore.FeedsCommits"/>), the state and the table
/// change only through the store's change feed (<see cref="IChangeSink"/>), in commit order, whoever committed: the
/// committer waits until its own commit came back through the feed. A commit refused because another node changed a
/// fact the rules read is decided again once this node has seen that change.</para>
/// <para>Rebinding an instance (EIP associate/disassociate) is one <see cref="BindingTable.Bind"/>, which installs the
/// new public address before it removes the old one: no packet meets a half-changed state.</para>
/// <para>Caps travel with the binding: right after <see cref="BindingTable.Bind"/> hands out the binding's id, the
/// policer gets the instance's caps for it (<see cref="ControlState.CapsOf"/>); a cap change on a binding that stays is
/// one <see cref="Policer.SetCaps"/>. Both happen before the request is answered. (Between the bind and the caps, a
/// few microseconds under the lock, a frame may be judged by the caps the recycled id had before; ids are reused
/// only after 64 others were freed.)</para>
/// </remarks>
internal sealed class ControlPlane : IChangeSink
{
    /// <summary>Guards <see cref="_state"/> and the table's writer side; held for the rules and for applying, never across a commit.</summary>
    private readonly Lock _lock = new();
    /// <summary>One change decided and committed at a time on this node (the store's transactions are one at a time anyway).</summary>
    private readonly Lock _mutations = new();
    /// <summary>Pulsed after every apply, for a committer waiting for its change to come back through the feed.</summary>
    private readonly object _applied = new();
    private ControlState _state;
    private readonly IControlStore _store;
    private readonly BindingTable _table;
    private readonly TimeProvider _clock;
    private readonly ControlPlaneLimits _limits;
    private readonly Policer? _policer;

    public ControlPlane(ControlState state, IControlStore store, BindingTable table, ControlPlaneLimits limits, TimeProvider? clock = null, Policer? policer = null)
    {
        _state = state;
        _store = store;
        _table = table;
        _limits = limits;
        _clock = clock ?? TimeProvider.System;
        _policer = policer;
    }

    /// <summary>
    /// Raised after each change reached the binding table, under the control plane's lock and in order:
    /// handlers must be quick and must not call back into the control plane.
    /// </summary>
    public event Action<ControlPlaneEvent>? Changed;

    public ControlPlaneLimits Limits => _limits;

    /// <summary>The cluster's nodes and roles (set when the store is shared; null on one node).</summary>
    public Func<CancellationToken, Task<System.Text.Json.Nodes.JsonObject>>? ClusterStatus { get; set; }

    public string VpcId => _state.VpcId;

    public string SubnetId => _state.SubnetId;

    public Ipv4Cidr Subnet => _state.Subnet;

    /// <summary>The state now (replaced whole when a shared store's feed had to reload).</summary>
    public ControlState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>The store revision this node's state and table reflect (0 for a store without revisions).</summary>
    public long AppliedRevision
    {
        get
        {
            lock (_lock)
            {
                return _state.Revision;
            }
        }
    }

    /// <summary>Fills the (empty) binding table from the state: start-up, before the API answers.</summary>
    public void LoadTable()
    {
        lock (_lock)
        {
            _table.Clear();
            foreach (var instance in _state.Instances.Values)
            {
                if (_state.BoundPublicIp(instance) is uint publicIp)
                {
                    int id = _table.Bind(publicIp, instance.PrivateIp);
                    _policer?.SetCaps(id, _state.CapsOf(instance));
                }
            }
        }
    }

    /// <summary>
    /// Differences between the binding table and the bindings the store implies (read from the store, not memory);
    /// empty when they are equal. With a shared store, only meaningful once changes have stopped.
    /// </summary>
    public IReadOnlyList<string> CheckTableAgainstStore()
    {
        lock (_lock)
        {
            var inTable = _table.Snapshot().Select(b => (b.PublicAddress, b.PrivateAddress)).ToHashSet();
            var inStore = _store.ReadBindings().ToHashSet();
            var problems = new List<string>();
            foreach (var (pub, priv) in inStore.Except(inTable))
            {
                problems.Add($"the store binds {Ipv4Address.Format(pub)} -> {Ipv4Address.Format(priv)} but the table does not");
            }
            foreach (var (pub, priv) in inTable.Except(inStore))
            {
                problems.Add($"the table binds {Ipv4Address.Format(pub)} -> {Ipv4Address.Format(priv)} but the store does not");
            }
            return problems;
        }
    }

    /// <summary>The binding table's bindings now (public, private), sorted.</summary>
    public IReadOnlyList<(uint PublicIp, uint PrivateIp)> TableBindings() =>
        [.. _table.Snapshot().Select(b => (b.PublicAddress, b.PrivateAddress)).Order()];

    /// <summary>The private addresses of every instance (the VPC sources the data plane may accept).</summary>
    public IReadOnlyList<uint> KnownPrivateAddresses()
    {
        lock (_lock)
        {
            return [.. _state.Instances.Values.Select(i => i.PrivateIp)];
        }
    }

    // ----- Queries. -----

    /// <summary>The bandwidth policer the caps are written to (null: caps are kept but not enforced).</summary>
    public Policer? Policer => _policer;

    /// <summary>Every binding with its instance and table id (what metering attributes traffic to).</summary>
    public IReadOnlyList<(string InstanceId, uint PublicIp, int BindingId)> MeteredBindings()
    {
        lock (_lock)
        {
            var result = new List<(string, uint, int)>();
            foreach (var instance in _state.Instances.Values)
            {
                if (_state.BoundPublicIp(instance) is uint publicIp && _table.TryGetPrivate(publicIp, out _, out int id))
                {
                    result.Add((instance.Id, publicIp, id));
                }
            }
            return result;
        }
    }

    /// <summary>Each instance's public address and caps, in creation order (for <c>ctl traffic</c> and metrics).</summary>
    public IReadOnlyList<(string InstanceId, uint? PublicIp, BandwidthCaps Caps)> InstanceCaps()
    {
        lock (_lock)
        {
            return [.. _state.Instances.Values.OrderBy(i => i.Seq).Select(i => (i.Id, _state.EffectivePublicIp(i), _state.CapsOf(i)))];
        }
    }

    public IReadOnlyList<InstanceView> ListInstances()
    {
        lock (_lock)
        {
            var now = _clock.GetUtcNow();
            return [.. _state.Instances.Values.OrderBy(i => i.Seq).Select(i => new InstanceView(i, _state.EffectivePublicIp(i), _state.AddressBoundTo(i.Id)?.Id)
            {
                State = i.StateAt(now),
                LatestOperationState = i.LatestOperationStateAt(now),
            })];
        }
    }

    /// <summary>The state of every instance now, in creation order.</summary>
    public IReadOnlyList<InstanceStatusView> InstanceStatuses()
    {
        lock (_lock)
        {
            var now = _clock.GetUtcNow();
            return [.. _state.Instances.Values.OrderBy(i => i.Seq).Select(i => new InstanceStatusView(i.Id, i.StateAt(now)))];
        }
    }

    /// <summary>The VPC, the subnet, when they were made and the private addresses in use (DescribeVpcs, DescribeSubnets).</summary>
    public (DateTimeOffset Created, int UsedPrivateIps) NetworkUsage()
    {
        lock (_lock)
        {
            return (_state.NetworkCreated, _state.Instances.Values.Count(i => _state.Subnet.Contains(i.PrivateIp)));
        }
    }

    public IReadOnlyList<AddressView> ListAddresses()
    {
        lock (_lock)
        {
            return [.. _state.Addresses.Values.OrderBy(a => a.Seq).Select(a => new AddressView(a, a.InstanceId is null ? null : _state.Instances[a.InstanceId].PrivateIp))];
        }
    }

    public (int Current, int Limit) AddressQuota()
    {
        lock (_lock)
        {
            return (_state.Addresses.Count, _limits.EipQuota);
        }
    }

    public bool TaskExists(long taskId)
    {
        lock (_lock)
        {
            return _state.HasTask(taskId);
        }
    }

    public (int Free, int Total) PoolUsage()
    {
        lock (_lock)
        {
            return (_state.Pool.FreeCount, _state.Pool.MemberCount);
        }
    }

    // ----- cvm. -----

    public IReadOnlyList<string> RunInstances(RunInstancesCommand command) => Mutate(m =>
    {
        if (command.ClientToken is { } token && m.InstancesOfClientToken(token) is { } earlier)
        {
            return earlier; // the same request again (a retry after a lost answer, or a replay): nothing new.
        }
        if (command.Count is < 1 or > ControlPlaneLimits.MaxIdsPerRequest)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValueRange, $"InstanceCount must be 1 to {ControlPlaneLimits.MaxIdsPerRequest}, not {command.Count}.");
        }
        CheckBandwidth(command.BandwidthOut, command.InternetChargeType);
        if (command.PublicIpAssigned == true && command.BandwidthOut == 0)
        {
            throw new ApiException(ErrorCodes.InvalidParameterCombination, "InternetAccessible.PublicIpAssigned is true but InternetMaxBandwidthOut is 0: a public IP needs bandwidth greater than 0.");
        }
        if (command.PrivateIps is { } wanted)
        {
            if (wanted.Count != command.Count)
            {
                throw new ApiException(ErrorCodes.AmountNotEqual, $"VirtualPrivateCloud.PrivateIpAddresses has {wanted.Count} addresses for InstanceCount {command.Count}; give one per instance.");
            }
            var seen = new HashSet<uint>();
            foreach (uint ip in wanted)
            {
                if (!IsAssignableHost(ip))
                {
                    throw new ApiException(ErrorCodes.VpcAddrNotInSubNet, $"{Ipv4Address.Format(ip)} is not an assignable address of the subnet {_state.Subnet} (the network, gateway .1 and broadcast addresses are reserved).");
                }
                if (!seen.Add(ip) || m.IsPrivateIpInUse(ip))
                {
                    throw new ApiException(ErrorCodes.VpcIpIsUsed, $"{Ipv4Address.Format(ip)} is already used by another instance of the subnet.");
                }
            }
        }
        if (command.Name.Length > ControlPlaneLimits.MaxInstanceNameLength)
        {
            throw new ApiException(ErrorCodes.InstanceNameTooLong, $"InstanceName has {command.Name.Length} characters; at most {ControlPlaneLimits.MaxInstanceNameLength} are accepted.");
        }
        bool wantsPublic = command.BandwidthOut > 0 && command.PublicIpAssigned != false;
        var now = Now();
        var transition = Transition(InstanceStates.Pending);
        var ids = new List<string>(command.Count);
        for (int n = 0; n < command.Count; n++)
        {
            uint privateIp = command.PrivateIps?[n] ?? NextFreePrivateIp(m);
            uint? publicIp = wantsPublic ? m.TakePublicIp() : null;
            string id = ResourceIds.New(ResourceIds.InstancePrefix, m.IsInstanceIdTaken);
            string name = command.Count > 1 && command.Name.Length > 0 ? $"{command.Name}-{n + 1}" : command.Name;
            m.Put(new Instance(id, m.NextSeq(), name, privateIp, publicIp, command.BandwidthOut, command.InternetChargeType,
                command.PublicIpAssigned ?? command.BandwidthOut > 0, command.Zone, command.InstanceType, command.ImageId, now)
            {
                Transition = transition.State,
                TransitionUntil = transition.Until,
                LatestOperation = "RunInstances",
                LatestOperationRequestId = command.RequestId,
            });
            ids.Add(id);
        }
        if (command.ClientToken is { } newToken)
        {
            m.RecordClientToken(newToken, ids);
        }
        return (IReadOnlyList<string>)ids;
    });

    public void TerminateInstances(IReadOnlyList<string> instanceIds, bool releaseAddress) => Mutate(m =>
    {
        var now = _clock.GetUtcNow();
        var instances = RequireInstances(m, instanceIds);
        foreach (var instance in instances)
        {
            RequireState(instance, now, "TerminateInstances", InstanceStates.Running, InstanceStates.Stopped);
        }
        foreach (var instance in instances)
        {
            if (instance.OrdinaryPublicIp is uint publicIp)
            {
                m.ReturnPublicIp(publicIp);
            }
            if (m.AddressBoundTo(instance.Id) is { } eip)
            {
                // The seed: the instance's public IP goes back to the pool; an EIP is the account's and stays, unbound.
                if (releaseAddress)
                {
                    m.DeleteAddress(eip.Id);
                    m.ReturnPublicIp(eip.Ip);
                }
                else
                {
                    m.Put(eip with { InstanceId = null });
                }
            }
            m.DeleteInstance(instance.Id);
        }
        return 0;
    });

    public void ResetInternetMaxBandwidth(IReadOnlyList<string> instanceIds, int bandwidthOut) => Mutate(m =>
    {
        if (bandwidthOut < 0)
        {
            CheckBandwidth(bandwidthOut, InternetCharge.Default);
        }
        var now = _clock.GetUtcNow();
        var instances = RequireInstances(m, instanceIds);
        foreach (var instance in instances)
        {
            RequireState(instance, now, "ResetInstancesInternetMaxBandwidth", InstanceStates.Running, InstanceStates.Stopped);
        }
        foreach (var instance in instances)
        {
            // The range is the instance's charge type's; one instance out of range refuses the whole request.
            CheckBandwidth(bandwidthOut, instance.InternetChargeType, instance.Id);
            var changed = instance with { BandwidthOut = bandwidthOut };
            if (IsReleasedWhileStopped(instance))
            {
                // Stopped with STOP_CHARGING: no public IP until start; the bandwidth decides whether start assigns one.
                m.Put(changed with { PublicIpOnStart = bandwidthOut > 0 && (instance.PublicIpOnStart || instance.BandwidthOut == 0) && m.AddressBoundTo(instance.Id) is null });
                continue;
            }
            if (bandwidthOut == 0 && instance.OrdinaryPublicIp is uint publicIp)
            {
                // No bandwidth, no internet access: the ordinary public IP goes back to the pool.
                m.ReturnPublicIp(publicIp);
                changed = changed with { OrdinaryPublicIp = null };
            }
            else if (bandwidthOut > 0 && instance.BandwidthOut == 0 && instance.OrdinaryPublicIp is null && m.AddressBoundTo(instance.Id) is null)
            {
                changed = changed with { OrdinaryPublicIp = m.TakePublicIp(), PublicIpAssigned = true };
            }
            m.Put(changed);
        }
        return 0;
    });

    /// <summary>
    /// StopInstances: RUNNING instances read STOPPING, then STOPPED. Their binding leaves the data plane at once.
    /// STOP_CHARGING releases the ordinary public IP to the pool (behind every free address) and start assigns a new
    /// one; KEEP_CHARGING keeps it; an EIP stays bound either way. The cloud accepts no-charge stops only from
    /// pay-as-you-go instances with cloud disks, which every emulated instance is.
    /// </summary>
    public void StopInstances(IReadOnlyList<string> instanceIds, string stopType, string stoppedMode, string? requestId) => Mutate(m =>
    {
        CheckStopType(stopType);
        if (stoppedMode is not (StopModes.KeepCharging or StopModes.StopCharging))
        {
            throw new ApiException(ErrorCodes.InvalidParameterValue, $"StoppedMode must be {StopModes.KeepCharging} or {StopModes.StopCharging}, not '{stoppedMode}'.");
        }
        var now = _clock.GetUtcNow();
        var instances = RequireInstances(m, instanceIds);
        foreach (var instance in instances)
        {
            RequireState(instance, now, "StopInstances", InstanceStates.Running);
        }
        var transition = Transition(InstanceStates.Stopping);
        foreach (var instance in instances)
        {
            var stopped = instance with
            {
                Power = InstanceStates.Stopped,
                StopMode = stoppedMode,
                Transition = transition.State,
                TransitionUntil = transition.Until,
                LatestOperation = "StopInstances",
                LatestOperationRequestId = requestId,
                PublicIpOnStart = false,
            };
            if (stoppedMode == StopModes.StopCharging && instance.OrdinaryPublicIp is uint publicIp)
            {
                m.ReturnPublicIp(publicIp);
                stopped = stopped with { OrdinaryPublicIp = null, PublicIpOnStart = true };
            }
            m.Put(stopped);
        }
        return 0;
    });

    /// <summary>
    /// StartInstances: STOPPED instances read STARTING, then RUNNING; their binding is back at once, with a new
    /// ordinary public IP (the pool's longest-free address) when a STOP_CHARGING stop released the old one.
    /// </summary>
    public void StartInstances(IReadOnlyList<string> instanceIds, string? requestId) => Mutate(m =>
    {
        var now = _clock.GetUtcNow();
        var instances = RequireInstances(m, instanceIds);
        foreach (var instance in instances)
        {
            RequireState(instance, now, "StartInstances", InstanceStates.Stopped);
        }
        var transition = Transition(InstanceStates.Starting);
        foreach (var instance in instances)
        {
            var started = instance with
            {
                Power = InstanceStates.Running,
                StopMode = "",
                Transition = transition.State,
                TransitionUntil = transition.Until,
                LatestOperation = "StartInstances",
                LatestOperationRequestId = requestId,
                PublicIpOnStart = false,
            };
            if (instance.PublicIpOnStart && instance.OrdinaryPublicIp is null && instance.BandwidthOut > 0 && m.AddressBoundTo(instance.Id) is null)
            {
                started = started with { OrdinaryPublicIp = m.TakePublicIp(ErrorCodes.EipInsufficient) };
            }
            m.Put(started);
        }
        return 0;
    });

    /// <summary>RebootInstances: RUNNING instances read REBOOTING, then RUNNING; addresses and bindings stay.</summary>
    public void RebootInstances(IReadOnlyList<string> instanceIds, string stopType, string? requestId) => Mutate(m =>
    {
        CheckStopType(stopType);
        var now = _clock.GetUtcNow();
        var instances = RequireInstances(m, instanceIds);
        foreach (var instance in instances)
        {
            RequireState(instance, now, "RebootInstances", InstanceStates.Running);
        }
        var transition = Transition(InstanceStates.Rebooting);
        foreach (var instance in instances)
        {
            m.Put(instance with
            {
                Transition = transition.State,
                TransitionUntil = transition.Until,
                LatestOperation = "RebootInstances",
                LatestOperationRequestId = requestId,
            });
        }
        return 0;
    });

    /// <summary>ModifyInstancesAttribute's InstanceName, in any state.</summary>
    public void RenameInstances(IReadOnlyList<string> instanceIds, string name) => Mutate(m =>
    {
        if (name.Length > ControlPlaneLimits.MaxInstanceNameLength)
        {
            throw new ApiException(ErrorCodes.InstanceNameTooLong, $"InstanceName has {name.Length} characters; at most {ControlPlaneLimits.MaxInstanceNameLength} are accepted.");
        }
        foreach (var instance in RequireInstances(m, instanceIds))
        {
            m.Put(instance with { Name = name });
        }
        return 0;
    });

    // ----- vpc. -----

    public (IReadOnlyList<string> AddressIds, long TaskId) AllocateAddresses(int count, string name, int bandwidth, string internetChargeType) => Mutate(m =>
    {
        if (count is < 1 or > ControlPlaneLimits.MaxIdsPerRequest)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValueRange, $"AddressCount must be 1 to {ControlPlaneLimits.MaxIdsPerRequest}, not {count}.");
        }
        int maxBandwidth = InternetCharge.MaxBandwidthOut(internetChargeType);
        if (bandwidth < 0 || bandwidth > maxBandwidth)
        {
            throw new ApiException(ErrorCodes.BandwidthOutOfRange, $"InternetMaxBandwidthOut must be 0 to {maxBandwidth} Mbps for {internetChargeType}, not {bandwidth}.");
        }
        int held = m.EipCount();
        if (held + count > _limits.EipQuota)
        {
            throw new ApiException(ErrorCodes.AddressQuotaLimitExceeded,
                $"The account holds {held} EIPs of its quota of {_limits.EipQuota}; {count} more would exceed it. Release EIPs first (ReleaseAddresses).");
        }
        var now = Now();
        var ids = new List<string>(count);
        for (int n = 0; n < count; n++)
        {
            string id = ResourceIds.New(ResourceIds.AddressPrefix, m.IsAddressIdTaken);
            m.Put(new ElasticAddress(id, m.NextSeq(), name, m.TakePublicIp(), null, bandwidth, internetChargeType, now));
            ids.Add(id);
        }
        return ((IReadOnlyList<string>)ids, m.AddTask("AllocateAddresses"));
    });

    public long AssociateAddress(string addressId, string instanceId) => Mutate(m =>
    {
        var eip = RequireAddress(m, addressId);
        if (eip.InstanceId is not null)
        {
            throw new ApiException(ErrorCodes.AddressIdStatusNotPermit, $"{addressId} is {eip.Status} (bound to {eip.InstanceId}); only an UNBIND EIP can be associated. Disassociate it first.");
        }
        if (!ResourceIds.IsWellFormed(instanceId, ResourceIds.InstancePrefix))
        {
            throw new ApiException(ErrorCodes.InstanceIdMalformedVpc, $"'{instanceId}' is not an instance id; ids look like ins-xxxxxxxx.");
        }
        var instance = m.FindInstance(instanceId) ?? throw new ApiException(ErrorCodes.InstanceIdNotFound, $"The instance {instanceId} does not exist.");
        if (m.AddressBoundTo(instance.Id) is { } other)
        {
            throw new ApiException(ErrorCodes.InstanceAlreadyBindEip, $"The instance {instanceId} already has the EIP {other.Id}; disassociate it before associating {addressId}.");
        }
        if (instance.OrdinaryPublicIp is uint publicIp)
        {
            // The seed: associating an EIP releases the instance's original public IP.
            m.ReturnPublicIp(publicIp);
            m.Put(instance with { OrdinaryPublicIp = null });
        }
        else if (instance.PublicIpOnStart)
        {
            m.Put(instance with { PublicIpOnStart = false }); // the EIP is its public address from now on, also after start.
        }
        m.Put(eip with { InstanceId = instance.Id });
        return m.AddTask("AssociateAddress");
    });

    public long DisassociateAddress(string addressId, bool? reallocateNormalPublicIp) => Mutate(m =>
    {
        var eip = RequireAddress(m, addressId);
        if (eip.InstanceId is null)
        {
            throw new ApiException(ErrorCodes.InvalidAddressState, $"{addressId} is UNBIND: there is nothing to disassociate.");
        }
        var instance = m.FindInstance(eip.InstanceId)!;
        m.Put(eip with { InstanceId = null });
        // The seed: on disassociation the instance is automatically given a new public IP (when it has bandwidth).
        // The API's ReallocateNormalPublicIp=false opts out; leaving it out follows the seed.
        if (reallocateNormalPublicIp != false && instance.BandwidthOut > 0)
        {
            // Stopped with STOP_CHARGING the instance holds no public IP: it gets its new one when it starts.
            m.Put(IsReleasedWhileStopped(instance) ? instance with { PublicIpOnStart = true } : instance with { OrdinaryPublicIp = m.TakePublicIp() });
        }
        return m.AddTask("DisassociateAddress");
    });

    /// <summary>Refuses an EIP id of the wrong shape or of nothing, with the codes of every EIP call; changes nothing.</summary>
    public void RequireAddressExists(string addressId)
    {
        lock (_lock)
        {
            RequireAddress(new Mutation(_state, _store.Numbering(_state)), addressId);
        }
    }

    /// <summary>ModifyAddressAttribute's AddressName.</summary>
    public void RenameAddress(string addressId, string name) => Mutate(m =>
    {
        var eip = RequireAddress(m, addressId);
        m.Put(eip with { Name = name });
        return 0;
    });

    public long ReleaseAddresses(IReadOnlyList<string> addressIds) => Mutate(m =>
    {
        if (addressIds.Count == 0)
        {
            throw new ApiException(ErrorCodes.MissingParameter, "AddressIds is empty; name the EIPs to release.");
        }
        if (addressIds.Count > ControlPlaneLimits.MaxIdsPerRequest)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValueRange, $"AddressIds holds {addressIds.Count} ids; at most {ControlPlaneLimits.MaxIdsPerRequest} per request.");
        }
        var eips = addressIds.Distinct(StringComparer.Ordinal).Select(id => RequireAddress(m, id)).ToList();
        foreach (var eip in eips)
        {
            if (eip.InstanceId is not null)
            {
                throw new ApiException(ErrorCodes.InvalidAddressState, $"{eip.Id} is BIND (bound to {eip.InstanceId}); disassociate it before releasing it.");
            }
        }
        foreach (var eip in eips)
        {
            m.DeleteAddress(eip.Id);
            m.ReturnPublicIp(eip.Ip);
        }
        return m.AddTask("ReleaseAddresses");
    });

    // ----- The control channel. -----

    private T Mutate<T>(Func<Mutation, T> rules)
    {
        using var timeout = new CancellationTokenSource(_limits.RequestTimeout);
        if (!_mutations.TryEnter(_limits.RequestTimeout))
        {
            throw Unavailable("other changes on this node took longer than the request timeout; nothing was changed. Retry.");
        }
        try
        {
            bool caughtUp = !_store.FeedsCommits;
            while (true)
            {
                T result;
                PreparedCommit? prepared = null;
                bool refusedBehind = false;
                lock (_lock)
                {
                    // Rules, change and compares on one state: the feed cannot apply anything in between.
                    var mutation = new Mutation(_state, _store.Numbering(_state));
                    try
                    {
                        result = rules(mutation); // throws ApiException: refused, nothing written
                    }
                    catch (ApiException) when (!caughtUp)
                    {
                        refusedBehind = true;
                        result = default!;
                    }
                    if (!refusedBehind)
                    {
                        var change = mutation.Finish();
                        if (change.IsEmpty)
                        {
                            return result;
                        }
                        prepared = _store.Prepare(change, mutation.Reads, _state);
                    }
                }
                if (refusedBehind)
                {
                    // A refusal commits nothing, so no compare can catch a state that is behind: another node may have
                    // created what this one has not seen yet. Refuse only on a state as new as the store's head.
                    caughtUp = true;
                    long head = _store.HeadRevision(timeout.Token);
                    WaitForState(s => s.Revision >= head, timeout.Token);
                    continue;
                }

                var outcome = _store.Commit(prepared!, timeout.Token); // 1. durable (throws: nothing changed, or the message says)
                if (outcome.IsCommitted)
                {
                    if (_store.FeedsCommits)
                    {
                        // 2. this node's table has it once the feed brought it back; 3. the caller answers.
                        long revision = outcome.Revision;
                        if (!WaitForState(s => s.Revision >= revision, timeout.Token))
                        {
                            throw Unavailable($"the change was committed (revision {revision}) but this node has not applied it within the request timeout (its store feed is behind or broken); it will apply it when the feed resumes. Describe the resources to see it.");
                        }
                    }
                    else
                    {
                        ApplyCommitted(prepared!.Change); // 2. the data plane, then events; 3. the caller answers.
                    }
                    return result;
                }
                // Another node changed a fact the rules read: decide again once this node has seen that change.
                WaitForState(outcome.CaughtUp!, timeout.Token);
                if (timeout.IsCancellationRequested)
                {
                    throw Unavailable("other nodes kept changing the same resources for longer than the request timeout; nothing was changed. Retry.");
                }
            }
        }
        finally
        {
            _mutations.Exit();
        }
    }

    private static ApiException Unavailable(string message) => new(ErrorCodes.ServiceUnavailable, message);

    /// <summary>Waits until <paramref name="condition"/> holds for the state (checked after every apply); false when cancelled first.</summary>
    private bool WaitForState(Func<ControlState, bool> condition, CancellationToken cancellationToken)
    {
        lock (_applied)
        {
            while (true)
            {
                lock (_lock)
                {
                    if (condition(_state))
                    {
                        return true;
                    }
                }
                if (cancellationToken.IsCancellationRequested)
                {
                    return false;
                }
                // Applies pulse under _applied; the short wait also bounds a missed pulse and notices cancellation.
                Monitor.Wait(_applied, 50);
            }
        }
    }

    private void PulseApplied()
    {
        lock (_applied)
        {
            Monitor.PulseAll(_applied);
        }
    }

    /// <summary>
    /// Applies a committed change to the state, then the binding table, then raises the events: from the committer
    /// (one-writer store) or from the store's feed (shared store), in commit order either way.
    /// </summary>
    public void ApplyCommitted(ChangeSet change)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_lock)
        {
            var affected = _state.AffectedInstanceIds(change);
            var before = BindingsOf(affected, out var privateIps);
            // The ids of the bindings that may end, read before the table changes: metering closes their accounts.
            var beforeIds = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (id, binding) in before)
            {
                if (binding is { } b && _table.TryGetPrivate(b.PublicIp, out _, out int bindingId))
                {
                    beforeIds[id] = bindingId;
                }
            }
            _state.Apply(change);
            var after = BindingsOf(affected, out _);
            var events = new List<ControlPlaneEvent>();
            foreach (var instance in change.PutInstances)
            {
                if (!privateIps.ContainsKey(instance.Id))
                {
                    events.Add(new ControlPlaneEvent(ControlPlaneEventKind.InstanceAdded, instance.PrivateIp, 0));
                }
            }
            foreach (string id in affected)
            {
                before.TryGetValue(id, out var old);
                after.TryGetValue(id, out var now);
                if (old == now)
                {
                    continue;
                }
                beforeIds.TryGetValue(id, out int oldBindingId);
                if (old is { } same && now is { } capped && same.PublicIp == capped.PublicIp && same.PrivateIp == capped.PrivateIp)
                {
                    // Only the caps changed (ResetInstancesInternetMaxBandwidth between non-zero values): same binding, new buckets.
                    _policer?.SetCaps(oldBindingId, capped.Caps);
                    events.Add(new ControlPlaneEvent(ControlPlaneEventKind.CapsChanged, capped.PrivateIp, capped.PublicIp) { BindingId = oldBindingId, InstanceId = id, Caps = capped.Caps });
                    continue;
                }
                if (now is { } bound)
                {
                    int bindingId = _table.Bind(bound.PublicIp, bound.PrivateIp); // new mapping in, then the old one out, inside Bind.
                    _policer?.SetCaps(bindingId, bound.Caps);
                    events.Add(new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressBound, bound.PrivateIp, bound.PublicIp) { BindingId = bindingId, InstanceId = id, Caps = bound.Caps });
                }
                else if (old is { } gone)
                {
                    _table.UnbindPrivate(gone.PrivateIp);
                }
                if (old is { } previous && now?.PublicIp != previous.PublicIp)
                {
                    events.Add(new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressUnbound, previous.PrivateIp, previous.PublicIp) { BindingId = oldBindingId, InstanceId = id, Caps = previous.Caps });
                }
            }
            foreach (string id in change.DeletedInstances)
            {
                if (privateIps.TryGetValue(id, out uint privateIp))
                {
                    events.Add(new ControlPlaneEvent(ControlPlaneEventKind.InstanceRemoved, privateIp, 0));
                }
            }
            Raise(events);
        }
        PulseApplied();
    }

    /// <summary>
    /// Swaps in a state read whole at a later revision (the feed could not resume from where it was). The new state
    /// is built aside; the table is then brought to it binding by binding, each change one atomic step as in any apply,
    /// so a reader sees every binding old or new and never a table half-filled.
    /// </summary>
    public void ReplaceState(ControlState fresh)
    {
        ArgumentNullException.ThrowIfNull(fresh);
        lock (_lock)
        {
            var events = new List<ControlPlaneEvent>();
            var oldPrivates = _state.Instances.Values.Select(i => i.PrivateIp).ToHashSet();
            var newPrivates = fresh.Instances.Values.Select(i => i.PrivateIp).ToHashSet();
            foreach (uint ip in newPrivates.Except(oldPrivates))
            {
                events.Add(new ControlPlaneEvent(ControlPlaneEventKind.InstanceAdded, ip, 0));
            }
            var now = fresh.Bindings().ToDictionary(b => b.PrivateIp, b => b.PublicIp);
            foreach (var binding in _table.Snapshot())
            {
                if (!now.TryGetValue(binding.PrivateAddress, out uint pub) || pub != binding.PublicAddress)
                {
                    _table.TryGetPrivate(binding.PublicAddress, out _, out int oldId);
                    _state.TryGetInstanceByPrivateIp(binding.PrivateAddress, out string? oldInstance);
                    if (!now.ContainsKey(binding.PrivateAddress))
                    {
                        _table.UnbindPrivate(binding.PrivateAddress);
                    }
                    events.Add(new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressUnbound, binding.PrivateAddress, binding.PublicAddress) { BindingId = oldId, InstanceId = oldInstance });
                }
            }
            foreach (var (priv, pub) in now)
            {
                if (!_table.TryGetPublic(priv, out uint current, out _) || current != pub)
                {
                    int id = _table.Bind(pub, priv);
                    fresh.TryGetInstanceByPrivateIp(priv, out string? instanceId);
                    var caps = instanceId is not null ? fresh.CapsOf(fresh.Instances[instanceId]) : BandwidthCaps.Unlimited;
                    _policer?.SetCaps(id, caps);
                    events.Add(new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressBound, priv, pub) { BindingId = id, InstanceId = instanceId, Caps = caps });
                }
                else if (_policer is not null && fresh.TryGetInstanceByPrivateIp(priv, out string? kept) && _table.TryGetPrivate(pub, out _, out int keptId))
                {
                    _policer.SetCaps(keptId, fresh.CapsOf(fresh.Instances[kept])); // the reload may have changed its caps
                }
            }
            foreach (uint ip in oldPrivates.Except(newPrivates))
            {
                events.Add(new ControlPlaneEvent(ControlPlaneEventKind.InstanceRemoved, ip, 0));
            }
            _state = fresh;
            Raise(events);
        }
        PulseApplied();
    }

    /// <summary>The feed is complete up to <paramref name="revision"/> with nothing to apply.</summary>
    public void AdvanceTo(long revision)
    {
        lock (_lock)
        {
            if (revision > _state.Revision)
            {
                _state.Revision = revision;
            }
        }
        PulseApplied();
    }

    private Dictionary<string, (uint PublicIp, uint PrivateIp, BandwidthCaps Caps)?> BindingsOf(HashSet<string> instanceIds, out Dictionary<string, uint> privateIps)
    {
        var result = new Dictionary<string, (uint, uint, BandwidthCaps)?>(StringComparer.Ordinal);
        privateIps = new Dictionary<string, uint>(StringComparer.Ordinal);
        foreach (string id in instanceIds)
        {
            if (_state.Instances.TryGetValue(id, out var instance))
            {
                privateIps[id] = instance.PrivateIp;
                result[id] = _state.BoundPublicIp(instance) is uint pub ? (pub, instance.PrivateIp, _state.CapsOf(instance)) : null;
            }
        }
        return result;
    }

    private void Raise(List<ControlPlaneEvent> events)
    {
        var handler = Changed;
        if (handler is null)
        {
            return;
        }
        foreach (var e in events)
        {
            foreach (var subscriber in handler.GetInvocationList().Cast<Action<ControlPlaneEvent>>())
            {
                try
                {
                    subscriber(e);
                }
#pragma warning disable CA1031 // The change is committed and applied; a failing observer must not turn it into an error answer.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Console.Error.WriteLine($"gateway: an observer of {e.Kind} failed: {ex.Message}");
                }
            }
        }
    }

    private DateTimeOffset Now()
    {
        var now = _clock.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero); // the API shows whole seconds.
    }

    /// <summary>The transitional state to show and until when, or none when transitions take no time.</summary>
    private (string? State, DateTimeOffset Until) Transition(string state) =>
        _limits.TransitionTime > TimeSpan.Zero ? (state, _clock.GetUtcNow() + _limits.TransitionTime) : (null, default);

    /// <summary>Stopped with STOP_CHARGING: its ordinary public IP went back to the pool and comes back (a new one) at start.</summary>
    private static bool IsReleasedWhileStopped(Instance instance) => instance.IsStopped && instance.StopMode == StopModes.StopCharging;

    /// <summary>Refuses with the cloud's code for the instance's state (UnsupportedOperation.InstanceStateStopped, …) unless it is one of <paramref name="allowed"/>.</summary>
    private static void RequireState(Instance instance, DateTimeOffset now, string action, params string[] allowed)
    {
        string state = instance.StateAt(now);
        if (!allowed.Contains(state))
        {
            string needed = allowed.Length == 1 ? allowed[0] : string.Join(" or ", allowed);
            string wait = state is InstanceStates.Pending or InstanceStates.Stopping or InstanceStates.Starting or InstanceStates.Rebooting
                ? $" until {instance.TransitionUntil.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture)}; poll DescribeInstancesStatus and try again when it reads {instance.Power}"
                : "";
            throw new ApiException(InstanceStates.UnsupportedCode(state), $"{action} needs {needed} instances; {instance.Id} is {state}{wait}.");
        }
    }

    private static void CheckStopType(string stopType)
    {
        if (stopType is not ("SOFT" or "HARD" or "SOFT_FIRST"))
        {
            throw new ApiException(ErrorCodes.InvalidParameterValue, $"StopType must be SOFT, HARD or SOFT_FIRST, not '{stopType}'.");
        }
    }

    /// <summary>The charge type must be one the cloud knows and the bandwidth within its range (<see cref="InternetCharge"/>).</summary>
    private static void CheckBandwidth(int bandwidth, string chargeType, string? instanceId = null)
    {
        if (!InternetCharge.IsKnown(chargeType))
        {
            throw new ApiException(ErrorCodes.InvalidParameterValue,
                $"InternetAccessible.InternetChargeType '{chargeType}' is not a charge type; give one of {string.Join(", ", InternetCharge.Known)}.");
        }
        int max = InternetCharge.MaxBandwidthOut(chargeType);
        if (bandwidth < 0 || bandwidth > max)
        {
            string who = instanceId is null ? "" : $" ({instanceId} is billed {chargeType})";
            throw new ApiException(ErrorCodes.InvalidParameterValueRange,
                $"InternetMaxBandwidthOut must be 0 to {max} Mbps for {chargeType}, not {bandwidth}{who}. A bandwidth package (BANDWIDTH_PACKAGE) goes up to 2000 Mbps.");
        }
    }

    private bool IsAssignableHost(uint ip)
    {
        var subnet = _state.Subnet;
        return subnet.Contains(ip) && ip != subnet.Network && ip != subnet.Network + 1 && ip != subnet.Broadcast;
    }

    private uint NextFreePrivateIp(Mutation m)
    {
        var subnet = _state.Subnet;
        // .0 is the network, .1 the VPC gateway, the last the broadcast (the cloud reserves them too).
        for (ulong ip = (ulong)subnet.Network + 2; ip < subnet.Broadcast; ip++)
        {
            if (!m.IsPrivateIpInUse((uint)ip))
            {
                return (uint)ip;
            }
        }
        throw new ApiException(ErrorCodes.NoAvailableIpInSubnet, $"The subnet {subnet} has no free private address left; terminate instances or start the gateway with a larger --subnet.");
    }

    private static List<Instance> RequireInstances(Mutation m, IReadOnlyList<string> instanceIds)
    {
        if (instanceIds.Count == 0)
        {
            throw new ApiException(ErrorCodes.MissingParameter, "InstanceIds is empty; name at least one instance.");
        }
        if (instanceIds.Count > ControlPlaneLimits.MaxIdsPerRequest)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValueRange, $"InstanceIds holds {instanceIds.Count} ids; at most {ControlPlaneLimits.MaxIdsPerRequest} per request.");
        }
        var result = new List<Instance>();
        foreach (string id in instanceIds.Distinct(StringComparer.Ordinal))
        {
            if (!ResourceIds.IsWellFormed(id, ResourceIds.InstancePrefix))
            {
                throw new ApiException(ErrorCodes.InstanceIdMalformed, $"'{id}' is not an instance id; ids look like ins-xxxxxxxx.");
            }
            result.Add(m.FindInstance(id) ?? throw new ApiException(ErrorCodes.InstanceIdNotFound, $"The instance {id} does not exist."));
        }
        return result;
    }

    private static ElasticAddress RequireAddress(Mutation m, string addressId)
    {
        if (!ResourceIds.IsWellFormed(addressId, ResourceIds.AddressPrefix))
        {
            throw new ApiException(ErrorCodes.AddressIdMalformed, $"'{addressId}' is not an EIP id; ids look like eip-xxxxxxxx.");
        }
        return m.FindAddress(addressId) ?? throw new ApiException(ErrorCodes.AddressIdNotFound, $"The EIP {addressId} does not exist.");
    }
}
