using System.Globalization;
using Gateway.Control.Model;
using Gateway.Control.Rules;
using Microsoft.Data.Sqlite;
using Gateway.Packets;

namespace Gateway.Control.Store;

/// <summary>
/// The durable copy of the control plane: one SQLite database in the state directory.
/// </summary>
/// <remarks>
/// <para>WAL journal with <c>synchronous=FULL</c>: a commit returns only after the WAL is on disk, so a change the
/// API acknowledged survives <c>kill -9</c> and power loss (sqlite.org/pragma.html#pragma_synchronous). Every accepted
/// request is one transaction (<see cref="Commit"/>); a failed commit rolls back whole.</para>
/// <para>The UNIQUE constraints (a private IP, a public IP, an instance holding at most one EIP) are a second line
/// of defence behind the rules: a bug that tried to hand an address out twice fails the commit instead of
/// corrupting the state.</para>
/// </remarks>
internal sealed class SqliteStore : IControlStore
{
    public const string FileName = "gateway.db";
    private const int SchemaVersion = 2;

    /// <summary>
    /// Schema 2's power-state columns of <c>instances</c> (see <see cref="Instance.Power"/>): the target power, the
    /// transitional state shown until <c>transition_until</c> (Unix milliseconds), the stop mode, whether start assigns a
    /// public IP, and the latest operation with its request id.
    /// </summary>
    private static readonly string[] s_powerColumns =
    [
        "power TEXT NOT NULL DEFAULT 'RUNNING'",
        "transition TEXT",
        "transition_until INTEGER NOT NULL DEFAULT 0",
        "stop_mode TEXT NOT NULL DEFAULT ''",
        "public_ip_on_start INTEGER NOT NULL DEFAULT 0",
        "latest_operation TEXT NOT NULL DEFAULT 'RunInstances'",
        "latest_request TEXT",
    ];

    private readonly SqliteConnection _connection;

    private SqliteStore(SqliteConnection connection, string path)
    {
        _connection = connection;
        Path = path;
    }

    public string Path { get; }

    public string Location => Path;

    /// <summary>One writer: the committer applies its own change.</summary>
    public bool FeedsCommits => false;

    public string GetOrCreateMeta(string key, Func<string> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        if (GetMeta(key) is { } existing)
        {
            return existing;
        }
        string value = create();
        SetMeta(key, value);
        return value;
    }

    /// <summary>One writer counts: sequence numbers and task ids continue from the state's counters.</summary>
    public MutationNumbering Numbering(ControlState state) => new(state.NextSeq, state.NextTaskId);

    public long HeadRevision(CancellationToken cancellationToken) => 0;

    public PreparedCommit Prepare(ChangeSet change, IReadOnlySet<StateKey> reads, ControlState state) => new(change);

    /// <summary>Nothing else writes the database, so nothing the rules read can have changed: no compares.</summary>
    public CommitOutcome Commit(PreparedCommit prepared, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        Commit(prepared.Change);
        return CommitOutcome.Committed(0);
    }

    public static SqliteStore Open(string directory)
    {
        Directory.CreateDirectory(directory);
        string path = System.IO.Path.Combine(directory, FileName);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode=WAL;");
            Execute(connection, "PRAGMA synchronous=FULL;");
            Execute(connection, "PRAGMA foreign_keys=ON;");
            CreateSchema(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        return new SqliteStore(connection, path);
    }

    private static void CreateSchema(SqliteConnection connection)
    {
        using var tx = connection.BeginTransaction();
        Execute(connection, """
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS instances(
                id TEXT PRIMARY KEY, seq INTEGER NOT NULL, name TEXT NOT NULL,
                private_ip INTEGER NOT NULL UNIQUE, public_ip INTEGER UNIQUE,
                bandwidth INTEGER NOT NULL, charge_type TEXT NOT NULL, public_ip_assigned INTEGER NOT NULL,
                zone TEXT NOT NULL, instance_type TEXT NOT NULL, image_id TEXT NOT NULL, created TEXT NOT NULL
                {{PowerColumns}});
            CREATE TABLE IF NOT EXISTS addresses(
                id TEXT PRIMARY KEY, seq INTEGER NOT NULL, name TEXT NOT NULL, ip INTEGER NOT NULL UNIQUE,
                instance_id TEXT UNIQUE REFERENCES instances(id) DEFERRABLE INITIALLY DEFERRED,
                bandwidth INTEGER NOT NULL, charge_type TEXT NOT NULL, created TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS pool_free(ip INTEGER PRIMARY KEY, freed_seq INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS tasks(id INTEGER PRIMARY KEY, action TEXT NOT NULL, created TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS client_tokens(token TEXT PRIMARY KEY, instance_ids TEXT NOT NULL, created TEXT NOT NULL);
            """.Replace("{{PowerColumns}}", ", " + string.Join(", ", s_powerColumns), StringComparison.Ordinal), tx);
        string? version = GetMeta(connection, "schema", tx);
        if (version is null)
        {
            SetMeta(connection, "schema", SchemaVersion.ToString(CultureInfo.InvariantCulture), tx);
        }
        else if (version == "1")
        {
            // Version 1 had no power states: every instance ran. The columns' defaults say exactly that.
            foreach (string column in s_powerColumns)
            {
                Execute(connection, $"ALTER TABLE instances ADD COLUMN {column};", tx);
            }
            SetMeta(connection, "schema", SchemaVersion.ToString(CultureInfo.InvariantCulture), tx);
        }
        else if (version != SchemaVersion.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException($"the state database has schema version {version}; this gateway reads version {SchemaVersion}. Use a gateway of the matching version or a fresh --state directory.");
        }
        tx.Commit();
    }

    public string? GetMeta(string key) => GetMeta(_connection, key, null);

    public void SetMeta(string key, string value)
    {
        using var tx = _connection.BeginTransaction();
        SetMeta(_connection, key, value, tx);
        tx.Commit();
    }

    /// <summary>Reads everything into a fresh <see cref="ControlState"/> for the given pool and subnet.</summary>
    /// <remarks>
    /// The pool is reconciled with <paramref name="poolMembers"/> (the addresses --public-pool names now): a new
    /// member that nothing holds becomes free; a free address no longer named leaves the pool. Addresses still held
    /// by an instance or an EIP stay theirs whatever the pool says, so a restart never takes an address away.
    /// The reconciliation is committed before the state is returned.
    /// </remarks>
    public ControlState Load(IReadOnlyCollection<uint> poolMembers, Ipv4Cidr subnet, string vpcId, string subnetId)
    {
        var state = new ControlState(new PublicPool(poolMembers), subnet, vpcId, subnetId);
        var held = new HashSet<uint>();
        using (var cmd = Command("""
            SELECT id, seq, name, private_ip, public_ip, bandwidth, charge_type, public_ip_assigned, zone, instance_type, image_id, created,
                power, transition, transition_until, stop_mode, public_ip_on_start, latest_operation, latest_request
            FROM instances ORDER BY seq
            """))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                var instance = new Instance(
                    r.GetString(0), r.GetInt64(1), r.GetString(2), (uint)r.GetInt64(3),
                    r.IsDBNull(4) ? null : (uint)r.GetInt64(4),
                    r.GetInt32(5), r.GetString(6), r.GetInt64(7) != 0, r.GetString(8), r.GetString(9), r.GetString(10),
                    ParseTime(r.GetString(11)))
                {
                    Power = r.GetString(12),
                    Transition = r.IsDBNull(13) ? null : r.GetString(13),
                    TransitionUntil = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(14)),
                    StopMode = r.GetString(15),
                    PublicIpOnStart = r.GetInt64(16) != 0,
                    LatestOperation = r.GetString(17),
                    LatestOperationRequestId = r.IsDBNull(18) ? null : r.GetString(18),
                };
                state.Load(instance);
                if (instance.OrdinaryPublicIp is uint ip)
                {
                    held.Add(ip);
                }
            }
        }
        using (var cmd = Command("SELECT id, seq, name, ip, instance_id, bandwidth, charge_type, created FROM addresses ORDER BY seq"))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                var address = new ElasticAddress(
                    r.GetString(0), r.GetInt64(1), r.GetString(2), (uint)r.GetInt64(3),
                    r.IsDBNull(4) ? null : r.GetString(4), r.GetInt32(5), r.GetString(6), ParseTime(r.GetString(7)));
                state.Load(address);
                held.Add(address.Ip);
            }
        }
        using (var cmd = Command("SELECT id FROM tasks"))
        using (var r = cmd.ExecuteReader())
        {
            long max = 0;
            while (r.Read())
            {
                long id = r.GetInt64(0);
                state.LoadTask(id);
                max = Math.Max(max, id);
            }
            state.NextTaskId = max + 1;
        }
        state.NextSeq = long.Parse(GetMeta("next_seq") ?? "1", CultureInfo.InvariantCulture);
        using (var cmd = Command("SELECT token, instance_ids FROM client_tokens"))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                state.LoadClientToken(r.GetString(0), r.GetString(1).Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
        }

        var storedFree = new Dictionary<uint, long>();
        using (var cmd = Command("SELECT ip, freed_seq FROM pool_free"))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                storedFree[(uint)r.GetInt64(0)] = r.GetInt64(1);
            }
        }

        using var tx = _connection.BeginTransaction();
        foreach (var (ip, _) in storedFree)
        {
            if (!state.Pool.IsMember(ip) || held.Contains(ip))
            {
                using var delete = Command("DELETE FROM pool_free WHERE ip = $ip", tx);
                delete.Parameters.AddWithValue("$ip", (long)ip);
                delete.ExecuteNonQuery();
            }
        }
        foreach (uint ip in poolMembers)
        {
            if (held.Contains(ip))
            {
                continue;
            }
            if (!storedFree.TryGetValue(ip, out long seq))
            {
                seq = 0; // never handed out: free since forever.
                using var insert = Command("INSERT INTO pool_free(ip, freed_seq) VALUES ($ip, 0)", tx);
                insert.Parameters.AddWithValue("$ip", (long)ip);
                insert.ExecuteNonQuery();
            }
            state.Pool.Return(ip, seq);
        }
        tx.Commit();
        return state;
    }

    /// <summary>Writes one accepted change in one transaction; when this returns, the change is on disk.</summary>
    public void Commit(ChangeSet change)
    {
        using var tx = _connection.BeginTransaction();
        foreach (var i in change.PutInstances)
        {
            using var cmd = Command("""
                INSERT INTO instances(id, seq, name, private_ip, public_ip, bandwidth, charge_type, public_ip_assigned, zone, instance_type, image_id, created,
                    power, transition, transition_until, stop_mode, public_ip_on_start, latest_operation, latest_request)
                VALUES ($id, $seq, $name, $private, $public, $bw, $charge, $assigned, $zone, $type, $image, $created,
                    $power, $transition, $until, $stopMode, $ipOnStart, $operation, $request)
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, private_ip = excluded.private_ip, public_ip = excluded.public_ip,
                    bandwidth = excluded.bandwidth, charge_type = excluded.charge_type, public_ip_assigned = excluded.public_ip_assigned,
                    power = excluded.power, transition = excluded.transition, transition_until = excluded.transition_until,
                    stop_mode = excluded.stop_mode, public_ip_on_start = excluded.public_ip_on_start,
                    latest_operation = excluded.latest_operation, latest_request = excluded.latest_request
                """, tx);
            cmd.Parameters.AddWithValue("$id", i.Id);
            cmd.Parameters.AddWithValue("$seq", i.Seq);
            cmd.Parameters.AddWithValue("$name", i.Name);
            cmd.Parameters.AddWithValue("$private", (long)i.PrivateIp);
            cmd.Parameters.AddWithValue("$public", i.OrdinaryPublicIp is uint p ? (long)p : DBNull.Value);
            cmd.Parameters.AddWithValue("$bw", i.BandwidthOut);
            cmd.Parameters.AddWithValue("$charge", i.InternetChargeType);
            cmd.Parameters.AddWithValue("$assigned", i.PublicIpAssigned ? 1 : 0);
            cmd.Parameters.AddWithValue("$zone", i.Zone);
            cmd.Parameters.AddWithValue("$type", i.InstanceType);
            cmd.Parameters.AddWithValue("$image", i.ImageId);
            cmd.Parameters.AddWithValue("$created", FormatTime(i.CreatedTime));
            cmd.Parameters.AddWithValue("$power", i.Power);
            cmd.Parameters.AddWithValue("$transition", (object?)i.Transition ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$until", i.TransitionUntil.ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$stopMode", i.StopMode);
            cmd.Parameters.AddWithValue("$ipOnStart", i.PublicIpOnStart ? 1 : 0);
            cmd.Parameters.AddWithValue("$operation", i.LatestOperation);
            cmd.Parameters.AddWithValue("$request", (object?)i.LatestOperationRequestId ?? DBNull.Value);
            cmd.ExecuteNonQuery();
        }
        foreach (var a in change.PutAddresses)
        {
            using var cmd = Command("""
                INSERT INTO addresses(id, seq, name, ip, instance_id, bandwidth, charge_type, created)
                VALUES ($id, $seq, $name, $ip, $instance, $bw, $charge, $created)
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, instance_id = excluded.instance_id,
                    bandwidth = excluded.bandwidth, charge_type = excluded.charge_type
                """, tx);
            cmd.Parameters.AddWithValue("$id", a.Id);
            cmd.Parameters.AddWithValue("$seq", a.Seq);
            cmd.Parameters.AddWithValue("$name", a.Name);
            cmd.Parameters.AddWithValue("$ip", (long)a.Ip);
            cmd.Parameters.AddWithValue("$instance", (object?)a.InstanceId ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$bw", a.Bandwidth);
            cmd.Parameters.AddWithValue("$charge", a.InternetChargeType);
            cmd.Parameters.AddWithValue("$created", FormatTime(a.CreatedTime));
            cmd.ExecuteNonQuery();
        }
        foreach (string id in change.DeletedAddresses)
        {
            using var cmd = Command("DELETE FROM addresses WHERE id = $id", tx);
            cmd.Parameters.AddWithValue("$id", id);
            cmd.ExecuteNonQuery();
        }
        foreach (string id in change.DeletedInstances)
        {
            using var cmd = Command("DELETE FROM instances WHERE id = $id", tx);
            cmd.Parameters.AddWithValue("$id", id);
            cmd.ExecuteNonQuery();
        }
        foreach (uint ip in change.Taken)
        {
            using var cmd = Command("DELETE FROM pool_free WHERE ip = $ip", tx);
            cmd.Parameters.AddWithValue("$ip", (long)ip);
            if (cmd.ExecuteNonQuery() != 1)
            {
                throw new InvalidOperationException($"pool address {Gateway.Packets.Ipv4Address.Format(ip)} was handed out but is not free in the store.");
            }
        }
        foreach (var (ip, seq) in change.Returned)
        {
            using var cmd = Command("INSERT INTO pool_free(ip, freed_seq) VALUES ($ip, $seq)", tx);
            cmd.Parameters.AddWithValue("$ip", (long)ip);
            cmd.Parameters.AddWithValue("$seq", seq);
            cmd.ExecuteNonQuery();
        }
        if (change.Task is { } task)
        {
            using var cmd = Command("INSERT INTO tasks(id, action, created) VALUES ($id, $action, $created)", tx);
            cmd.Parameters.AddWithValue("$id", task.Id);
            cmd.Parameters.AddWithValue("$action", task.Action);
            cmd.Parameters.AddWithValue("$created", FormatTime(DateTimeOffset.UtcNow));
            cmd.ExecuteNonQuery();
        }
        if (change.ClientToken is { } clientToken)
        {
            using var cmd = Command("INSERT INTO client_tokens(token, instance_ids, created) VALUES ($token, $ids, $created)", tx);
            cmd.Parameters.AddWithValue("$token", clientToken.Token);
            cmd.Parameters.AddWithValue("$ids", string.Join(' ', clientToken.InstanceIds));
            cmd.Parameters.AddWithValue("$created", FormatTime(DateTimeOffset.UtcNow));
            cmd.ExecuteNonQuery();
        }
        SetMeta(_connection, "next_seq", change.NextSeq.ToString(CultureInfo.InvariantCulture), tx);
        tx.Commit();
    }

    /// <summary>
    /// The bindings the database implies, read straight from the tables (not from memory): each powered instance's EIP
    /// if it has one, else its ordinary public IP (a stopped instance translates nothing). What the data-plane table must equal.
    /// </summary>
    public IReadOnlyList<(uint PublicIp, uint PrivateIp)> ReadBindings()
    {
        var result = new List<(uint, uint)>();
        using var cmd = Command("""
            SELECT COALESCE(a.ip, i.public_ip), i.private_ip
            FROM instances i LEFT JOIN addresses a ON a.instance_id = i.id
            WHERE COALESCE(a.ip, i.public_ip) IS NOT NULL AND i.power <> 'STOPPED'
            """);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            result.Add(((uint)r.GetInt64(0), (uint)r.GetInt64(1)));
        }
        return result;
    }

    public void Dispose()
    {
        // Closing the last connection checkpoints the WAL into the database file; a crash instead leaves the WAL,
        // which the next open replays.
        _connection.Dispose();
    }

    private SqliteCommand Command(string sql, SqliteTransaction? tx = null)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        return cmd;
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        cmd.ExecuteNonQuery();
    }

    private static string? GetMeta(SqliteConnection connection, string key, SqliteTransaction? tx)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE key = $key";
        cmd.Transaction = tx;
        cmd.Parameters.AddWithValue("$key", key);
        return cmd.ExecuteScalar() as string;
    }

    private static void SetMeta(SqliteConnection connection, string key, string value, SqliteTransaction tx)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "INSERT INTO meta(key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        cmd.Transaction = tx;
        cmd.Parameters.AddWithValue("$key", key);
        cmd.Parameters.AddWithValue("$value", value);
        cmd.ExecuteNonQuery();
    }

    private static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.ParseExact(text, "yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
