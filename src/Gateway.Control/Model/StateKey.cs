namespace Gateway.Control.Model;

/// <summary>What kind of fact a <see cref="StateKey"/> names.</summary>
internal enum StateKeyKind
{
    /// <summary>An instance record, by id.</summary>
    Instance,
    /// <summary>An EIP record, by id.</summary>
    Address,
    /// <summary>Whether a pool address is held (by an instance or an EIP), by address.</summary>
    PoolAddress,
    /// <summary>Which instance uses a private address, by address.</summary>
    PrivateAddress,
    /// <summary>Which EIP is bound to an instance, by instance id.</summary>
    EipOfInstance,
    /// <summary>How many EIPs the account holds (the quota's count).</summary>
    EipCount,
    /// <summary>A RunInstances ClientToken, by token.</summary>
    ClientToken,
    /// <summary>A task record, by id.</summary>
    Task,
}

/// <summary>
/// One fact of the control state that a request's rules read. A store that lets several nodes commit changes
/// (etcd) compares the version of every fact a change read, so that a change decided on facts another node has
/// changed since is refused and decided again; a single-writer store (SQLite) ignores them.
/// </summary>
/// <remarks>Addresses are written as <see cref="Gateway.Packets.Ipv4Address.Format"/> text, so keys read well in etcdctl.</remarks>
internal readonly record struct StateKey(StateKeyKind Kind, string Name)
{
    public static StateKey Instance(string id) => new(StateKeyKind.Instance, id);

    public static StateKey Address(string id) => new(StateKeyKind.Address, id);

    public static StateKey PoolAddress(uint ip) => new(StateKeyKind.PoolAddress, Gateway.Packets.Ipv4Address.Format(ip));

    public static StateKey PrivateAddress(uint ip) => new(StateKeyKind.PrivateAddress, Gateway.Packets.Ipv4Address.Format(ip));

    public static StateKey EipOfInstance(string instanceId) => new(StateKeyKind.EipOfInstance, instanceId);

    public static StateKey EipCount { get; } = new(StateKeyKind.EipCount, "");

    public static StateKey ClientToken(string token) => new(StateKeyKind.ClientToken, token);

    public static StateKey Task(long id) => new(StateKeyKind.Task, id.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
