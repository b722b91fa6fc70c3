using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;

namespace Gateway.Control.Store.Etcd;

/// <summary>
/// One gRPC channel to an etcd cluster (the <c>dotnet-etcd</c> client: round-robin over the endpoints, auth tokens)
/// and the raw KV, Watch and Lease stubs the store and the cluster code call with their own deadlines.
/// </summary>
/// <remarks>
/// <para>Every call carries etcd's <c>hasleader</c> metadata (clientv3's <c>WithRequireLeader</c>): a member cut off
/// from the leader answers at once with "no leader" instead of holding the call until its deadline, so a change
/// refused for lack of quorum is known not to have been proposed, and a watch on such a member is cancelled and
/// moves to another member (etcd server/etcdserver/api/v3rpc/interceptor.go).</para>
/// <para>The client's own retry policy is turned off: a transaction retried blindly after its answer was lost could
/// be applied twice in effect (its compares fail, the rules run again). The store retries itself, recognising its
/// own earlier commit by a marker (see <see cref="EtcdStore"/>).</para>
/// </remarks>
internal sealed class EtcdConnection : IDisposable
{
    private static readonly Metadata s_requireLeader = new() { { "hasleader", "true" } };
    private readonly EtcdClient _client;

    public EtcdConnection(EtcdOptions options)
    {
        Options = options;
        string endpoints = string.Join(",", options.Endpoints);
        void Channel(Grpc.Net.Client.GrpcChannelOptions channel)
        {
            // Round robin over the members, no automatic retries (see remarks).
            channel.ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } };
        }
        _client = options.UsesTls
            ? new EtcdClient(endpoints, ssl => ConfigureTls(ssl, options), configureChannelOptions: Channel)
            : new EtcdClient(endpoints, configureChannelOptions: Channel);
        if (options.User is not null)
        {
            _client.SetCredentials(options.User, options.Password ?? "");
        }
        var connection = _client.GetConnection();
        Kv = connection.KVClient;
        Watch = connection.WatchClient;
        Lease = connection.LeaseClient;
        Maintenance = connection.MaintenanceClient;
        Cluster = connection.ClusterClient;
    }

    public EtcdOptions Options { get; }

    public KV.KVClient Kv { get; }

    public Watch.WatchClient Watch { get; }

    public Lease.LeaseClient Lease { get; }

    public Maintenance.MaintenanceClient Maintenance { get; }

    public Etcdserverpb.Cluster.ClusterClient Cluster { get; }

    /// <summary>Metadata for every call: refuse at once on a member without a leader.</summary>
    public static Metadata Headers => s_requireLeader;

    /// <summary>The deadline of a call starting now.</summary>
    public DateTime Deadline() => DateTime.UtcNow + Options.CallTimeout;

    public ByteString Key(string relative) => ByteString.CopyFromUtf8(Options.Prefix + relative);

    public string Relative(ByteString key)
    {
        string text = key.ToStringUtf8();
        return text.StartsWith(Options.Prefix, StringComparison.Ordinal) ? text[Options.Prefix.Length..] : text;
    }

    /// <summary>The end of the range of every key starting with <paramref name="relativePrefix"/> (etcd's prefix range: the last byte plus one).</summary>
    public ByteString RangeEnd(string relativePrefix)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(Options.Prefix + relativePrefix);
        for (int i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xff)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }
        return ByteString.CopyFrom(0); // every key
    }

    public async Task<RangeResponse> RangeAsync(string relativePrefix, long revision, CancellationToken cancellationToken, bool prefix = true)
    {
        var request = new RangeRequest { Key = Key(relativePrefix), Revision = revision };
        if (prefix)
        {
            request.RangeEnd = RangeEnd(relativePrefix);
        }
        return await Kv.RangeAsync(request, Headers, Deadline(), cancellationToken).ConfigureAwait(false);
    }

    public async Task<string?> GetAsync(string relative, CancellationToken cancellationToken)
    {
        var response = await RangeAsync(relative, 0, cancellationToken, prefix: false).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? null : response.Kvs[0].Value.ToStringUtf8();
    }

    public async Task<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken) =>
        await Kv.TxnAsync(request, Headers, Deadline(), cancellationToken).ConfigureAwait(false);

    /// <summary>A message for an etcd call that failed: what etcd said and what usually fixes it.</summary>
    public string Explain(RpcException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        string detail = string.IsNullOrEmpty(e.Status.Detail) ? e.StatusCode.ToString() : e.Status.Detail;
        string hint = e.StatusCode switch
        {
            StatusCode.Unavailable when detail.Contains("no leader", StringComparison.OrdinalIgnoreCase) =>
                "the etcd cluster has no leader (quorum lost: fewer than a majority of its members are up)",
            _ when detail.Contains("remote certificate", StringComparison.OrdinalIgnoreCase) =>
                $"etcd's TLS certificate is not trusted: it is not signed by the CA in --etcd-cacert{(Options.CaFile is null ? " (none given: the system's trust store)" : $" ({Options.CaFile})")}, or it does not name the address in --etcd",
            _ when detail.Contains("SSL", StringComparison.Ordinal) || detail.Contains("AuthenticationException", StringComparison.Ordinal)
                || detail.Contains("certificate required", StringComparison.OrdinalIgnoreCase) =>
                Options.CertFile is null
                    ? "the TLS handshake with etcd failed: etcd probably wants a client certificate (give --etcd-cert and --etcd-key), or it does not speak TLS on that port"
                    : "the TLS handshake with etcd failed: check that the client certificate in --etcd-cert is signed by a CA etcd trusts (its --trusted-ca-file) and that --etcd-key is its key",
            _ when Options.UsesTls && Options.CertFile is null
                && (detail.Contains("SslStream", StringComparison.Ordinal) || detail.Contains("HTTP/2 handshake", StringComparison.Ordinal)) =>
                "etcd closed the TLS connection during the handshake: it probably wants a client certificate (give --etcd-cert and --etcd-key)",
            _ when detail.Contains("authentication failed", StringComparison.OrdinalIgnoreCase) =>
                "etcd rejected the user name or password (--etcd-user, --etcd-password or GATEWAY_ETCD_PASSWORD)",
            _ when detail.Contains("user name is empty", StringComparison.OrdinalIgnoreCase) || detail.Contains("invalid auth token", StringComparison.OrdinalIgnoreCase) =>
                "etcd has authentication enabled: give --etcd-user and --etcd-password",
            StatusCode.PermissionDenied =>
                $"etcd's user {(Options.User is null ? "(none given)" : Options.User)} lacks permission on the gateway's keys: grant its role readwrite on the prefix {Options.Prefix} (etcdctl role grant-permission ROLE --prefix=true readwrite {Options.Prefix})",
            StatusCode.Unavailable => $"no etcd member of {string.Join(",", Options.Endpoints)} could be reached",
            StatusCode.DeadlineExceeded => $"etcd did not answer within {Options.CallTimeout.TotalSeconds:0.#} s",
            StatusCode.Unauthenticated or StatusCode.PermissionDenied => "etcd refused the credentials (--etcd-user/--etcd-password, or the client certificate)",
            StatusCode.InvalidArgument when detail.Contains("too many operations", StringComparison.OrdinalIgnoreCase) =>
                "the change needs more operations in one transaction than etcd allows: start etcd with a larger --max-txn-ops (the gateway's own clusters use 10000)",
            _ => "etcd refused the call",
        };
        return $"{hint} ({detail})";
    }

    private static void ConfigureTls(SslClientAuthenticationOptions ssl, EtcdOptions options)
    {
        if (options.CertFile is not null)
        {
            var certificate = X509Certificate2.CreateFromPemFile(options.CertFile, options.KeyFile);
            // SslStream wants a certificate whose key it can use on every platform: round-trip through PKCS#12.
            ssl.ClientCertificates = [X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null)];
            certificate.Dispose();
        }
        if (options.CaFile is not null)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(options.CaFile);
            ssl.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            ssl.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
        }
    }

    public void Dispose() => _client.Dispose();
}
