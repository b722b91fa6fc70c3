using System.Net.Sockets;
using Etcdserverpb;
using Gateway.Control.Store.Etcd;
using Grpc.Core;

namespace Gateway.Control.Cluster;

/// <summary>
/// Proof that etcd cannot commit anything right now: more than half of its members are either down (their port
/// refuses connections) or up and without a leader (their own Status says so). Asked of every member directly,
/// because "my calls fail" does not tell "etcd has no quorum" from "I am cut off from a quorum that others reach".
/// </summary>
/// <remarks>
/// Why it lets a lone active node keep forwarding for one lease TTL after the proof was asked for: with no standby
/// that has heard it, the role can only change hands once its lease expires and the key vanishes. A lease cannot
/// expire without a leader, and a new leader extends every lease by its TTL when it takes office (etcd's lessor
/// Promote; lease checkpointing, off by default, is not used by the lab's clusters). So nothing can expire before the
/// proof's send time plus the TTL, and a standby waits a further silence after it sees the key gone.
/// </remarks>
internal sealed class QuorumProbe : IDisposable
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromMilliseconds(300);
    private readonly EtcdConnection _etcd;
    private List<EtcdConnection>? _members;

    public QuorumProbe(EtcdConnection etcd) => _etcd = etcd;

    /// <summary>Learns the members (while etcd answers); until then nothing can be proven.</summary>
    public async Task LearnMembersAsync(CancellationToken cancellationToken)
    {
        var list = await _etcd.Cluster.MemberListAsync(new MemberListRequest(), EtcdConnection.Headers, _etcd.Deadline(), cancellationToken).ConfigureAwait(false);
        var members = new List<EtcdConnection>();
        foreach (var member in list.Members)
        {
            if (member.ClientURLs.Count == 0)
            {
                return; // a member not started yet: no proof can count it, so prove nothing
            }
            members.Add(new EtcdConnection(_etcd.Options with { Endpoints = [member.ClientURLs[0]] }));
        }
        var old = Interlocked.Exchange(ref _members, members);
        old?.ForEach(m => m.Dispose());
    }

    /// <summary>True when more than half of the members are down or leaderless now.</summary>
    public async Task<bool> NoQuorumAsync(CancellationToken cancellationToken)
    {
        var members = Volatile.Read(ref _members);
        if (members is null || members.Count == 0)
        {
            return false;
        }
        var answers = await Task.WhenAll(members.Select(m => CannotCommitAsync(m, cancellationToken))).ConfigureAwait(false);
        return answers.Count(a => a) * 2 > members.Count;
    }

    private static async Task<bool> CannotCommitAsync(EtcdConnection member, CancellationToken cancellationToken)
    {
        try
        {
            var status = await member.Maintenance.StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow + AskTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
            return status.Leader == 0;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && Refused(e))
        {
            return true; // nothing listens on its port: the member is down
        }
        catch (RpcException)
        {
            return false; // slow or unreachable: it may be up with a leader
        }
    }

    private static bool Refused(RpcException e)
    {
        for (Exception? inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
            {
                return true;
            }
        }
        return false;
    }

    public void Dispose() => Interlocked.Exchange(ref _members, null)?.ForEach(m => m.Dispose());
}
