using Gateway.Control.Model;
using Gateway.Control.Rules;
using Gateway.Packets;

namespace Gateway.Control.Store;

/// <summary>
/// The durable copy of the control state, behind which the rules do not change: SQLite for one node
/// (<see cref="SqliteStore"/>), etcd for a cluster (an etcd store).
/// </summary>
/// <remarks>
/// <para>The control plane's order holds for every store: the rules decide on the state in memory, the store commits
/// the <see cref="ChangeSet"/> (durably, whole or not at all), the change is applied to the state and the binding
/// table, and only then is the caller answered.</para>
/// <para>Two shapes of "applied". A store with one writer (<see cref="FeedsCommits"/> false) returns from
/// <see cref="Commit"/> and the control plane applies the change itself. A store several nodes write
/// (<see cref="FeedsCommits"/> true) delivers every committed change, its own and other nodes', through its change
/// feed (<see cref="IChangeFeed"/>) in commit order; the control plane then waits until its state reached the
/// commit's revision. A store shared by several writers must refuse a change decided on facts
/// (<see cref="Mutation.Reads"/>) that changed since; the control plane decides it again.</para>
/// </remarks>
internal interface IControlStore : IDisposable
{
    /// <summary>Where the state lives, for messages: a database file, or etcd endpoints and a key prefix.</summary>
    string Location { get; }

    /// <summary>True when committed changes reach this node's state through <see cref="IChangeFeed"/>, not through the committer.</summary>
    bool FeedsCommits { get; }

    /// <summary>The value stored under <paramref name="key"/>, creating it with <paramref name="create"/> when absent (the first writer wins).</summary>
    string GetOrCreateMeta(string key, Func<string> create);

    /// <summary>Reads everything into a fresh state for the given pool and subnet (see <see cref="SqliteStore.Load"/>).</summary>
    ControlState Load(IReadOnlyCollection<uint> poolMembers, Ipv4Cidr subnet, string vpcId, string subnetId);

    /// <summary>Where the next change's sequence numbers start and which task id it may use, on <paramref name="state"/>.</summary>
    MutationNumbering Numbering(ControlState state);

    /// <summary>
    /// Captures what committing <paramref name="change"/> writes and compares. Called under the control plane's lock,
    /// on the same <paramref name="state"/> the rules decided on (and read <paramref name="reads"/> from).
    /// </summary>
    PreparedCommit Prepare(ChangeSet change, IReadOnlySet<StateKey> reads, ControlState state);

    /// <summary>Commits a prepared change; when it returns <see cref="CommitOutcome.Committed"/>, the change is durable.</summary>
    /// <exception cref="Rules.ApiException">The store is unavailable (the change was not made, or its fate is stated).</exception>
    CommitOutcome Commit(PreparedCommit prepared, CancellationToken cancellationToken);

    /// <summary>
    /// The revision of the latest committed change, read from the store now (a shared store; 0 for one writer, whose
    /// state in memory is always the latest). A refusal is decided on a state at least this new.
    /// </summary>
    long HeadRevision(CancellationToken cancellationToken);

    /// <summary>The bindings the stored state implies, read from the store itself (not from memory).</summary>
    IReadOnlyList<(uint PublicIp, uint PrivateIp)> ReadBindings();
}

/// <summary>A change ready to commit, with whatever the store captured under the control plane's lock.</summary>
internal class PreparedCommit(ChangeSet change)
{
    public ChangeSet Change { get; } = change;
}

/// <summary>How a commit ended: committed at a revision, or refused because facts it read changed meanwhile.</summary>
internal readonly record struct CommitOutcome
{
    private CommitOutcome(bool committed, long revision, Func<ControlState, bool>? caughtUp)
    {
        IsCommitted = committed;
        Revision = revision;
        CaughtUp = caughtUp;
    }

    public bool IsCommitted { get; }

    /// <summary>The commit's revision (a store without revisions: 0).</summary>
    public long Revision { get; }

    /// <summary>For a conflict: true once a state has seen the changes that made the commit fail (decide again then).</summary>
    public Func<ControlState, bool>? CaughtUp { get; }

    public static CommitOutcome Committed(long revision) => new(true, revision, null);

    public static CommitOutcome Conflict(Func<ControlState, bool> caughtUp) => new(false, 0, caughtUp);
}

/// <summary>Where a store that <see cref="IControlStore.FeedsCommits"/> delivers committed changes, in commit order.</summary>
internal interface IChangeSink
{
    /// <summary>One committed change (its <see cref="ChangeSet.Revision"/> set), to apply to the state and the table.</summary>
    void ApplyCommitted(ChangeSet change);

    /// <summary>The whole state, read again at a revision (the feed could not resume), to swap in at once.</summary>
    void ReplaceState(ControlState fresh);

    /// <summary>The feed is known complete up to <paramref name="revision"/> although nothing under the state changed.</summary>
    void AdvanceTo(long revision);
}

/// <summary>A store's change feed: started once the state is loaded and the sink exists.</summary>
internal interface IChangeFeed
{
    void Start(IChangeSink sink, ControlState loaded);
}
