using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.Control.Api.Tests;
using Gateway.Control.Hosting;
using Gateway.Control.Hosting.Tests;
using Gateway.Control.Model;
using Xunit.Abstractions;
using Gateway.Packets;

namespace Gateway.Control.Hardening.Tests;

/// <summary>
/// The real daemon under load from several clients, killed with SIGKILL at random moments and restarted: every
/// acknowledged change is there, an unacknowledged one is applied whole or not at all, and the invariants hold.
/// </summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output) : IDisposable
{
    private const int Workers = 4;
    /// <summary>4 in the test command; CRASH_KILLS=100 for a long run.</summary>
    private static readonly int s_kills = EnvironmentInt("CRASH_KILLS", 4);
    private const int MaxInstancesPerWorker = 8;
    private const int MaxEipsPerWorker = 5;
    private static readonly IReadOnlyCollection<uint> s_members = StateProbe.Members("198.51.100.0/24"); // DaemonProcess's pool

    private readonly string _state = Path.Combine(Path.GetTempPath(), "gw-crash-" + Guid.NewGuid().ToString("N"));

    internal static int EnvironmentInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0 ? n : fallback;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    // ----- What each client believes, from the answers it got. -----

    private sealed record InstanceM(int Bandwidth, string? Eip, string? SeenIp, bool IpMayHaveChanged);

    private sealed record EipM(string? BoundTo, string? Ip);

    private sealed record Op(string Kind, string? Instance = null, string? Eip = null, int Count = 1, int Bandwidth = 0, string Name = "");

    private sealed class Worker(int index)
    {
        public int Index { get; } = index;
        public Dictionary<string, InstanceM> Instances { get; set; } = new(StringComparer.Ordinal);
        public Dictionary<string, EipM> Eips { get; set; } = new(StringComparer.Ordinal);
        /// <summary>The call whose answer never came (the daemon died): applied whole or not at all.</summary>
        public Op? InFlight { get; set; }
        public int Acknowledged { get; set; }
        public int OpCounter { get; set; }
        /// <summary>A RunInstances cut off by a kill, to be sent again with its ClientToken, and what the restart showed of it.</summary>
        public (Op Op, List<string> Found)? Retry { get; set; }

        public (Dictionary<string, InstanceM>, Dictionary<string, EipM>) Applied(Op op, IReadOnlyList<string> newIds)
        {
            var ins = new Dictionary<string, InstanceM>(Instances, StringComparer.Ordinal);
            var eips = new Dictionary<string, EipM>(Eips, StringComparer.Ordinal);
            switch (op.Kind)
            {
                case "RunInstances":
                    foreach (string id in newIds)
                    {
                        ins[id] = new InstanceM(op.Bandwidth, null, null, true);
                    }
                    break;
                case "AllocateAddresses":
                    foreach (string id in newIds)
                    {
                        eips[id] = new EipM(null, null);
                    }
                    break;
                case "AssociateAddress":
                    eips[op.Eip!] = eips[op.Eip!] with { BoundTo = op.Instance };
                    ins[op.Instance!] = ins[op.Instance!] with { Eip = op.Eip, IpMayHaveChanged = true };
                    break;
                case "DisassociateAddress":
                    string owner = eips[op.Eip!].BoundTo!;
                    eips[op.Eip!] = eips[op.Eip!] with { BoundTo = null };
                    ins[owner] = ins[owner] with { Eip = null, IpMayHaveChanged = true };
                    break;
                case "ReleaseAddresses":
                    eips.Remove(op.Eip!);
                    break;
                case "TerminateInstances":
                    if (ins[op.Instance!].Eip is string bound)
                    {
                        eips[bound] = eips[bound] with { BoundTo = null };
                    }
                    ins.Remove(op.Instance!);
                    break;
                case "ResetInstancesInternetMaxBandwidth":
                    var old = ins[op.Instance!];
                    ins[op.Instance!] = old with { Bandwidth = op.Bandwidth, IpMayHaveChanged = old.IpMayHaveChanged || (old.Bandwidth == 0) != (op.Bandwidth == 0) };
                    break;
            }
            return (ins, eips);
        }

        public Op Choose(Random random)
        {
            var unbound = Eips.Where(e => e.Value.BoundTo is null).Select(e => e.Key).ToList();
            var bound = Eips.Where(e => e.Value.BoundTo is not null).Select(e => e.Key).ToList();
            var withoutEip = Instances.Where(i => i.Value.Eip is null).Select(i => i.Key).ToList();
            var instances = Instances.Keys.ToList();
            string name = $"w{Index}-op{OpCounter++}";
            var choices = new List<(int Weight, Func<Op> Make)>();
            if (Instances.Count < MaxInstancesPerWorker)
            {
                choices.Add((2, () => new Op("RunInstances", Count: Math.Min(random.Next(1, 3), MaxInstancesPerWorker - Instances.Count), Bandwidth: random.Next(0, 3) * 5, Name: name)));
            }
            if (Eips.Count < MaxEipsPerWorker)
            {
                choices.Add((2, () => new Op("AllocateAddresses", Count: Math.Min(random.Next(1, 3), MaxEipsPerWorker - Eips.Count), Name: name)));
            }
            if (unbound.Count > 0 && withoutEip.Count > 0)
            {
                choices.Add((3, () => new Op("AssociateAddress", Instance: withoutEip[random.Next(withoutEip.Count)], Eip: unbound[random.Next(unbound.Count)])));
            }
            if (bound.Count > 0)
            {
                choices.Add((2, () => new Op("DisassociateAddress", Eip: bound[random.Next(bound.Count)])));
            }
            if (unbound.Count > 0)
            {
                choices.Add((1, () => new Op("ReleaseAddresses", Eip: unbound[random.Next(unbound.Count)])));
            }
            if (instances.Count > 0)
            {
                choices.Add((1, () => new Op("TerminateInstances", Instance: instances[random.Next(instances.Count)])));
                choices.Add((2, () => new Op("ResetInstancesInternetMaxBandwidth", Instance: instances[random.Next(instances.Count)], Bandwidth: random.Next(0, 3) * 5)));
            }
            int pick = random.Next(choices.Sum(c => c.Weight));
            foreach (var (weight, make) in choices)
            {
                if ((pick -= weight) < 0)
                {
                    return make();
                }
            }
            throw new UnreachableException();
        }
    }

    private static async Task<IReadOnlyList<string>> CallAsync(ApiClient client, Op op, CancellationToken cancellationToken)
    {
        JsonElement r;
        switch (op.Kind)
        {
            case "RunInstances":
                r = await client.CallAsync("cvm", op.Kind, new JsonObject
                {
                    ["InstanceCount"] = op.Count,
                    ["InstanceName"] = op.Name,
                    ["ClientToken"] = op.Name, // unique per call: sent again after a crash, it must not create twice
                    ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = op.Bandwidth },
                }, cancellationToken);
                return [.. r.GetProperty("InstanceIdSet").EnumerateArray().Select(e => e.GetString()!)];
            case "AllocateAddresses":
                r = await client.CallAsync("vpc", op.Kind, new JsonObject { ["AddressCount"] = op.Count, ["AddressName"] = op.Name }, cancellationToken);
                return [.. r.GetProperty("AddressSet").EnumerateArray().Select(e => e.GetString()!)];
            case "AssociateAddress":
                await client.CallAsync("vpc", op.Kind, new JsonObject { ["AddressId"] = op.Eip, ["InstanceId"] = op.Instance }, cancellationToken);
                return [];
            case "DisassociateAddress":
                await client.CallAsync("vpc", op.Kind, new JsonObject { ["AddressId"] = op.Eip }, cancellationToken);
                return [];
            case "ReleaseAddresses":
                await client.CallAsync("vpc", op.Kind, new JsonObject { ["AddressIds"] = new JsonArray(op.Eip) }, cancellationToken);
                return [];
            case "TerminateInstances":
                await client.CallAsync("cvm", op.Kind, new JsonObject { ["InstanceIds"] = new JsonArray(op.Instance) }, cancellationToken);
                return [];
            default:
                await client.CallAsync("cvm", op.Kind, new JsonObject
                {
                    ["InstanceIds"] = new JsonArray(op.Instance),
                    ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = op.Bandwidth },
                }, cancellationToken);
                return [];
        }
    }

    /// <summary>Drives one client until the daemon dies (or <paramref name="stop"/>); unexpected refusals go to <paramref name="problems"/>.</summary>
    private static async Task DriveAsync(Worker w, ApiClient client, Random random, List<string> problems, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var op = w.Choose(random);
            w.InFlight = op;
            IReadOnlyList<string> ids;
            try
            {
                ids = await CallAsync(client, op, CancellationToken.None);
            }
            catch (HttpRequestException)
            {
                return; // the daemon died with this call in flight (or before it arrived): outcome unknown.
            }
            catch (ApiErrorException e)
            {
                lock (problems)
                {
                    problems.Add($"worker {w.Index}: {op} was refused although the rules allow it: {e.Code} {e.ApiMessage}");
                }
                w.InFlight = null;
                return;
            }
            (w.Instances, w.Eips) = w.Applied(op, ids);
            w.InFlight = null;
            w.Acknowledged++;
        }
    }

    // ----- What the daemon shows. -----

    private sealed record InstanceSeen(string Name, int Bandwidth, string? PublicIp);

    private sealed record EipSeen(string Name, string Ip, string? BoundTo);

    private static (Dictionary<string, InstanceSeen>, Dictionary<string, EipSeen>) Parse(string described)
    {
        var root = JsonDocument.Parse(described).RootElement;
        var instances = root.GetProperty("instances").EnumerateArray().ToDictionary(
            i => i.GetProperty("InstanceId").GetString()!,
            i => new InstanceSeen(i.GetProperty("InstanceName").GetString()!, i.GetProperty("InternetAccessible").GetProperty("InternetMaxBandwidthOut").GetInt32(),
                i.GetProperty("PublicIpAddresses").ValueKind == JsonValueKind.Array ? i.GetProperty("PublicIpAddresses")[0].GetString() : null),
            StringComparer.Ordinal);
        var eips = root.GetProperty("addresses").EnumerateArray().ToDictionary(
            a => a.GetProperty("AddressId").GetString()!,
            a => new EipSeen(a.GetProperty("AddressName").GetString()!, a.GetProperty("AddressIp").GetString()!, a.GetProperty("InstanceId").GetString()),
            StringComparer.Ordinal);
        return (instances, eips);
    }

    /// <summary>Reconciles every client's belief with what the restarted daemon shows; adopts the outcome of calls in flight.</summary>
    private static void Reconcile(List<Worker> workers, string described, List<string> problems, int[] inFlightOutcomes)
    {
        var (seenInstances, seenEips) = Parse(described);
        var claimedInstances = new HashSet<string>(StringComparer.Ordinal);
        var claimedEips = new HashSet<string>(StringComparer.Ordinal);

        string Project(Dictionary<string, InstanceM> ins, Dictionary<string, EipM> eips, IEnumerable<string> ids) => string.Join("; ", ids.Select(id =>
            id.StartsWith("ins-", StringComparison.Ordinal)
                ? ins.TryGetValue(id, out var m) ? $"{id} bw {m.Bandwidth} eip {m.Eip}" : $"{id} gone"
                : eips.TryGetValue(id, out var e) ? $"{id} bound {e.BoundTo}" : $"{id} gone"));
        string ProjectSeen(IEnumerable<string> ids) => string.Join("; ", ids.Select(id =>
            id.StartsWith("ins-", StringComparison.Ordinal)
                ? seenInstances.TryGetValue(id, out var s) ? $"{id} bw {s.Bandwidth} eip {seenEips.FirstOrDefault(e => e.Value.BoundTo == id).Key}" : $"{id} gone"
                : seenEips.TryGetValue(id, out var e) ? $"{id} bound {e.BoundTo}" : $"{id} gone"));

        foreach (var w in workers)
        {
            if (w.InFlight is { } op)
            {
                if (op.Kind is "RunInstances" or "AllocateAddresses")
                {
                    // One transaction: all of the new resources or none, each whole.
                    var created = op.Kind == "RunInstances"
                        ? seenInstances.Where(i => i.Value.Name == op.Name || i.Value.Name.StartsWith(op.Name + "-", StringComparison.Ordinal)).Select(i => i.Key).ToList()
                        : seenEips.Where(e => e.Value.Name == op.Name).Select(e => e.Key).ToList();
                    if (created.Count != 0 && created.Count != op.Count)
                    {
                        problems.Add($"worker {w.Index}: {op} in flight at the kill left {created.Count} of {op.Count} resources: half-applied");
                    }
                    (w.Instances, w.Eips) = w.Applied(op, created);
                    inFlightOutcomes[created.Count > 0 ? 0 : 1]++;
                    if (op.Kind == "RunInstances")
                    {
                        w.Retry = (op, created);
                    }
                }
                else
                {
                    var touched = new[] { op.Instance, op.Eip, op.Kind == "DisassociateAddress" ? w.Eips[op.Eip!].BoundTo : null, op.Kind == "TerminateInstances" ? w.Instances[op.Instance!].Eip : null }
                        .OfType<string>().Distinct().ToList();
                    var after = w.Applied(op, []);
                    string seen = ProjectSeen(touched);
                    if (seen == Project(after.Item1, after.Item2, touched))
                    {
                        (w.Instances, w.Eips) = after;
                        inFlightOutcomes[0]++; // (or a change that leaves these ids as they were, e.g. a reset to the same bandwidth)
                    }
                    else if (seen == Project(w.Instances, w.Eips, touched))
                    {
                        inFlightOutcomes[1]++;
                    }
                    else
                    {
                        problems.Add($"worker {w.Index}: {op} in flight at the kill is half-applied: the daemon shows [{seen}], neither [{Project(w.Instances, w.Eips, touched)}] nor [{Project(after.Item1, after.Item2, touched)}]");
                    }
                }
                w.InFlight = null;
            }

            // Everything acknowledged (and the adopted outcome) must be there exactly.
            foreach (var (id, m) in w.Instances.ToList())
            {
                claimedInstances.Add(id);
                if (!seenInstances.TryGetValue(id, out var s))
                {
                    problems.Add($"worker {w.Index}: acknowledged instance {id} is gone");
                    continue;
                }
                string? boundEip = seenEips.FirstOrDefault(e => e.Value.BoundTo == id).Key;
                if (s.Bandwidth != m.Bandwidth || boundEip != m.Eip)
                {
                    problems.Add($"worker {w.Index}: instance {id} shows bandwidth {s.Bandwidth} and EIP {boundEip}; acknowledged: {m.Bandwidth} and {m.Eip}");
                }
                if ((s.PublicIp is not null) != (m.Bandwidth > 0 || m.Eip is not null))
                {
                    problems.Add($"worker {w.Index}: instance {id} (bandwidth {m.Bandwidth}, EIP {m.Eip}) shows public IP {s.PublicIp ?? "none"}");
                }
                if (m.Eip is not null && seenEips.TryGetValue(m.Eip, out var eip) && s.PublicIp != eip.Ip)
                {
                    problems.Add($"worker {w.Index}: instance {id} translates from {s.PublicIp}, not from its EIP {m.Eip} ({eip.Ip})");
                }
                if (m.Eip is null && !m.IpMayHaveChanged && m.SeenIp is not null && s.PublicIp != m.SeenIp)
                {
                    problems.Add($"worker {w.Index}: instance {id}'s public IP changed from {m.SeenIp} to {s.PublicIp} although no call changed it");
                }
                w.Instances[id] = m with { SeenIp = s.PublicIp, IpMayHaveChanged = false };
            }
            foreach (var (id, m) in w.Eips.ToList())
            {
                claimedEips.Add(id);
                if (!seenEips.TryGetValue(id, out var s))
                {
                    problems.Add($"worker {w.Index}: acknowledged EIP {id} is gone");
                    continue;
                }
                if (s.BoundTo != m.BoundTo || (m.Ip is not null && s.Ip != m.Ip))
                {
                    problems.Add($"worker {w.Index}: EIP {id} shows {s.Ip} bound to {s.BoundTo}; acknowledged: {m.Ip} bound to {m.BoundTo}");
                }
                w.Eips[id] = m with { Ip = s.Ip };
            }
        }
        foreach (string id in seenInstances.Keys.Except(claimedInstances))
        {
            problems.Add($"instance {id} ({seenInstances[id].Name}) exists but no client created it");
        }
        foreach (string id in seenEips.Keys.Except(claimedEips))
        {
            problems.Add($"EIP {id} ({seenEips[id].Name}) exists but no client allocated it");
        }
    }

    // ----- The test. -----

    [Fact]
    [Trait("Category", "CrashRecovery")]
    public async Task KilledAtRandomMomentsUnderConcurrentLoad_LosesNoAcknowledgedChangeAndHalfAppliesNone()
    {
        int seed = Environment.GetEnvironmentVariable("CRASH_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
        output.WriteLine($"seed {seed} (CRASH_SEED={seed} repeats this run)");
        var random = new Random(seed);
        var workers = Enumerable.Range(0, Workers).Select(i => new Worker(i)).ToList();
        var problems = new List<string>();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Workers * 2, PooledConnectionLifetime = TimeSpan.FromSeconds(5) });
        var clock = Stopwatch.StartNew();
        string lastDescribed = "";
        int[] inFlightOutcomes = new int[2]; // applied, not applied
        int retriedKept = 0, retriedCreated = 0;

        for (int start = 0; start <= s_kills; start++)
        {
            using var daemon = await DaemonProcess.StartAsync(_state, "--eip-quota", "200"); // refuses to start unless the table equals the database
            var client = daemon.Client(http);
            lastDescribed = await StateProbe.DescribeEverythingAsync(client);
            Reconcile(workers, lastDescribed, problems, inFlightOutcomes);
            problems.AddRange(StateProbe.InvariantViolations(_state, s_members).Select(p => $"after start {start}: {p}"));
            var dbBindings = StateProbe.DatabaseBindings(_state);
            if (!dbBindings.SequenceEqual(StateProbe.DescribedBindings(lastDescribed)))
            {
                problems.Add($"after start {start}: the daemon shows other bindings than its database holds");
            }
            Assert.True(problems.Count == 0, string.Join("\n", problems));

            // A RunInstances whose answer was lost, sent again with its ClientToken: the instances the crash kept, or new
            // ones if it kept none — never a second set.
            foreach (var w in workers.Where(w => w.Retry is not null))
            {
                var (op, found) = w.Retry!.Value;
                w.Retry = null;
                var ids = await CallAsync(client, op, CancellationToken.None);
                if (found.Count > 0)
                {
                    Assert.Equal(found.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
                    retriedKept++;
                }
                else
                {
                    (w.Instances, w.Eips) = w.Applied(op, ids);
                    retriedCreated++;
                }
            }
            if (retriedKept + retriedCreated > 0)
            {
                lastDescribed = await StateProbe.DescribeEverythingAsync(client);
                Reconcile(workers, lastDescribed, problems, new int[2]);
                Assert.True(problems.Count == 0, string.Join("\n", problems));
            }
            if (start == s_kills)
            {
                Assert.Equal(0, await daemon.TerminateAsync());
                break;
            }

            int before = workers.Sum(w => w.Acknowledged);
            int target = random.Next(1000, 2500);
            using var stop = new CancellationTokenSource();
            var drivers = workers.Select(w => DriveAsync(w, daemon.Client(http), new Random(random.Next()), problems, stop.Token)).ToList();
            var epoch = Stopwatch.StartNew();
            while (workers.Sum(w => w.Acknowledged) - before < target && epoch.Elapsed < TimeSpan.FromSeconds(20) && drivers.Any(d => !d.IsCompleted))
            {
                await Task.Delay(random.Next(1, 20));
            }
            daemon.KillHard();
            stop.Cancel();
            await Task.WhenAll(drivers);
            output.WriteLine($"kill {start + 1} at {clock.Elapsed.TotalSeconds:F1} s: {workers.Sum(w => w.Acknowledged) - before} acknowledged changes in {epoch.Elapsed.TotalSeconds:F1} s, " +
                $"{workers.Count(w => w.InFlight is not null)} in flight");
        }

        int total = workers.Sum(w => w.Acknowledged);
        output.WriteLine($"{total} acknowledged changes from {Workers} clients, {s_kills} kill -9s, {clock.Elapsed.TotalSeconds:F1} s; " +
            $"calls cut off by a kill: {inFlightOutcomes[0]} found applied whole, {inFlightOutcomes[1]} found not applied, none half-applied; " +
            $"RunInstances retried with their ClientToken: {retriedKept} returned the instances the crash kept, {retriedCreated} created them then");
        Assert.True(total >= s_kills, "the clients got no changes through");

        // A fresh host on the state directory after the final stop: the table it loads equals the database and what the daemon showed.
        await using var host = await GatewayHost.StartAsync(new GatewayOptions
        {
            StateDirectory = _state,
            ApiEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            PublicPools = [Ipv4Cidr.Parse("198.51.100.0/24")],
            Subnet = Ipv4Cidr.Parse("10.2.0.0/24"),
            EipQuota = 200,
            Credentials = ApiFixture.Keys,
        }, TextWriter.Null);
        Assert.Empty(host.CheckTableAgainstStore());
        Assert.Equal(StateProbe.DescribedBindings(lastDescribed), host.Bindings.Snapshot().Select(b => b.ToString()).Order(StringComparer.Ordinal).ToList());
        Assert.Empty(StateProbe.InvariantViolations(_state, s_members));
    }
}
