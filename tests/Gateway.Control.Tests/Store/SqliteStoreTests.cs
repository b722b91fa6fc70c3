using Gateway.Control.Rules;
using Gateway.Control.Rules.Tests;
using static Gateway.Control.Rules.Tests.ControlPlaneFixture;

namespace Gateway.Control.Store.Tests;

public sealed class SqliteStoreTests
{
    [Fact]
    public void Restart_RestoresInstancesEipsPoolOrderAndTheTable()
    {
        using var f = new ControlPlaneFixture();
        string a = f.RunOne();
        string b = f.RunOne(bandwidth: 0);
        string eip = f.AllocateOne();
        f.Plane.AssociateAddress(eip, a);
        f.Plane.AllocateAddresses(1, "spare", 1, "T");
        string before = f.Fingerprint();

        f.Restart();

        Assert.Equal(before, f.Fingerprint());
        Assert.Equal(f.Address(eip).Address.Ip, f.PublicIpInTable(f.Instance(a).Instance.PrivateIp));
        Assert.Null(f.Instance(b).PublicIp);
        Assert.Empty(f.Plane.CheckTableAgainstStore());
    }

    [Fact]
    public void StoreDatabase_IsInWalModeWithFullSync()
    {
        using var f = new ControlPlaneFixture();
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={f.Sqlite.Path};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", cmd.ExecuteScalar());
    }

    [Fact]
    public void CheckTableAgainstStore_ReportsATableThatDrifted()
    {
        using var f = new ControlPlaneFixture();
        string a = f.RunOne();
        uint priv = f.Instance(a).Instance.PrivateIp;

        f.Table.Bind(Ip("203.0.113.99"), priv);

        var problems = f.Plane.CheckTableAgainstStore();
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains("203.0.113.99", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_WithAWiderPool_AddsTheNewAddressesAsFree()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gw-control-" + Guid.NewGuid().ToString("N"));
        using (var f = new ControlPlaneFixture(pools: ["198.51.100.0/30"], directory: dir))
        {
            f.RunOne();
            f.Store.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            using var g = new ControlPlaneFixture(pools: ["198.51.100.0/30", "203.0.113.0/30"], directory: dir);
            Assert.Equal(3, g.State.Pool.FreeCount); // .2 of the first, .1 and .2 of the second
            Assert.Single(g.Plane.ListInstances());
        }
    }

    [Fact]
    public void Load_WithAPoolThatNoLongerNamesAHeldAddress_KeepsItHeld()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gw-control-" + Guid.NewGuid().ToString("N"));
        using var f = new ControlPlaneFixture(pools: ["198.51.100.0/30"], directory: dir);
        string a = f.RunOne();
        uint held = f.Instance(a).PublicIp!.Value;
        f.Store.Dispose();

        using var g = new ControlPlaneFixture(pools: ["203.0.113.0/30"], directory: dir);

        Assert.Equal(held, g.Instance(a).PublicIp);
        Assert.Equal(held, g.PublicIpInTable(g.Instance(a).Instance.PrivateIp));
        Assert.Equal(2, g.State.Pool.FreeCount);
        // Terminating it does not put the foreign address into the new pool.
        g.Plane.TerminateInstances([a], false);
        Assert.False(g.State.Pool.IsFree(held));
    }
}
