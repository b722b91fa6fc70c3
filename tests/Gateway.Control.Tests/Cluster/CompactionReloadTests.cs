using System.Diagnostics;
using Etcdserverpb;
using Gateway.Control.Rules;
using Gateway.Control.Store.Etcd;
using Gateway.DataPlane.Bindings;
using Gateway.Packets;
using Gateway.TestSupport;
using Xunit.Abstractions;

namespace Gateway.Control.Cluster.Tests;

/// <summary>
/// A node whose watch falls behind a compaction: it is cut off from etcd (a relay that closes its connections) while
/// another node makes changes and etcd is compacted past everything it applied. On reconnecting its watch is refused
/// as compacted, so it reads the whole state aside and swaps it in. Readers on other threads meanwhile see, per public
/// address, the old or the new binding and never neither when both had it; and the instance list whole, old or new.
/// Afterwards the node's table equals the bindings etcd holds, read by etcdctl.
/// </summary>
public sealed class CompactionReloadTests(ITestOutputHelper output)
{
    private static readonly RunInstancesCommand OneWithPublicIp = new(1, 5, true, "TRAFFIC_POSTPAID_BY_HOUR", null, "", "z", "t", "i");

    [Fact]
    [Trait("Category", "Cluster")]
    public async Task AWatchBehindACompaction_ReloadsTheWholeStateAside_ReadersSeeOldOrNew_TableEqualsEtcd()
    {
        using var etcd = EtcdTestCluster.Start(3);
        string prefix = $"/gwt-{Environment.ProcessId}-compaction/";
        var members = Ipv4Cidr.Parse("198.51.100.0/24").Hosts().ToList();
        using var proxy = new PausableTcpProxy(new Uri(etcd.EndpointList[0]));
        using var storeA = new EtcdStore(new EtcdConnection(new EtcdOptions { Endpoints = etcd.EndpointList, Prefix = prefix, NodeName = "a" }));
        using var storeB = new EtcdStore(new EtcdConnection(new EtcdOptions { Endpoints = [proxy.Url], Prefix = prefix, NodeName = "b" }));
        var (planeA, tableA) = Open(storeA, members);
        var (planeB, tableB) = Open(storeB, members);

        var first = Enumerable.Range(0, 30).Select(_ => planeA.RunInstances(OneWithPublicIp).Single()).ToList();
        Assert.True(Wait(() => planeB.ListInstances().Count == 30), "node B never caught up before the test");
        var oldBindings = Bindings(tableB);
        var oldIds = Ids(planeB);

        proxy.Pause();
        long revisionB = planeB.AppliedRevision;
        planeA.TerminateInstances(first[..15], false);
        var second = Enumerable.Range(0, 20).Select(_ => planeA.RunInstances(OneWithPublicIp).Single()).ToList();
        var (eips, _) = planeA.AllocateAddresses(5, "", 5, "TRAFFIC_POSTPAID_BY_HOUR");
        for (int i = 0; i < eips.Count; i++)
        {
            planeA.AssociateAddress(eips[i], first[15 + i]); // an existing instance's public address moves to the EIP
        }
        var newBindings = Bindings(tableA);
        var newIds = Ids(planeA);
        long head = planeA.AppliedRevision;
        var compaction = await storeA.Connection.Kv.CompactAsync(new CompactionRequest { Revision = head, Physical = true }, EtcdConnection.Headers);
        output.WriteLine($"node B applied revision {revisionB}; etcd compacted to {head} after {newIds.Count} instances and {eips.Count} EIPs changed hands");
        Assert.Equal(oldIds, Ids(planeB)); // cut off: nothing arrived

        // Readers through the reload: the data plane's view per address, the API's view as a whole.
        using var stopReading = new CancellationTokenSource();
        var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
        long tableReads = 0, stateReads = 0, sawOld = 0, sawNew = 0;
        var addresses = oldBindings.Keys.Union(newBindings.Keys).ToArray();
        var tableReader = Task.Run(() =>
        {
            while (!stopReading.IsCancellationRequested)
            {
                foreach (uint pub in addresses)
                {
                    bool inOld = oldBindings.TryGetValue(pub, out uint o), inNew = newBindings.TryGetValue(pub, out uint n);
                    bool found = tableB.TryGetPrivate(pub, out uint priv, out _);
                    if (found ? !((inOld && priv == o) || (inNew && priv == n)) : (inOld && inNew))
                    {
                        problems.Enqueue($"{Ipv4Address.Format(pub)}: {(found ? Ipv4Address.Format(priv) : "missing")} (old {(inOld ? Ipv4Address.Format(o) : "none")}, new {(inNew ? Ipv4Address.Format(n) : "none")})");
                    }
                }
                Interlocked.Increment(ref tableReads);
            }
        });
        var stateReader = Task.Run(() =>
        {
            while (!stopReading.IsCancellationRequested)
            {
                var ids = Ids(planeB);
                if (ids.SetEquals(oldIds))
                {
                    Interlocked.Increment(ref sawOld);
                }
                else if (ids.SetEquals(newIds))
                {
                    Interlocked.Increment(ref sawNew);
                }
                else
                {
                    problems.Enqueue($"the instance list had {ids.Count} instances, neither the old {oldIds.Count} nor the new {newIds.Count}");
                }
                Interlocked.Increment(ref stateReads);
            }
        });

        proxy.Resume();
        var reloaded = Stopwatch.StartNew();
        bool caughtUp = Wait(() => storeB.Reloads > 0 && Bindings(tableB).SequenceEqual(newBindings), seconds: 60);
        reloaded.Stop();
        await stopReading.CancelAsync();
        await Task.WhenAll(tableReader, stateReader);
        output.WriteLine($"node B reloaded {storeB.Reloads} time(s), caught up after {reloaded.ElapsedMilliseconds} ms (reconnect backoff included); " +
            $"readers: {tableReads} table passes, {stateReads} state reads ({sawOld} old, {sawNew} new); load {File.ReadAllText("/proc/loadavg").Trim()}");
        Assert.True(caughtUp, $"node B did not reload: reloads {storeB.Reloads}, feed problem {storeB.FeedProblem}");
        Assert.Empty(problems.Take(10));
        Assert.True(sawOld > 0 && sawNew > 0, "the state reader did not run across the swap");
        Assert.Equal(head, compaction.Header.Revision);

        // B's table, B's state and etcd's records (read by etcdctl, an independent client) agree.
        Assert.Equal(newIds, Ids(planeB));
        var inEtcd = ClusterDaemons.BindingsInEtcd(etcd.Endpoints, prefix);
        Assert.Equal(inEtcd, new SortedSet<string>(Bindings(tableB).Select(b => $"{Ipv4Address.Format(b.Key)}>{Ipv4Address.Format(b.Value)}"), StringComparer.Ordinal));
        Assert.Empty(planeB.CheckTableAgainstStore());
        Assert.True(planeB.AppliedRevision >= head);
    }

    private static (ControlPlane Plane, BindingTable Table) Open(EtcdStore store, List<uint> members)
    {
        var state = store.Load(members, Ipv4Cidr.Parse("10.5.0.0/16"), "vpc-compact0", "subnet-compact0");
        var table = new BindingTable();
        var plane = new ControlPlane(state, store, table, new ControlPlaneLimits(EipQuota: 20));
        plane.LoadTable();
        store.Start(plane, state);
        return (plane, table);
    }

    private static SortedDictionary<uint, uint> Bindings(BindingTable table) =>
        new(table.Snapshot().ToDictionary(b => b.PublicAddress, b => b.PrivateAddress));

    private static HashSet<string> Ids(ControlPlane plane) => [.. plane.ListInstances().Select(v => v.Instance.Id)];

    private static bool Wait(Func<bool> condition, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }
            Thread.Sleep(20);
        }
        return condition();
    }
}
