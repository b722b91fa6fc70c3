using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Gateway.Control.Metering;

/// <summary>What one key (an instance, or a public address) carried in one period, in IPv4 packets and bytes.</summary>
public readonly record struct MeterTotals(
    long OutPackets, long OutBytes, long InPackets, long InBytes,
    long OutDroppedPackets, long OutDroppedBytes, long InDroppedPackets, long InDroppedBytes)
{
    public static MeterTotals operator +(MeterTotals a, MeterTotals b) => new(
        a.OutPackets + b.OutPackets, a.OutBytes + b.OutBytes, a.InPackets + b.InPackets, a.InBytes + b.InBytes,
        a.OutDroppedPackets + b.OutDroppedPackets, a.OutDroppedBytes + b.OutDroppedBytes,
        a.InDroppedPackets + b.InDroppedPackets, a.InDroppedBytes + b.InDroppedBytes);

    public static MeterTotals operator -(MeterTotals a, MeterTotals b) => new(
        a.OutPackets - b.OutPackets, a.OutBytes - b.OutBytes, a.InPackets - b.InPackets, a.InBytes - b.InBytes,
        a.OutDroppedPackets - b.OutDroppedPackets, a.OutDroppedBytes - b.OutDroppedBytes,
        a.InDroppedPackets - b.InDroppedPackets, a.InDroppedBytes - b.InDroppedBytes);

    public bool IsZero => this == default;
}

/// <summary>The kind of key a metering row is kept under.</summary>
public enum MeterKind
{
    /// <summary>An instance id (what the Monitor API's <c>InstanceId</c> dimension names).</summary>
    Instance,
    /// <summary>A public address in dotted-quad form (ordinary public IP or EIP).</summary>
    Address,
}

/// <summary>One stored point: a key's totals over [<see cref="PeriodStart"/>, + <see cref="Resolution"/>) seconds.</summary>
public readonly record struct MeterRow(MeterKind Kind, string Key, long PeriodStart, int Resolution, MeterTotals Totals);

/// <summary>
/// The metering history, node-local: a table in the state database, written through its own connection, apart from
/// the control plane's store and its change sets (a cluster node keeps its own history).
/// </summary>
/// <remarks>
/// <para>Rows are 10-second points for the last 24 hours and 5-minute points for 31 days before that: every write
/// of a closed period also folds 10-second rows older than 24 hours into 5-minute rows (one transaction) and drops
/// 5-minute rows older than 31 days.</para>
/// <para>WAL with <c>synchronous=NORMAL</c>: a committed period survives the process being killed (the WAL is in the
/// OS's hands); only a power loss could take the last periods, which metering, unlike an acknowledged control-plane
/// change, may lose. A period written twice (a restart within the same 10 seconds, a shutdown flush) adds up.</para>
/// </remarks>
public sealed class MeteringStore : IDisposable
{
    /// <summary>A cluster node's metering file in its state directory (its control state lives in etcd).</summary>
    public const string ClusterNodeFileName = "metering.db";

    public const int FineResolution = 10;
    public const int CoarseResolution = 300;
    public const long FineRetentionSeconds = 24 * 3600;
    public const long CoarseRetentionSeconds = 31 * 24 * 3600;

    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();

    private MeteringStore(SqliteConnection connection) => _connection = connection;

    /// <summary>Opens (and creates) the metering table in <paramref name="databasePath"/>.</summary>
    public static MeteringStore Open(string databasePath)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString());
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode=WAL;");
            Execute(connection, "PRAGMA synchronous=NORMAL;");
            Execute(connection, """
                CREATE TABLE IF NOT EXISTS metering(
                    kind INTEGER NOT NULL, key TEXT NOT NULL, period_start INTEGER NOT NULL, resolution INTEGER NOT NULL,
                    out_packets INTEGER NOT NULL, out_bytes INTEGER NOT NULL, in_packets INTEGER NOT NULL, in_bytes INTEGER NOT NULL,
                    out_dropped_packets INTEGER NOT NULL, out_dropped_bytes INTEGER NOT NULL,
                    in_dropped_packets INTEGER NOT NULL, in_dropped_bytes INTEGER NOT NULL,
                    PRIMARY KEY (kind, key, resolution, period_start));
                CREATE TABLE IF NOT EXISTS metering_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                """);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        return new MeteringStore(connection);
    }

    /// <summary>The first period the gateway metered (Unix seconds), if any: the Monitor API fills zeros from there on.</summary>
    public long? MeteringSince
    {
        get
        {
            lock (_lock)
            {
                using var cmd = Command("SELECT value FROM metering_meta WHERE key = 'since'");
                return cmd.ExecuteScalar() is long since ? since : null;
            }
        }
    }

    /// <summary>The last 10-second period written (Unix seconds of its start), if any.</summary>
    public long? LastPeriod
    {
        get
        {
            lock (_lock)
            {
                using var cmd = Command("SELECT value FROM metering_meta WHERE key = 'last'");
                return cmd.ExecuteScalar() is long last ? last : null;
            }
        }
    }

    /// <summary>
    /// Adds one closed 10-second period (rows with zero traffic are not stored) in one transaction, then applies
    /// the retention rules relative to <paramref name="periodStart"/>.
    /// </summary>
    public void AddPeriod(long periodStart, IEnumerable<(MeterKind Kind, string Key, MeterTotals Totals)> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        lock (_lock)
        {
            using var tx = _connection.BeginTransaction();
            foreach (var (kind, key, totals) in rows)
            {
                if (!totals.IsZero)
                {
                    Upsert(tx, kind, key, periodStart, FineResolution, totals);
                }
            }
            using (var since = Command("INSERT INTO metering_meta(key, value) VALUES ('since', $p) ON CONFLICT(key) DO UPDATE SET value = MIN(value, excluded.value)", tx))
            {
                since.Parameters.AddWithValue("$p", periodStart);
                since.ExecuteNonQuery();
            }
            using (var last = Command("INSERT INTO metering_meta(key, value) VALUES ('last', $p) ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)", tx))
            {
                last.Parameters.AddWithValue("$p", periodStart);
                last.ExecuteNonQuery();
            }
            RollUp(tx, periodStart);
            tx.Commit();
        }
    }

    /// <summary>Stored rows of <paramref name="kind"/> for <paramref name="keys"/> whose period starts in [<paramref name="from"/>, <paramref name="to"/>].</summary>
    public IReadOnlyList<MeterRow> Read(MeterKind kind, IReadOnlyCollection<string> keys, long from, long to)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var result = new List<MeterRow>();
        lock (_lock)
        {
            foreach (string key in keys.Distinct(StringComparer.Ordinal))
            {
                using var cmd = Command("""
                    SELECT period_start, resolution, out_packets, out_bytes, in_packets, in_bytes, out_dropped_packets, out_dropped_bytes, in_dropped_packets, in_dropped_bytes
                    FROM metering WHERE kind = $kind AND key = $key AND period_start >= $from AND period_start <= $to ORDER BY period_start
                    """);
                cmd.Parameters.AddWithValue("$kind", (int)kind);
                cmd.Parameters.AddWithValue("$key", key);
                cmd.Parameters.AddWithValue("$from", from);
                cmd.Parameters.AddWithValue("$to", to);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    result.Add(new MeterRow(kind, key, r.GetInt64(0), r.GetInt32(1), ReadTotals(r, 2)));
                }
            }
        }
        return result;
    }

    /// <summary>Everything stored, summed per key: the totals a restart resumes counting from.</summary>
    public IReadOnlyDictionary<(MeterKind Kind, string Key), MeterTotals> Totals()
    {
        var result = new Dictionary<(MeterKind, string), MeterTotals>();
        lock (_lock)
        {
            using var cmd = Command("""
                SELECT kind, key, SUM(out_packets), SUM(out_bytes), SUM(in_packets), SUM(in_bytes),
                       SUM(out_dropped_packets), SUM(out_dropped_bytes), SUM(in_dropped_packets), SUM(in_dropped_bytes)
                FROM metering GROUP BY kind, key
                """);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                result[((MeterKind)r.GetInt32(0), r.GetString(1))] = ReadTotals(r, 2);
            }
        }
        return result;
    }

    public void Dispose() => _connection.Dispose();

    private void RollUp(SqliteTransaction tx, long now)
    {
        // 10-second rows older than a day fold into the 5-minute row of their period, then go.
        long fineCutoff = now - FineRetentionSeconds;
        using (var fold = Command("""
            INSERT INTO metering(kind, key, period_start, resolution, out_packets, out_bytes, in_packets, in_bytes,
                                 out_dropped_packets, out_dropped_bytes, in_dropped_packets, in_dropped_bytes)
            SELECT kind, key, period_start - (period_start % 300), 300, SUM(out_packets), SUM(out_bytes), SUM(in_packets), SUM(in_bytes),
                   SUM(out_dropped_packets), SUM(out_dropped_bytes), SUM(in_dropped_packets), SUM(in_dropped_bytes)
            FROM metering WHERE resolution = 10 AND period_start < $cutoff
            GROUP BY kind, key, period_start - (period_start % 300)
            ON CONFLICT(kind, key, resolution, period_start) DO UPDATE SET
                out_packets = out_packets + excluded.out_packets, out_bytes = out_bytes + excluded.out_bytes,
                in_packets = in_packets + excluded.in_packets, in_bytes = in_bytes + excluded.in_bytes,
                out_dropped_packets = out_dropped_packets + excluded.out_dropped_packets, out_dropped_bytes = out_dropped_bytes + excluded.out_dropped_bytes,
                in_dropped_packets = in_dropped_packets + excluded.in_dropped_packets, in_dropped_bytes = in_dropped_bytes + excluded.in_dropped_bytes
            """, tx))
        {
            fold.Parameters.AddWithValue("$cutoff", fineCutoff);
            fold.ExecuteNonQuery();
        }
        using (var drop = Command("DELETE FROM metering WHERE resolution = 10 AND period_start < $cutoff", tx))
        {
            drop.Parameters.AddWithValue("$cutoff", fineCutoff);
            drop.ExecuteNonQuery();
        }
        using (var expire = Command("DELETE FROM metering WHERE resolution = 300 AND period_start < $cutoff", tx))
        {
            expire.Parameters.AddWithValue("$cutoff", now - CoarseRetentionSeconds);
            expire.ExecuteNonQuery();
        }
    }

    private void Upsert(SqliteTransaction tx, MeterKind kind, string key, long periodStart, int resolution, MeterTotals t)
    {
        using var cmd = Command("""
            INSERT INTO metering(kind, key, period_start, resolution, out_packets, out_bytes, in_packets, in_bytes,
                                 out_dropped_packets, out_dropped_bytes, in_dropped_packets, in_dropped_bytes)
            VALUES ($kind, $key, $start, $res, $op, $ob, $ip, $ib, $odp, $odb, $idp, $idb)
            ON CONFLICT(kind, key, resolution, period_start) DO UPDATE SET
                out_packets = out_packets + excluded.out_packets, out_bytes = out_bytes + excluded.out_bytes,
                in_packets = in_packets + excluded.in_packets, in_bytes = in_bytes + excluded.in_bytes,
                out_dropped_packets = out_dropped_packets + excluded.out_dropped_packets, out_dropped_bytes = out_dropped_bytes + excluded.out_dropped_bytes,
                in_dropped_packets = in_dropped_packets + excluded.in_dropped_packets, in_dropped_bytes = in_dropped_bytes + excluded.in_dropped_bytes
            """, tx);
        cmd.Parameters.AddWithValue("$kind", (int)kind);
        cmd.Parameters.AddWithValue("$key", key);
        cmd.Parameters.AddWithValue("$start", periodStart);
        cmd.Parameters.AddWithValue("$res", resolution);
        cmd.Parameters.AddWithValue("$op", t.OutPackets);
        cmd.Parameters.AddWithValue("$ob", t.OutBytes);
        cmd.Parameters.AddWithValue("$ip", t.InPackets);
        cmd.Parameters.AddWithValue("$ib", t.InBytes);
        cmd.Parameters.AddWithValue("$odp", t.OutDroppedPackets);
        cmd.Parameters.AddWithValue("$odb", t.OutDroppedBytes);
        cmd.Parameters.AddWithValue("$idp", t.InDroppedPackets);
        cmd.Parameters.AddWithValue("$idb", t.InDroppedBytes);
        cmd.ExecuteNonQuery();
    }

    private static MeterTotals ReadTotals(SqliteDataReader r, int first) => new(
        r.GetInt64(first), r.GetInt64(first + 1), r.GetInt64(first + 2), r.GetInt64(first + 3),
        r.GetInt64(first + 4), r.GetInt64(first + 5), r.GetInt64(first + 6), r.GetInt64(first + 7));

    private SqliteCommand Command(string sql, SqliteTransaction? tx = null)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        return cmd;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    internal static string FormatTime(long unixSeconds) => DateTimeOffset.FromUnixTimeSeconds(unixSeconds).ToString("yyyy-MM-ddTHH:mm:ssK", CultureInfo.InvariantCulture);
}
