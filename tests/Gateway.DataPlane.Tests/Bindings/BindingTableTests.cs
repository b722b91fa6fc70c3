using Gateway.Packets;

namespace Gateway.DataPlane.Bindings.Tests;

public class BindingTableTests
{
    private static uint Ip(string text) => Ipv4Address.TryParse(text, out uint a) ? a : throw new ArgumentException(text);

    private static readonly uint s_p1 = Ip("198.51.100.1"), s_p2 = Ip("198.51.100.2"), s_p3 = Ip("198.51.100.3");
    private static readonly uint s_v1 = Ip("10.0.0.1"), s_v2 = Ip("10.0.0.2"), s_v3 = Ip("10.0.0.3");

    private static void AssertBound(BindingTable table, uint publicAddress, uint privateAddress, int id)
    {
        Assert.True(table.TryGetPrivate(publicAddress, out uint privateFound, out int inboundId));
        Assert.Equal(privateAddress, privateFound);
        Assert.Equal(id, inboundId);
        Assert.True(table.TryGetPublic(privateAddress, out uint publicFound, out int outboundId));
        Assert.Equal(publicAddress, publicFound);
        Assert.Equal(id, outboundId);
        Assert.True(table.TryGetBinding(id, out var binding));
        Assert.Equal(new Binding(publicAddress, privateAddress), binding);
    }

    private static void AssertPublicUnbound(BindingTable table, uint publicAddress)
    {
        Assert.False(table.TryGetPrivate(publicAddress, out uint value, out int id));
        Assert.Equal(0u, value);
        Assert.Equal(-1, id);
    }

    private static void AssertPrivateUnbound(BindingTable table, uint privateAddress)
    {
        Assert.False(table.TryGetPublic(privateAddress, out _, out _));
        Assert.False(table.IsPrivateBound(privateAddress));
    }

    [Fact]
    public void Bind_NewPair_IsFoundBothWays_WithOneId()
    {
        var table = new BindingTable();
        int id = table.Bind(s_p1, s_v1);

        AssertBound(table, s_p1, s_v1, id);
        Assert.Equal(1, table.Count);
        Assert.True(table.IsPrivateBound(s_v1));
    }

    [Fact]
    public void Bind_SamePairAgain_ChangesNothingAndKeepsTheId()
    {
        var table = new BindingTable();
        int id = table.Bind(s_p1, s_v1);
        Assert.Equal(id, table.Bind(s_p1, s_v1));
        Assert.Equal(1, table.Count);
        AssertBound(table, s_p1, s_v1, id);
    }

    [Fact]
    public void Bind_DistinctPairs_GetDistinctIds()
    {
        var table = new BindingTable();
        int a = table.Bind(s_p1, s_v1), b = table.Bind(s_p2, s_v2), c = table.Bind(s_p3, s_v3);
        Assert.Equal(3, new[] { a, b, c }.Distinct().Count());
        Assert.Equal(3, table.Count);
        Assert.True(table.IdLimit >= 3);
    }

    [Fact]
    public void Bind_PublicAlreadyBound_MovesItToTheNewPrivate_AndTheOldPrivateNoLongerLeavesAsIt()
    {
        // An EIP moving to another instance.
        var table = new BindingTable();
        int oldId = table.Bind(s_p1, s_v1);
        int newId = table.Bind(s_p1, s_v2);

        AssertBound(table, s_p1, s_v2, newId);
        AssertPrivateUnbound(table, s_v1);
        Assert.Equal(1, table.Count);
        Assert.NotEqual(oldId, newId);
        Assert.False(table.TryGetBinding(oldId, out _));
    }

    [Fact]
    public void Bind_PrivateAlreadyBound_TradesItsPublic_AndTheOldPublicStopsAnswering()
    {
        // An instance trading its public IP for an EIP.
        var table = new BindingTable();
        int oldId = table.Bind(s_p1, s_v1);
        int newId = table.Bind(s_p2, s_v1);

        AssertBound(table, s_p2, s_v1, newId);
        AssertPublicUnbound(table, s_p1);
        Assert.Equal(1, table.Count);
        Assert.False(table.TryGetBinding(oldId, out _));
    }

    [Fact]
    public void Bind_BothSidesBoundElsewhere_EndsBothOldBindings()
    {
        var table = new BindingTable();
        table.Bind(s_p1, s_v1);
        table.Bind(s_p2, s_v2);
        int id = table.Bind(s_p1, s_v2);

        AssertBound(table, s_p1, s_v2, id);
        AssertPublicUnbound(table, s_p2);
        AssertPrivateUnbound(table, s_v1);
        Assert.Equal(1, table.Count);
        Assert.Equal([new Binding(s_p1, s_v2)], table.Snapshot());
    }

    [Fact]
    public void Bind_SwapTwoBindings_LeavesEachPublicOnTheOtherPrivate()
    {
        var table = new BindingTable();
        table.Bind(s_p1, s_v1);
        table.Bind(s_p2, s_v2);
        int a = table.Bind(s_p1, s_v2); // ends p1↔v1 and p2↔v2
        int b = table.Bind(s_p2, s_v1);

        AssertBound(table, s_p1, s_v2, a);
        AssertBound(table, s_p2, s_v1, b);
        Assert.Equal(2, table.Count);
    }

    [Fact]
    public void UnbindPublic_RemovesBothDirections_AndSaysWhetherItWasBound()
    {
        var table = new BindingTable();
        int id = table.Bind(s_p1, s_v1);
        table.Bind(s_p2, s_v2);

        Assert.True(table.UnbindPublic(s_p1));
        Assert.False(table.UnbindPublic(s_p1));
        Assert.False(table.UnbindPublic(s_p3));

        AssertPublicUnbound(table, s_p1);
        AssertPrivateUnbound(table, s_v1);
        Assert.False(table.TryGetBinding(id, out _));
        Assert.Equal(1, table.Count);
        Assert.True(table.TryGetPrivate(s_p2, out _, out _));
    }

    [Fact]
    public void UnbindPrivate_RemovesBothDirections_AndSaysWhetherItWasBound()
    {
        var table = new BindingTable();
        table.Bind(s_p1, s_v1);
        Assert.True(table.UnbindPrivate(s_v1));
        Assert.False(table.UnbindPrivate(s_v1));
        AssertPublicUnbound(table, s_p1);
        AssertPrivateUnbound(table, s_v1);
        Assert.Equal(0, table.Count);
    }

    [Theory]
    [InlineData("0.0.0.0", "10.0.0.1")]
    [InlineData("255.255.255.255", "10.0.0.1")]
    [InlineData("198.51.100.1", "0.0.0.0")]
    [InlineData("198.51.100.1", "255.255.255.255")]
    public void Bind_AddressThatIsNotAHost_IsRefusedWithTheAddressInTheMessage(string publicAddress, string privateAddress)
    {
        var table = new BindingTable();
        var e = Assert.Throws<ArgumentException>(() => table.Bind(Ip(publicAddress), Ip(privateAddress)));
        Assert.Contains(publicAddress == "198.51.100.1" ? privateAddress : publicAddress, e.Message, StringComparison.Ordinal);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void LookupOfAddressesNeverBound_IsFalse_IncludingTheSentinelValues()
    {
        var table = new BindingTable();
        table.Bind(s_p1, s_v1);
        AssertPublicUnbound(table, 0);
        AssertPublicUnbound(table, uint.MaxValue);
        AssertPrivateUnbound(table, 0);
        AssertPrivateUnbound(table, uint.MaxValue);
        AssertPublicUnbound(table, s_v1); // a private address is not a public key
    }

    [Fact]
    public void LookupOfTheSentinelAddresses_AfterUnbindsLeftTombstones_IsFalse()
    {
        var table = new BindingTable(16);
        for (uint i = 1; i <= 10; i++)
        {
            table.Bind(0xC6336400 + i, 0x0A000000 + i);
        }
        for (uint i = 1; i <= 10; i++)
        {
            table.UnbindPublic(0xC6336400 + i);
        }
        // 255.255.255.255 is the tombstone key and 0.0.0.0 the empty key: neither may "find" a slot.
        AssertPublicUnbound(table, uint.MaxValue);
        AssertPrivateUnbound(table, uint.MaxValue);
        AssertPublicUnbound(table, 0);
        AssertPrivateUnbound(table, 0);
    }

    [Fact]
    public void FreedIds_AreReusedOnlyAfterAQuarantine_OldestFirst()
    {
        var table = new BindingTable();
        var first = new List<int>();
        for (uint i = 1; i <= 100; i++)
        {
            first.Add(table.Bind(0xC6336400 + i, 0x0A000000 + i));
        }
        Assert.Equal(Enumerable.Range(0, 100), first);

        // Free 100 ids in order. While at least 64 freed ids wait, the oldest comes back first (37 of them here);
        // the last 63 freed stay in quarantine and new ids are handed out instead.
        for (uint i = 1; i <= 100; i++)
        {
            table.UnbindPublic(0xC6336400 + i);
        }
        var reused = new List<int>();
        for (uint i = 1; i <= 40; i++)
        {
            reused.Add(table.Bind(0xCB007100 + i, 0x0A010000 + i));
        }
        Assert.Equal(Enumerable.Range(0, 37).Concat(Enumerable.Range(100, 3)), reused);
    }

    [Fact]
    public void TryGetBinding_OutOfRangeOrFreedId_IsFalse()
    {
        var table = new BindingTable();
        int id = table.Bind(s_p1, s_v1);
        Assert.False(table.TryGetBinding(-1, out _));
        Assert.False(table.TryGetBinding(id + 1, out _));
        Assert.False(table.TryGetBinding(int.MaxValue, out _));
        table.UnbindPublic(s_p1);
        Assert.False(table.TryGetBinding(id, out _));
    }

    [Fact]
    public void Snapshot_ListsEveryBindingOnce()
    {
        var table = new BindingTable(4);
        var expected = new HashSet<Binding>();
        for (uint i = 1; i <= 1000; i++)
        {
            table.Bind(0xCB000000 + i, 0x0A000000 + i);
            expected.Add(new Binding(0xCB000000 + i, 0x0A000000 + i));
        }
        for (uint i = 1; i <= 1000; i += 3)
        {
            table.UnbindPublic(0xCB000000 + i);
            expected.Remove(new Binding(0xCB000000 + i, 0x0A000000 + i));
        }
        var snapshot = table.Snapshot();
        Assert.Equal(expected.Count, snapshot.Count);
        Assert.Equal(expected, snapshot.ToHashSet());
        Assert.Equal(expected.Count, table.Count);
    }

    [Fact]
    public void Clear_RemovesEverything_AndIdsStartAgain()
    {
        var table = new BindingTable();
        table.Bind(s_p1, s_v1);
        table.Bind(s_p2, s_v2);
        table.Clear();

        Assert.Equal(0, table.Count);
        Assert.Empty(table.Snapshot());
        AssertPublicUnbound(table, s_p1);
        AssertPrivateUnbound(table, s_v2);
        Assert.Equal(0, table.Bind(s_p3, s_v3));
    }

    [Fact]
    public void ManyBindAndUnbindCycles_LeaveTombstonesThatNeverHideALiveBinding()
    {
        // A small table churned far past its capacity: tombstones accumulate and force rebuilds.
        var table = new BindingTable(8);
        var live = new Dictionary<uint, uint>();
        var random = new Random(42);
        for (int step = 0; step < 200_000; step++)
        {
            uint publicAddress = 0xC6336400 + (uint)random.Next(1, 64);
            if (random.Next(3) == 0)
            {
                Assert.Equal(live.Remove(publicAddress), table.UnbindPublic(publicAddress));
            }
            else
            {
                uint privateAddress = 0x0A000000 + (uint)random.Next(1, 64);
                foreach (var stale in live.Where(kv => kv.Value == privateAddress).Select(kv => kv.Key).ToList())
                {
                    live.Remove(stale);
                }
                live[publicAddress] = privateAddress;
                table.Bind(publicAddress, privateAddress);
            }
            if (step % 997 == 0)
            {
                Assert.Equal(live.Count, table.Count);
                for (uint p = 0xC6336401; p < 0xC6336440; p++)
                {
                    Assert.Equal(live.TryGetValue(p, out uint v), table.TryGetPrivate(p, out uint found, out _));
                    Assert.Equal(v, found);
                }
            }
        }
        Assert.Equal(live.Select(kv => new Binding(kv.Key, kv.Value)).ToHashSet(), table.Snapshot().ToHashSet());
        foreach (var (p, v) in live)
        {
            Assert.True(table.TryGetPublic(v, out uint back, out _));
            Assert.Equal(p, back);
        }
    }

    [Fact]
    public void BindingToString_ShowsBothAddresses()
    {
        Assert.Equal("198.51.100.1 <-> 10.0.0.1", new Binding(s_p1, s_v1).ToString());
    }
}
