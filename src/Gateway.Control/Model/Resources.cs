namespace Gateway.Control.Model;

/// <summary>
/// A CVM instance as the control plane keeps it. It holds a private address only; its public address
/// (an ordinary one from the pool, or an EIP bound to it) lives on the gateway, never on the instance.
/// </summary>
/// <param name="Seq">Creation order, for stable listings.</param>
/// <param name="OrdinaryPublicIp">The pool address assigned to the instance itself (null: none). An EIP bound
/// to the instance replaces it; see <see cref="ControlState.EffectivePublicIp"/>.</param>
/// <param name="PublicIpAssigned">What RunInstances asked for: false keeps the instance without an ordinary public IP
/// even with bandwidth.</param>
internal sealed record Instance(
    string Id,
    long Seq,
    string Name,
    uint PrivateIp,
    uint? OrdinaryPublicIp,
    int BandwidthOut,
    string InternetChargeType,
    bool PublicIpAssigned,
    string Zone,
    string InstanceType,
    string ImageId,
    DateTimeOffset CreatedTime)
{
    /// <summary>
    /// Where the instance's power is going: <see cref="InstanceStates.Running"/> or <see cref="InstanceStates.Stopped"/>.
    /// Every effect of a power change (the binding, the ordinary public IP) is committed with this target at once;
    /// <see cref="Transition"/> only says how the state reads until <see cref="TransitionUntil"/>.
    /// </summary>
    public string Power { get; init; } = InstanceStates.Running;

    /// <summary>The state shown until <see cref="TransitionUntil"/>: PENDING, STOPPING, STARTING or REBOOTING; null when settled.</summary>
    public string? Transition { get; init; }

    /// <summary>When <see cref="Transition"/> ends (the instance then reads as <see cref="Power"/>).</summary>
    public DateTimeOffset TransitionUntil { get; init; }

    /// <summary>How a stopped instance is billed: KEEP_CHARGING or STOP_CHARGING; empty while it runs.</summary>
    public string StopMode { get; init; } = "";

    /// <summary>
    /// A STOP_CHARGING stop released the ordinary public IP (or a change while stopped asked for one): start assigns a
    /// new one from the pool.
    /// </summary>
    public bool PublicIpOnStart { get; init; }

    /// <summary>The last power operation (RunInstances, StopInstances, StartInstances, RebootInstances) and its request.</summary>
    public string LatestOperation { get; init; } = "RunInstances";

    public string? LatestOperationRequestId { get; init; }

    /// <summary>The state as DescribeInstances shows it at <paramref name="now"/>.</summary>
    public string StateAt(DateTimeOffset now) => Transition is not null && now < TransitionUntil ? Transition : Power;

    /// <summary>SUCCESS once the latest operation's transition is over, OPERATING until then.</summary>
    public string LatestOperationStateAt(DateTimeOffset now) => Transition is not null && now < TransitionUntil ? "OPERATING" : "SUCCESS";

    /// <summary>Powered off: its public address translates to nothing while it is so.</summary>
    public bool IsStopped => Power == InstanceStates.Stopped;
}

/// <summary>An elastic IP: a pool address held by the account until it releases it.</summary>
/// <param name="InstanceId">The instance it is bound to; null when <c>UNBIND</c>.</param>
internal sealed record ElasticAddress(
    string Id,
    long Seq,
    string Name,
    uint Ip,
    string? InstanceId,
    int Bandwidth,
    string InternetChargeType,
    DateTimeOffset CreatedTime)
{
    public string Status => InstanceId is null ? AddressStatus.Unbind : AddressStatus.Bind;
}

/// <summary>The status values of <c>Address.AddressStatus</c> this emulator produces (binding is synchronous here).</summary>
internal static class AddressStatus
{
    public const string Bind = "BIND";
    public const string Unbind = "UNBIND";
}

/// <summary>
/// <c>Instance.InstanceState</c> values this emulator produces (cvm's InstanceStatus table): PENDING → RUNNING after
/// RunInstances, STOPPING → STOPPED, STARTING → RUNNING, REBOOTING → RUNNING. Terminated instances disappear at once.
/// </summary>
internal static class InstanceStates
{
    public const string Pending = "PENDING";
    public const string Running = "RUNNING";
    public const string Stopping = "STOPPING";
    public const string Stopped = "STOPPED";
    public const string Starting = "STARTING";
    public const string Rebooting = "REBOOTING";

    public static readonly IReadOnlyList<string> All = [Pending, Running, Stopping, Stopped, Starting, Rebooting];

    /// <summary>The cvm error code for "the request does not support an instance in this state": UnsupportedOperation.InstanceStateStopped, …</summary>
    public static string UnsupportedCode(string state) => "UnsupportedOperation.InstanceState" + state[0] + state[1..].ToLowerInvariant();
}

/// <summary>StopInstances' StoppedMode and DescribeInstances' StopChargingMode values.</summary>
internal static class StopModes
{
    public const string KeepCharging = "KEEP_CHARGING";
    public const string StopCharging = "STOP_CHARGING";
    /// <summary>DescribeInstances for an instance that is not stopped.</summary>
    public const string NotApplicable = "NOT_APPLICABLE";
}
