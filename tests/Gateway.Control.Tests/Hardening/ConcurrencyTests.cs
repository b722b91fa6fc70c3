using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.Control.Api.Tests;
using Xunit.Abstractions;

namespace Gateway.Control.Hardening.Tests;

/// <summary>
/// Concurrent clients racing on the same EIPs and instances (associate vs disassociate vs release vs terminate vs
/// bandwidth resets). After every round the outcome must be one the rules allow — some order of the calls, run one
/// at a time, gives exactly the successes, the refusals and the final state seen — and the invariants must hold.
/// </summary>
public sealed class ConcurrencyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly PopulatedGateway _f = new();

    public Task InitializeAsync() => _f.InitializeAsync();

    public Task DisposeAsync() => _f.DisposeAsync();

    private enum Op { Associate, Disassociate, Release, Terminate, ResetZero, ResetFive }

    private sealed record Call(Op Op, int Eip, int Instance);

    /// <summary>The rules, for two instances (I0, I1) and two EIPs (E0, E1), one call at a time.</summary>
    private sealed record Model(bool[] InstanceExists, int[] Bandwidth, bool[] HasOrdinary, bool[] EipExists, int[] BoundTo)
    {
        public Model Copy() => new((bool[])InstanceExists.Clone(), (int[])Bandwidth.Clone(), (bool[])HasOrdinary.Clone(), (bool[])EipExists.Clone(), (int[])BoundTo.Clone());

        private int EipOf(int instance) => Array.IndexOf(BoundTo, instance) is var e && e >= 0 && EipExists[e] ? e : -1;

        /// <summary>Applies the call; false when the rules refuse it (and then nothing changed).</summary>
        public bool Apply(Call c)
        {
            switch (c.Op)
            {
                case Op.Associate:
                    if (!EipExists[c.Eip] || BoundTo[c.Eip] >= 0 || !InstanceExists[c.Instance] || EipOf(c.Instance) >= 0)
                    {
                        return false;
                    }
                    HasOrdinary[c.Instance] = false;
                    BoundTo[c.Eip] = c.Instance;
                    return true;
                case Op.Disassociate:
                    if (!EipExists[c.Eip] || BoundTo[c.Eip] < 0)
                    {
                        return false;
                    }
                    int owner = BoundTo[c.Eip];
                    BoundTo[c.Eip] = -1;
                    HasOrdinary[owner] = Bandwidth[owner] > 0;
                    return true;
                case Op.Release:
                    if (!EipExists[c.Eip] || BoundTo[c.Eip] >= 0)
                    {
                        return false;
                    }
                    EipExists[c.Eip] = false;
                    return true;
                case Op.Terminate:
                    if (!InstanceExists[c.Instance])
                    {
                        return false;
                    }
                    if (EipOf(c.Instance) is var bound && bound >= 0)
                    {
                        BoundTo[bound] = -1;
                    }
                    InstanceExists[c.Instance] = false;
                    HasOrdinary[c.Instance] = false;
                    return true;
                default:
                    if (!InstanceExists[c.Instance])
                    {
                        return false;
                    }
                    int bandwidth = c.Op == Op.ResetZero ? 0 : 5;
                    if (bandwidth == 0)
                    {
                        HasOrdinary[c.Instance] = false;
                    }
                    else if (Bandwidth[c.Instance] == 0 && !HasOrdinary[c.Instance] && EipOf(c.Instance) < 0)
                    {
                        HasOrdinary[c.Instance] = true;
                    }
                    Bandwidth[c.Instance] = bandwidth;
                    return true;
            }
        }

        public string Describe() =>
            $"instances {string.Join(" ", Enumerable.Range(0, 2).Select(i => InstanceExists[i] ? $"I{i}(bw {Bandwidth[i]}, ordinary {HasOrdinary[i]})" : $"I{i}(gone)"))}; " +
            $"eips {string.Join(" ", Enumerable.Range(0, 2).Select(e => EipExists[e] ? $"E{e}({(BoundTo[e] >= 0 ? "I" + BoundTo[e] : "unbound")})" : $"E{e}(gone)"))}";
    }

    [Fact]
    public async Task RacingCallsOnTheSameEipsAndInstances_EndInAStateTheRulesAllow()
    {
        int seed = CrashRecoveryTests.EnvironmentInt("RACE_SEED", Random.Shared.Next());
        output.WriteLine($"seed {seed} (RACE_SEED={seed} repeats this run)");
        var random = new Random(seed);
        var http = Enumerable.Range(0, 8).Select(_ => new HttpClient()).ToArray();
        var clients = http.Select(h => new ApiClient(h, new Uri($"http://127.0.0.1:{_f.Port}/"), ApiFixture.Keys)).ToArray();
        int rounds = CrashRecoveryTests.EnvironmentInt("RACE_ROUNDS", 30), successes = 0, refusals = 0; // RACE_ROUNDS=5000 for a long run
        try
        {
            for (int round = 0; round < rounds; round++)
            {
                var (instances, eips, model) = await SetUpRoundAsync(random);
                var calls = Enumerable.Range(0, 8).Select(_ => new Call((Op)random.Next(6), random.Next(2), random.Next(2))).ToList();

                var outcomes = await Task.WhenAll(calls.Select((call, n) => CallAsync(clients[n], call, instances, eips)));
                successes += outcomes.Count(o => o);
                refusals += outcomes.Count(o => !o);

                var actual = await ObserveAsync(instances, eips);
                Assert.True(Linearizable(model, calls, outcomes, actual),
                    $"round {round}: no order of [{string.Join(", ", calls.Select((c, n) => $"{c} -> {(outcomes[n] ? "ok" : "refused")}"))}] gives {actual.Describe()}");
                await _f.CheckedSnapshotAsync();
                await CleanUpAsync(instances, eips);
            }
        }
        finally
        {
            foreach (var h in http)
            {
                h.Dispose();
            }
        }
        output.WriteLine($"{rounds} rounds of 8 racing calls: {successes} applied, {refusals} refused by the rules");
    }

    private async Task<(string[] Instances, string[] Eips, Model Model)> SetUpRoundAsync(Random random)
    {
        int[] bandwidth = [random.Next(2) * 10, 10];
        var instances = new string[2];
        for (int i = 0; i < 2; i++)
        {
            var run = await _f.Client.CallAsync("cvm", "RunInstances", new JsonObject { ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = bandwidth[i] } });
            instances[i] = run.GetProperty("InstanceIdSet")[0].GetString()!;
        }
        var allocated = await _f.Client.CallAsync("vpc", "AllocateAddresses", new JsonObject { ["AddressCount"] = 2 });
        string[] eips = [.. allocated.GetProperty("AddressSet").EnumerateArray().Select(e => e.GetString()!)];
        int[] boundTo = [-1, -1];
        if (random.Next(2) == 0)
        {
            await _f.Client.CallAsync("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = eips[0], ["InstanceId"] = instances[0] });
            boundTo[0] = 0;
        }
        var model = new Model([true, true], bandwidth, [boundTo[0] != 0 && bandwidth[0] > 0, true], [true, true], boundTo);
        return (instances, eips, model);
    }

    private static async Task<bool> CallAsync(ApiClient client, Call call, string[] instances, string[] eips)
    {
        try
        {
            _ = call.Op switch
            {
                Op.Associate => await client.CallAsync("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = eips[call.Eip], ["InstanceId"] = instances[call.Instance] }),
                Op.Disassociate => await client.CallAsync("vpc", "DisassociateAddress", new JsonObject { ["AddressId"] = eips[call.Eip] }),
                Op.Release => await client.CallAsync("vpc", "ReleaseAddresses", new JsonObject { ["AddressIds"] = new JsonArray(eips[call.Eip]) }),
                Op.Terminate => await client.CallAsync("cvm", "TerminateInstances", new JsonObject { ["InstanceIds"] = new JsonArray(instances[call.Instance]) }),
                _ => await client.CallAsync("cvm", "ResetInstancesInternetMaxBandwidth", new JsonObject
                {
                    ["InstanceIds"] = new JsonArray(instances[call.Instance]),
                    ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = call.Op == Op.ResetZero ? 0 : 5 },
                }),
            };
            return true;
        }
        catch (ApiErrorException e) when (e.Code is not ("InternalError" or "ResourceInsufficient"))
        {
            return false;
        }
    }

    private async Task<Model> ObserveAsync(string[] instances, string[] eips)
    {
        var described = JsonDocument.Parse(await StateProbe.DescribeEverythingAsync(_f.Client)).RootElement;
        var byInstance = described.GetProperty("instances").EnumerateArray().ToDictionary(i => i.GetProperty("InstanceId").GetString()!);
        var byEip = described.GetProperty("addresses").EnumerateArray().ToDictionary(a => a.GetProperty("AddressId").GetString()!);
        var m = new Model(new bool[2], new int[2], new bool[2], new bool[2], [-1, -1]);
        for (int i = 0; i < 2; i++)
        {
            if (byInstance.TryGetValue(instances[i], out var inst))
            {
                m.InstanceExists[i] = true;
                m.Bandwidth[i] = inst.GetProperty("InternetAccessible").GetProperty("InternetMaxBandwidthOut").GetInt32();
                bool hasPublic = inst.GetProperty("PublicIpAddresses").ValueKind == JsonValueKind.Array;
                bool hasEip = byEip.Values.Any(a => a.GetProperty("InstanceId").GetString() == instances[i]);
                m.HasOrdinary[i] = hasPublic && !hasEip;
            }
        }
        for (int e = 0; e < 2; e++)
        {
            if (byEip.TryGetValue(eips[e], out var eip))
            {
                m.EipExists[e] = true;
                m.BoundTo[e] = Array.IndexOf(instances, eip.GetProperty("InstanceId").GetString());
                Assert.Equal(m.BoundTo[e] >= 0 ? "BIND" : "UNBIND", eip.GetProperty("AddressStatus").GetString());
            }
        }
        return m;
    }

    /// <summary>True when some order of the calls, applied one at a time to <paramref name="start"/>, gives every outcome seen and <paramref name="end"/>.</summary>
    private static bool Linearizable(Model start, List<Call> calls, bool[] outcomes, Model end)
    {
        bool Search(Model state, int remaining)
        {
            if (remaining == 0)
            {
                return state.Describe() == end.Describe();
            }
            for (int n = 0; n < calls.Count; n++)
            {
                if ((remaining & (1 << n)) == 0)
                {
                    continue;
                }
                var next = state.Copy();
                if (next.Apply(calls[n]) == outcomes[n] && Search(next, remaining & ~(1 << n)))
                {
                    return true;
                }
            }
            return false;
        }
        return Search(start.Copy(), (1 << calls.Count) - 1);
    }

    private async Task CleanUpAsync(string[] instances, string[] eips)
    {
        var described = JsonDocument.Parse(await StateProbe.DescribeEverythingAsync(_f.Client)).RootElement;
        var live = described.GetProperty("instances").EnumerateArray().Select(i => i.GetProperty("InstanceId").GetString()!).Intersect(instances).ToList();
        var eipsLeft = described.GetProperty("addresses").EnumerateArray().Select(a => a.GetProperty("AddressId").GetString()!).Intersect(eips).ToList();
        if (live.Count > 0)
        {
            await _f.Client.CallAsync("cvm", "TerminateInstances", new JsonObject { ["InstanceIds"] = new JsonArray([.. live.Select(i => (JsonNode)i)]) });
        }
        if (eipsLeft.Count > 0)
        {
            await _f.Client.CallAsync("vpc", "ReleaseAddresses", new JsonObject { ["AddressIds"] = new JsonArray([.. eipsLeft.Select(i => (JsonNode)i)]) });
        }
    }
}
