using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.Control.Hardening.Tests;
using Gateway.TestSupport;
using Xunit.Abstractions;

namespace Gateway.Control.Cluster.Tests;

/// <summary>
/// Three gateway nodes over a three-member etcd cluster, eight clients sending random changes to random nodes, gateway
/// nodes killed with SIGKILL and restarted, and one etcd member killed and restarted meanwhile. Afterwards the history
/// of acknowledged answers is checked against what every node and etcd hold.
/// </summary>
public sealed class ClusterRaceTests(ITestOutputHelper output)
{
    /// <summary>30 s in the test command; CLUSTER_RACE_SECONDS for longer runs, CLUSTER_RACE_SEED to repeat one.</summary>
    private static readonly int s_seconds = CrashRecoveryTests.EnvironmentInt("CLUSTER_RACE_SECONDS", 30);
    private const int Nodes = 3;
    private const int Clients = 8;
    private const int Quota = 6;

    /// <summary>What a client knows from the answers it got. Uncertain: an answer never came (the node died), so either outcome is allowed.</summary>
    private sealed class Model
    {
        public Dictionary<string, string?> Instances { get; } = new(StringComparer.Ordinal); // id → bound EIP
        public Dictionary<string, string?> Eips { get; } = new(StringComparer.Ordinal);      // id → bound instance
        public HashSet<string> Uncertain { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Gone { get; } = new(StringComparer.Ordinal);                   // acknowledged terminated/released
        public int UnknownAllocations { get; set; }
        public int UnknownRuns { get; set; }
        public int Acknowledged { get; set; }
        public int Refused { get; set; }
    }

    [Fact]
    [Trait("Category", "Cluster")]
    public async Task RacingClientsOnThreeNodes_WithNodesAndAnEtcdMemberKilled_KeepTheAcknowledgedHistory()
    {
        int seed = CrashRecoveryTests.EnvironmentInt("CLUSTER_RACE_SEED", Random.Shared.Next(1, int.MaxValue));
        output.WriteLine($"seed {seed} (CLUSTER_RACE_SEED={seed} repeats the choices), {s_seconds} s");
        using var etcd = EtcdTestCluster.Start(3);
        using var nodes = new ClusterDaemons(etcd, Nodes, Quota);
        await nodes.StartAllAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(s_seconds);
        var models = Enumerable.Range(0, Clients).Select(_ => new Model()).ToArray();
        var violations = new List<string>();
        var nodeLock = new SemaphoreSlim(1, 1);
        int kills = 0, etcdKills = 0;

        async Task<ApiClient> AnyNode(Random random)
        {
            while (true)
            {
                await nodeLock.WaitAsync();
                try
                {
                    var up = Enumerable.Range(0, Nodes).Where(nodes.IsUp).ToList();
                    if (up.Count > 0)
                    {
                        return nodes.Client(http, up[random.Next(up.Count)]);
                    }
                }
                finally
                {
                    nodeLock.Release();
                }
                await Task.Delay(50);
            }
        }

        async Task Client(int index)
        {
            var random = new Random(seed + index);
            var m = models[index];
            while (DateTime.UtcNow < deadline)
            {
                var api = await AnyNode(random);
                var certainInstances = m.Instances.Keys.Where(id => !m.Uncertain.Contains(id)).ToList();
                var certainEips = m.Eips.Keys.Where(id => !m.Uncertain.Contains(id)).ToList();
                int choice = random.Next(100);
                string kind;
                JsonObject body;
                Action<JsonElement> onSuccess;
                string[] touched;
                if (choice < 25 || certainInstances.Count == 0)
                {
                    kind = "RunInstances";
                    string token = Guid.NewGuid().ToString("N");
                    body = new JsonObject { ["InstanceCount"] = 1, ["ClientToken"] = token, ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = random.Next(2) } };
                    touched = [];
                    onSuccess = r =>
                    {
                        foreach (var id in r.GetProperty("InstanceIdSet").EnumerateArray())
                        {
                            m.Instances[id.GetString()!] = null;
                        }
                    };
                }
                else if (choice < 45)
                {
                    kind = "AllocateAddresses";
                    body = new JsonObject { ["AddressCount"] = 1 };
                    touched = [];
                    onSuccess = r =>
                    {
                        foreach (var id in r.GetProperty("AddressSet").EnumerateArray())
                        {
                            m.Eips[id.GetString()!] = null;
                        }
                    };
                }
                else if (choice < 60 && certainEips.FirstOrDefault(e => m.Eips[e] is null) is { } freeEip
                    && certainInstances.FirstOrDefault(i => m.Instances[i] is null) is { } bare)
                {
                    kind = "AssociateAddress";
                    body = new JsonObject { ["AddressId"] = freeEip, ["InstanceId"] = bare };
                    touched = [freeEip, bare];
                    onSuccess = _ => { m.Eips[freeEip] = bare; m.Instances[bare] = freeEip; };
                }
                else if (choice < 70 && certainEips.FirstOrDefault(e => m.Eips[e] is not null) is { } boundEip)
                {
                    kind = "DisassociateAddress";
                    string ins = m.Eips[boundEip]!;
                    body = new JsonObject { ["AddressId"] = boundEip, ["ReallocateNormalPublicIp"] = random.Next(2) == 0 };
                    touched = [boundEip, ins];
                    onSuccess = _ => { m.Eips[boundEip] = null; m.Instances[ins] = null; };
                }
                else if (choice < 82 && certainEips.FirstOrDefault(e => m.Eips[e] is null) is { } releasable)
                {
                    kind = "ReleaseAddresses";
                    body = new JsonObject { ["AddressIds"] = new JsonArray(releasable) };
                    touched = [releasable];
                    onSuccess = _ => { m.Eips.Remove(releasable); m.Gone.Add(releasable); };
                }
                else
                {
                    string victim = certainInstances[random.Next(certainInstances.Count)];
                    string? eip = m.Instances[victim];
                    if (eip is not null && m.Uncertain.Contains(eip))
                    {
                        continue;
                    }
                    kind = "TerminateInstances";
                    body = new JsonObject { ["InstanceIds"] = new JsonArray(victim) };
                    touched = eip is null ? [victim] : [victim, eip];
                    onSuccess = _ =>
                    {
                        m.Instances.Remove(victim);
                        m.Gone.Add(victim);
                        if (eip is not null)
                        {
                            m.Eips[eip] = null; // the EIP stays, unbound
                        }
                    };
                }
                string service = kind is "RunInstances" or "TerminateInstances" ? "cvm" : "vpc";
                try
                {
                    var response = await api.CallAsync(service, kind, body);
                    onSuccess(response);
                    m.Acknowledged++;
                }
                catch (ApiErrorException e) when (e.Code is "AddressQuotaLimitExceeded" or "ResourceInsufficient")
                {
                    m.Refused++; // the pool or the quota is full: a correct refusal
                }
                catch (ApiErrorException e) when (e.Code == "ServiceUnavailable" && e.ApiMessage.StartsWith("The change was not made", StringComparison.Ordinal))
                {
                    m.Refused++;
                }
                catch (Exception e) when (e is ApiErrorException { Code: "ServiceUnavailable" } or HttpRequestException or TaskCanceledException or IOException)
                {
                    // No answer (the node died under the call) or an answer that says the outcome is unknown.
                    m.Uncertain.UnionWith(touched);
                    if (kind == "AllocateAddresses")
                    {
                        m.UnknownAllocations++;
                    }
                    if (kind == "RunInstances")
                    {
                        m.UnknownRuns++;
                    }
                }
                catch (ApiErrorException e)
                {
                    lock (violations)
                    {
                        violations.Add($"client {index}: {kind} {body.ToJsonString()} was refused with {e.Code}: {e.ApiMessage}");
                    }
                }
            }
        }

        async Task Killer()
        {
            var random = new Random(seed ^ 0x5bd1e995);
            var start = DateTime.UtcNow;
            bool etcdDown = false;
            int etcdVictim = random.Next(etcd.MemberCount);
            while (DateTime.UtcNow < deadline - TimeSpan.FromSeconds(2))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(1500 + random.Next(2000)));
                double elapsed = (DateTime.UtcNow - start).TotalSeconds / s_seconds;
                if (!etcdDown && etcdKills == 0 && elapsed > 0.3)
                {
                    etcd.Kill(etcdVictim);
                    etcdDown = true;
                    etcdKills++;
                    output.WriteLine($"{elapsed:P0}: etcd member {etcdVictim} killed");
                }
                else if (etcdDown && elapsed > 0.6)
                {
                    etcd.Restart(etcdVictim);
                    etcdDown = false;
                    output.WriteLine($"{elapsed:P0}: etcd member {etcdVictim} restarted");
                }
                int victim = random.Next(Nodes);
                await nodeLock.WaitAsync();
                try
                {
                    nodes.Kill(victim);
                }
                finally
                {
                    nodeLock.Release();
                }
                kills++;
                await Task.Delay(TimeSpan.FromMilliseconds(200 + random.Next(800)));
                await nodes.StartAsync(victim, generation: kills); // a fresh, empty state folder: everything comes from etcd
            }
            if (etcdDown)
            {
                etcd.Restart(etcdVictim);
            }
        }

        // A sampler: the quota is never exceeded, seen from any node at any moment.
        async Task Sampler()
        {
            var random = new Random(seed ^ 0x1234);
            while (DateTime.UtcNow < deadline)
            {
                try
                {
                    var api = await AnyNode(random);
                    var quota = await api.CallAsync("vpc", "DescribeAddressQuota");
                    foreach (var q in quota.GetProperty("QuotaSet").EnumerateArray())
                    {
                        if (q.GetProperty("QuotaCurrent").GetInt32() > Quota)
                        {
                            lock (violations)
                            {
                                violations.Add($"a node showed {q.GetProperty("QuotaCurrent").GetInt32()} EIPs held, over the quota of {Quota}");
                            }
                        }
                    }
                }
                catch (Exception e) when (e is ApiErrorException or HttpRequestException or TaskCanceledException or IOException)
                {
                }
                await Task.Delay(100);
            }
        }

        await Task.WhenAll([.. Enumerable.Range(0, Clients).Select(i => Task.Run(() => Client(i))), Task.Run(Killer), Task.Run(Sampler)]);

        // Quiescence: every etcd member and every node up, every node caught up with the head revision.
        for (int i = 0; i < etcd.MemberCount; i++)
        {
            if (!etcd.IsRunning(i))
            {
                etcd.Restart(i);
            }
        }
        etcd.WaitHealthy(TimeSpan.FromSeconds(30));
        for (int i = 0; i < Nodes; i++)
        {
            if (!nodes.IsUp(i))
            {
                await nodes.StartAsync(i, generation: 1000 + i);
            }
        }
        var views = new List<(string Instances, string Eips, SortedSet<string> Table, long Applied)>();
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var status = await nodes.Client(http, 0).CallAsync("vpc", "DescribeGatewayCluster");
            if (status.GetProperty("nodes").EnumerateArray().Count() == Nodes
                && status.GetProperty("nodes").EnumerateArray().All(n => n.GetProperty("lag").GetInt64() == 0))
            {
                break;
            }
            if (sw.Elapsed >= TimeSpan.FromSeconds(30))
            {
                Assert.Fail($"the nodes did not catch up with etcd within 30 s: {status}\n{nodes.Logs()}");
            }
            await Task.Delay(100);
        }

        var etcdBindings = nodes.BindingsInEtcd();
        for (int i = 0; i < Nodes; i++)
        {
            var api = nodes.Client(http, i);
            var instances = await ClusterDaemons.DescribeAllAsync(api, "cvm", "DescribeInstances", "InstanceSet");
            var eips = await ClusterDaemons.DescribeAllAsync(api, "vpc", "DescribeAddresses", "AddressSet");
            var status = await api.CallAsync("vpc", "DescribeGatewayCluster", new JsonObject { ["IncludeBindings"] = true });
            var table = new SortedSet<string>(status.GetProperty("Bindings").EnumerateArray().Select(b => b.GetString()!), StringComparer.Ordinal);
            views.Add((
                string.Join("\n", instances.Select(x => $"{x.GetProperty("InstanceId")} {x.GetProperty("PrivateIpAddresses")} {x.GetProperty("PublicIpAddresses")}").Order(StringComparer.Ordinal)),
                string.Join("\n", eips.Select(x => $"{x.GetProperty("AddressId")} {x.GetProperty("AddressIp")} {x.GetProperty("InstanceId")}").Order(StringComparer.Ordinal)),
                table,
                status.GetProperty("AppliedRevision").GetInt64()));
            Assert.True(etcdBindings.SetEquals(table),
                $"node {i}'s binding table differs from etcd: only in the table {string.Join(",", table.Except(etcdBindings))}; only in etcd {string.Join(",", etcdBindings.Except(table))}");

            if (i == 0)
            {
                CheckHistory(models, instances, eips, violations);
            }
        }
        Assert.All(views, v => Assert.Equal(views[0].Instances, v.Instances));
        Assert.All(views, v => Assert.Equal(views[0].Eips, v.Eips));

        int acknowledged = models.Sum(m => m.Acknowledged);
        output.WriteLine($"{acknowledged} acknowledged changes, {models.Sum(m => m.Refused)} refused (pool, quota or no quorum), " +
            $"{models.Sum(m => m.Uncertain.Count)} resources left uncertain by a kill, {kills} gateway kills, {etcdKills} etcd member kill; " +
            $"{views[0].Table.Count} bindings on every node at revision {views[0].Applied}");
        foreach (string violation in violations)
        {
            output.WriteLine("VIOLATION: " + violation);
        }
        Assert.Empty(violations);
        Assert.True(acknowledged > 50, $"only {acknowledged} changes were acknowledged: the run proves little");
    }

    /// <summary>No address held twice, the quota kept, every acknowledged change there and every acknowledged removal gone.</summary>
    private static void CheckHistory(Model[] models, List<JsonElement> instances, List<JsonElement> eips, List<string> violations)
    {
        var eipIps = eips.ToDictionary(e => e.GetProperty("AddressId").GetString()!, e => e.GetProperty("AddressIp").GetString()!, StringComparer.Ordinal);
        var holders = new Dictionary<string, string>(StringComparer.Ordinal);
        void Hold(string ip, string holder)
        {
            if (!holders.TryAdd(ip, holder))
            {
                violations.Add($"{ip} is held by {holders[ip]} and by {holder}");
            }
        }
        foreach (var (id, ip) in eipIps)
        {
            Hold(ip, id);
        }
        var boundEip = eips.Where(e => e.GetProperty("InstanceId").ValueKind == JsonValueKind.String)
            .ToDictionary(e => e.GetProperty("InstanceId").GetString()!, e => e.GetProperty("AddressId").GetString()!, StringComparer.Ordinal);
        foreach (var instance in instances)
        {
            string id = instance.GetProperty("InstanceId").GetString()!;
            var publicIps = instance.GetProperty("PublicIpAddresses");
            foreach (var ip in publicIps.ValueKind == JsonValueKind.Array ? publicIps.EnumerateArray() : default)
            {
                if (boundEip.TryGetValue(id, out string? eip))
                {
                    if (eipIps[eip] != ip.GetString())
                    {
                        violations.Add($"{id} shows {ip} but its EIP {eip} is {eipIps[eip]}");
                    }
                }
                else
                {
                    Hold(ip.GetString()!, id);
                }
            }
        }
        if (eips.Count > Quota)
        {
            violations.Add($"{eips.Count} EIPs are held, over the quota of {Quota}");
        }
        var instanceIds = instances.Select(i => i.GetProperty("InstanceId").GetString()!).ToHashSet(StringComparer.Ordinal);
        var eipBinding = eips.ToDictionary(e => e.GetProperty("AddressId").GetString()!,
            e => e.GetProperty("InstanceId").ValueKind == JsonValueKind.String ? e.GetProperty("InstanceId").GetString() : null, StringComparer.Ordinal);
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in models)
        {
            foreach (var (id, eip) in m.Instances)
            {
                known.Add(id);
                if (!m.Uncertain.Contains(id) && !instanceIds.Contains(id))
                {
                    violations.Add($"the acknowledged instance {id} is gone");
                }
            }
            foreach (var (id, boundTo) in m.Eips)
            {
                known.Add(id);
                if (m.Uncertain.Contains(id))
                {
                    continue;
                }
                if (!eipBinding.TryGetValue(id, out string? actual))
                {
                    violations.Add($"the acknowledged EIP {id} is gone");
                }
                else if (actual != boundTo && !(boundTo is not null && m.Uncertain.Contains(boundTo)))
                {
                    violations.Add($"the EIP {id} is bound to {actual ?? "nothing"}, but the acknowledged history says {boundTo ?? "nothing"}");
                }
            }
            foreach (string id in m.Gone)
            {
                if (instanceIds.Contains(id) || eipBinding.ContainsKey(id))
                {
                    violations.Add($"{id} was acknowledged as terminated or released but is still there");
                }
            }
        }
        // Whatever no client knows of must come from a call whose answer never came.
        int unknownEips = eipBinding.Keys.Count(id => !known.Contains(id));
        int unknownInstances = instanceIds.Count(id => !known.Contains(id));
        if (unknownEips > models.Sum(m => m.UnknownAllocations))
        {
            violations.Add($"{unknownEips} EIPs exist that no acknowledged or unanswered call created");
        }
        if (unknownInstances > models.Sum(m => m.UnknownRuns))
        {
            violations.Add($"{unknownInstances} instances exist that no acknowledged or unanswered call created");
        }
    }
}
