using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.Control.Model;
using Gateway.Control.Store;
using Gateway.Packets;
using Microsoft.Data.Sqlite;

namespace Gateway.Control.Hardening.Tests;

/// <summary>
/// Everything a client can see (every instance, every EIP, the quota) and the invariants of the public-IP rules,
/// read straight from the database file (not from the daemon's memory).
/// </summary>
internal static class StateProbe
{
    /// <summary>DescribeInstances + DescribeAddresses (all pages) + DescribeAddressQuota, as one canonical JSON text.</summary>
    public static async Task<string> DescribeEverythingAsync(ApiClient client)
    {
        var instances = await AllPagesAsync(client, "cvm", "DescribeInstances", "InstanceSet");
        var addresses = await AllPagesAsync(client, "vpc", "DescribeAddresses", "AddressSet");
        var quota = await client.CallAsync("vpc", "DescribeAddressQuota");
        return new JsonObject
        {
            ["instances"] = instances,
            ["addresses"] = addresses,
            ["quota"] = JsonNode.Parse(quota.GetProperty("QuotaSet").GetRawText()),
        }.ToJsonString();
    }

    private static async Task<JsonArray> AllPagesAsync(ApiClient client, string service, string action, string set)
    {
        var all = new JsonArray();
        for (int offset = 0; ; offset += 100)
        {
            var page = await client.CallAsync(service, action, new JsonObject { ["Offset"] = offset, ["Limit"] = 100 });
            int total = page.GetProperty("TotalCount").GetInt32();
            foreach (var item in page.GetProperty(set).EnumerateArray())
            {
                all.Add(JsonNode.Parse(item.GetRawText()));
            }
            if (offset + 100 >= total)
            {
                return all;
            }
        }
    }

    /// <summary>The public↔private pairs a description shows ("198.51.100.7 <-> 10.0.0.2"), sorted.</summary>
    public static List<string> DescribedBindings(string described) =>
        [.. JsonDocument.Parse(described).RootElement.GetProperty("instances").EnumerateArray()
            .Where(i => i.GetProperty("PublicIpAddresses").ValueKind == JsonValueKind.Array)
            .Select(i => $"{i.GetProperty("PublicIpAddresses")[0].GetString()} <-> {i.GetProperty("PrivateIpAddresses")[0].GetString()}")
            .Order(StringComparer.Ordinal)];

    /// <summary>The bindings the database file implies, in the same form.</summary>
    public static List<string> DatabaseBindings(string stateDirectory)
    {
        using var connection = OpenReadOnly(stateDirectory);
        var result = new List<string>();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = """
            SELECT COALESCE(a.ip, i.public_ip), i.private_ip FROM instances i LEFT JOIN addresses a ON a.instance_id = i.id
            WHERE COALESCE(a.ip, i.public_ip) IS NOT NULL
            """;
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            result.Add($"{Ipv4Address.Format((uint)r.GetInt64(0))} <-> {Ipv4Address.Format((uint)r.GetInt64(1))}");
        }
        result.Sort(StringComparer.Ordinal);
        return result;
    }

    /// <summary>
    /// The invariants of the rules, checked on the database file: every public address of the configured ranges is
    /// exactly one of free, an instance's ordinary public IP, or an EIP; an EIP is bound to an existing instance and
    /// to at most one; an instance with an EIP has no ordinary public IP; with <paramref name="bandwidthImpliesPublicIp"/>
    /// (no request in the run opted out with PublicIpAssigned=false or ReallocateNormalPublicIp=false) every instance
    /// with bandwidth &gt; 0 translates to exactly one public IP and one with 0 has no ordinary one.
    /// </summary>
    public static List<string> InvariantViolations(string stateDirectory, IReadOnlyCollection<uint> poolMembers, bool bandwidthImpliesPublicIp = true)
    {
        using var connection = OpenReadOnly(stateDirectory);
        var problems = new List<string>();
        var owners = new Dictionary<uint, List<string>>();
        void Own(uint ip, string who)
        {
            if (!owners.TryGetValue(ip, out var list))
            {
                owners[ip] = list = [];
            }
            list.Add(who);
        }
        var instances = new Dictionary<string, (uint? PublicIp, int Bandwidth)>(StringComparer.Ordinal);
        var releasedWhileStopped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in Rows(connection, "SELECT id, public_ip, bandwidth, power, stop_mode FROM instances"))
        {
            string id = (string)row[0]!;
            uint? pub = row[1] is long p ? (uint)p : null;
            instances[id] = (pub, (int)(long)row[2]!);
            if ((string)row[3]! == "STOPPED" && (string)row[4]! == "STOP_CHARGING")
            {
                // Stopped without charging: no ordinary public IP until it starts.
                releasedWhileStopped.Add(id);
                if (pub is not null)
                {
                    problems.Add($"instance {id} is stopped with STOP_CHARGING but keeps the ordinary public IP {Ipv4Address.Format(pub.Value)}");
                }
            }
            if (pub is uint ip)
            {
                Own(ip, "instance " + id);
            }
        }
        var eipOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in Rows(connection, "SELECT id, ip, instance_id FROM addresses"))
        {
            string id = (string)row[0]!;
            Own((uint)(long)row[1]!, "EIP " + id);
            if (row[2] is string instanceId)
            {
                if (!instances.ContainsKey(instanceId))
                {
                    problems.Add($"EIP {id} is bound to {instanceId}, which does not exist");
                }
                if (!eipOf.TryAdd(instanceId, id))
                {
                    problems.Add($"instance {instanceId} has two EIPs: {eipOf[instanceId]} and {id}");
                }
            }
        }
        foreach (var row in Rows(connection, "SELECT ip FROM pool_free"))
        {
            Own((uint)(long)row[0]!, "the free pool");
        }
        foreach (var (ip, who) in owners)
        {
            if (who.Count > 1)
            {
                problems.Add($"{Ipv4Address.Format(ip)} is held {who.Count} times: {string.Join(", ", who)}");
            }
            if (!poolMembers.Contains(ip))
            {
                problems.Add($"{Ipv4Address.Format(ip)} ({string.Join(", ", who)}) is not in the configured ranges");
            }
        }
        foreach (uint ip in poolMembers.Where(ip => !owners.ContainsKey(ip)))
        {
            problems.Add($"{Ipv4Address.Format(ip)} of the configured ranges is neither free nor held: lost from the pool");
        }
        foreach (var (id, (pub, bandwidth)) in instances)
        {
            bool hasEip = eipOf.ContainsKey(id);
            if (hasEip && pub is not null)
            {
                problems.Add($"instance {id} has both an EIP and an ordinary public IP");
            }
            if (bandwidthImpliesPublicIp && bandwidth > 0 && !hasEip && pub is null && !releasedWhileStopped.Contains(id))
            {
                problems.Add($"instance {id} has bandwidth {bandwidth} but no public IP");
            }
            if (bandwidthImpliesPublicIp && bandwidth == 0 && pub is not null)
            {
                problems.Add($"instance {id} has bandwidth 0 but keeps the ordinary public IP {Ipv4Address.Format(pub.Value)}");
            }
        }
        return problems;
    }

    public static IReadOnlyCollection<uint> Members(params string[] prefixes) =>
        prefixes.SelectMany(p => Ipv4Cidr.Parse(p).Hosts()).ToHashSet();

    private static SqliteConnection OpenReadOnly(string stateDirectory)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(stateDirectory, SqliteStore.FileName),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    private static List<object?[]> Rows(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<object?[]>();
        while (r.Read())
        {
            var row = new object?[r.FieldCount];
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = r.IsDBNull(i) ? null : r.GetValue(i);
            }
            rows.Add(row);
        }
        return rows;
    }
}
