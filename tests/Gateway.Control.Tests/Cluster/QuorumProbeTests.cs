using System.Diagnostics;
using Gateway.Control.Store.Etcd;
using Gateway.TestSupport;
using Xunit.Abstractions;

namespace Gateway.Control.Cluster.Tests;

/// <summary>The proof a lone active node needs to keep forwarding without etcd: asked of a real 3-member cluster.</summary>
public sealed class QuorumProbeTests(ITestOutputHelper output)
{
    [Fact]
    [Trait("Category", "Cluster")]
    public async Task TwoOfThreeMembersDown_IsProvenNoQuorum_AllUpOrOneDownIsNot()
    {
        using var etcd = EtcdTestCluster.Start(3);
        using var connection = new EtcdConnection(new EtcdOptions { Endpoints = etcd.EndpointList, Prefix = $"/gwt-{Environment.ProcessId}-probe/" });
        using var probe = new QuorumProbe(connection);
        Assert.False(await probe.NoQuorumAsync(CancellationToken.None)); // members not learnt: nothing can be proven
        await probe.LearnMembersAsync(CancellationToken.None);
        Assert.False(await probe.NoQuorumAsync(CancellationToken.None));

        etcd.Kill(2);
        await Task.Delay(1500); // past the election timeout: the survivors keep (or elect) a leader
        Assert.False(await probe.NoQuorumAsync(CancellationToken.None), "one member of three down still leaves a quorum");

        etcd.Kill(1);
        var waited = Stopwatch.StartNew();
        bool proven = false;
        while (!proven && waited.Elapsed < TimeSpan.FromSeconds(15))
        {
            proven = await probe.NoQuorumAsync(CancellationToken.None);
            await Task.Delay(50);
        }
        output.WriteLine($"no quorum proven after {waited.ElapsedMilliseconds} ms (the last member steps down once it misses its quorum for an election timeout)");
        Assert.True(proven, "two of three members down, the third leaderless: no quorum, but the probe did not prove it");

        // Quorum back: once the restarted member has heard the leader, nothing is proven any more. (Until then the
        // proof still holds in the sense that matters: a leader elected meanwhile extends every lease by its TTL.)
        etcd.Restart(1);
        etcd.WaitHealthy(TimeSpan.FromSeconds(30));
        waited.Restart();
        while (proven && waited.Elapsed < TimeSpan.FromSeconds(15))
        {
            proven = await probe.NoQuorumAsync(CancellationToken.None);
            await Task.Delay(50);
        }
        Assert.False(proven, "quorum is back, yet the probe still proves it lost");
    }
}
