namespace Gateway.Control.Store.Etcd;

/// <summary>
/// How to reach an etcd v3 cluster: the endpoints, the key prefix that holds the gateway's state, TLS and user
/// authentication as etcd's own clients name them (etcdctl's <c>--cacert/--cert/--key/--user</c>).
/// </summary>
public sealed record EtcdOptions
{
    public const string DefaultPrefix = "/gateway/";

    /// <summary>Client URLs (<c>http://127.0.0.1:2379</c>, <c>https://…</c>); a bare <c>host:port</c> takes http, or https when TLS is configured.</summary>
    public required IReadOnlyList<string> Endpoints { get; init; }

    /// <summary>Every key the gateway writes starts with this (default <c>/gateway/</c>); one cluster per prefix.</summary>
    public string Prefix { get; init; } = DefaultPrefix;

    /// <summary>PEM file of the CA that signed the etcd servers' certificates (<c>--etcd-cacert</c>); null: the system's trust store.</summary>
    public string? CaFile { get; init; }

    /// <summary>PEM client certificate for mutual TLS (<c>--etcd-cert</c>), with <see cref="KeyFile"/>.</summary>
    public string? CertFile { get; init; }

    /// <summary>PEM private key of <see cref="CertFile"/> (<c>--etcd-key</c>).</summary>
    public string? KeyFile { get; init; }

    /// <summary>etcd user (<c>--etcd-user</c>); with <see cref="Password"/>, every call carries its token.</summary>
    public string? User { get; init; }

    public string? Password { get; init; }

    /// <summary>Longest a single etcd call may take before it counts as failed.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>This node's name in the cluster (unique among the nodes sharing <see cref="Prefix"/>).</summary>
    public string NodeName { get; init; } = Environment.MachineName;

    /// <summary>True when any TLS file is given (the endpoints are then https).</summary>
    public bool UsesTls => CaFile is not null || CertFile is not null || KeyFile is not null
        || Endpoints.Any(e => e.StartsWith("https://", StringComparison.OrdinalIgnoreCase));

    /// <summary>For messages: the endpoints and the prefix.</summary>
    public string Describe() => $"etcd {string.Join(",", Endpoints)} prefix {Prefix}";
}
