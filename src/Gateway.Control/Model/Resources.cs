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
    DateTimeOffset CreatedTime);

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

/// <summary><c>Instance.InstanceState</c>: instances run once created and disappear once terminated.</summary>
internal static class InstanceStates
{
    public const string Running = "RUNNING";
}
