using System.Text;
using Gateway.Control.Model;
using Gateway.Control.Store;
using Gateway.Control.Store.Etcd;
using Gateway.DataPlane.Bindings;
using Gateway.Packets;

namespace Gateway.Control.Rules.Tests;

/// <summary>A clock the test moves by hand (power transitions end at stored times).</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>
/// A control plane over a real store and a real binding table: SQLite in a temporary directory, or the tests' etcd
/// cluster under a prefix of its own (<see cref="StoreUnderTest"/>).
/// </summary>
internal sealed class ControlPlaneFixture : IDisposable
{
    public const string DefaultPool = "198.51.100.0/29"; // 6 hosts: .1 to .6
    public const string DefaultSubnet = "10.0.0.0/24";

    private readonly string[] _pools;
    private readonly string _subnet;
    private readonly ControlPlaneLimits _limits;
    private readonly StoreUnderTest _kind;
    private readonly string _prefix = $"/gwt-{Environment.ProcessId}-{Guid.NewGuid():N}/";

    private readonly TimeProvider? _clock;

    public ControlPlaneFixture(string[]? pools = null, string subnet = DefaultSubnet, ControlPlaneLimits? limits = null, string? directory = null, StoreUnderTest? store = null, TimeProvider? clock = null)
    {
        _clock = clock;
        Directory = directory ?? Path.Combine(Path.GetTempPath(), "gw-control-" + Guid.NewGuid().ToString("N"));
        _pools = pools ?? [DefaultPool];
        _subnet = subnet;
        _limits = limits ?? new ControlPlaneLimits();
        _kind = store ?? StoreUnderTest.Sqlite;
        Open();
    }

    public string Directory { get; }
    public IControlStore Store { get; private set; } = null!;

    /// <summary>The store as SQLite (tests of SQLite itself).</summary>
    public SqliteStore Sqlite => (SqliteStore)Store;
    public ControlState State => Plane.State;
    public BindingTable Table { get; private set; } = null!;
    public ControlPlane Plane { get; private set; } = null!;
    public Gateway.DataPlane.Policing.Policer Policer { get; private set; } = null!;
    /// <summary>The events as kind and addresses (what most rules pin); <see cref="FullEvents"/> keeps ids and caps too.</summary>
    public List<ControlPlaneEvent> Events { get; } = [];

    public List<ControlPlaneEvent> FullEvents { get; } = [];

    public static uint Ip(string text) => Ipv4Address.TryParse(text, out uint ip) ? ip : throw new ArgumentException(text);

    public static string Text(uint ip) => Ipv4Address.Format(ip);

    public void Open()
    {
        Store = _kind.Etcd is { } etcd
            ? new EtcdStore(new EtcdConnection(new EtcdOptions { Endpoints = etcd.EndpointList, Prefix = _prefix, NodeName = "fixture" }))
            : SqliteStore.Open(Directory);
        var members = _pools.SelectMany(p => Ipv4Cidr.Parse(p).Hosts()).ToList();
        var state = Store.Load(members, Ipv4Cidr.Parse(_subnet), "vpc-test0001", "subnet-test0001");
        Table = new BindingTable();
        Policer = new Gateway.DataPlane.Policing.Policer();
        Plane = new ControlPlane(state, Store, Table, _limits, _clock, Policer);
        Plane.LoadTable();
        (Store as IChangeFeed)?.Start(Plane, state);
        Plane.Changed += e =>
        {
            FullEvents.Add(e);
            Events.Add(new ControlPlaneEvent(e.Kind, e.PrivateAddress, e.PublicAddress));
        };
    }

    /// <summary>Closes the store and opens everything again from disk, as a restart does.</summary>
    public void Restart()
    {
        Store.Dispose();
        Open();
    }

    public string RunOne(int bandwidth = 10, bool? publicIpAssigned = null, string? privateIp = null) =>
        Plane.RunInstances(new RunInstancesCommand(1, bandwidth, publicIpAssigned, "TRAFFIC_POSTPAID_BY_HOUR",
            privateIp is null ? null : [Ip(privateIp)], "", "zone-1", "S5.SMALL1", "img-test")).Single();

    public string AllocateOne() => Plane.AllocateAddresses(1, "", 1, "TRAFFIC_POSTPAID_BY_HOUR").AddressIds.Single();

    public InstanceView Instance(string id) => Plane.ListInstances().Single(i => i.Instance.Id == id);

    public AddressView Address(string id) => Plane.ListAddresses().Single(a => a.Address.Id == id);

    public uint? PublicIpInTable(uint privateIp) => Table.TryGetPublic(privateIp, out uint pub, out _) ? pub : null;

    /// <summary>The caps the policer holds for the binding of <paramref name="publicIp"/> (unlimited when it is not bound).</summary>
    public Gateway.DataPlane.Policing.BandwidthCaps CapsInPolicer(uint publicIp) =>
        Table.TryGetPrivate(publicIp, out _, out int id) ? Policer.CapsOf(id) : Gateway.DataPlane.Policing.BandwidthCaps.Unlimited;

    /// <summary>Everything observable: instances, EIPs, the free pool in hand-out order, the table and the database's bindings.</summary>
    public string Fingerprint()
    {
        var sb = new StringBuilder();
        foreach (var v in Plane.ListInstances())
        {
            sb.AppendLine($"I {v.Instance} pub={v.PublicIp} eip={v.AddressId}");
        }
        foreach (var a in Plane.ListAddresses())
        {
            sb.AppendLine($"A {a.Address} priv={a.PrivateIp}");
        }
        sb.AppendLine("pool " + string.Join(",", State.Pool.FreeInOrder().Select(f => $"{f.FreedSeq}:{Text(f.Ip)}")));
        sb.AppendLine("table " + string.Join(",", Table.Snapshot().Select(b => b.ToString()).Order(StringComparer.Ordinal)));
        sb.AppendLine("caps " + string.Join(",", Table.Snapshot().Select(b => $"{Text(b.PublicAddress)}:{CapsInPolicer(b.PublicAddress)}").Order(StringComparer.Ordinal)));
        sb.AppendLine("db " + string.Join(",", Store.ReadBindings().Select(b => $"{Text(b.PublicIp)}>{Text(b.PrivateIp)}").Order(StringComparer.Ordinal)));
        sb.AppendLine($"seq {State.NextSeq} task {State.NextTaskId}");
        return sb.ToString();
    }

    /// <summary>Runs a request that must be refused with <paramref name="code"/> and checks that nothing changed.</summary>
    public ApiException AssertRejected(string code, Action request)
    {
        string before = Fingerprint();
        int events = Events.Count;
        var e = Assert.Throws<ApiException>(request);
        Assert.Equal(code, e.Code);
        Assert.Equal(before, Fingerprint());
        Assert.Equal(events, Events.Count);
        // And on disk: a restart shows the same state.
        Restart();
        Assert.Equal(before, Fingerprint());
        return e;
    }

    public void Dispose()
    {
        Store.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Which store a rules suite runs on: the same tests, one subclass per store.</summary>
public sealed class StoreUnderTest
{
    private StoreUnderTest(string name, Gateway.TestSupport.EtcdTestCluster? etcd)
    {
        Name = name;
        Etcd = etcd;
    }

    public static StoreUnderTest Sqlite { get; } = new("sqlite", null);

    public static StoreUnderTest OnEtcd(Gateway.TestSupport.EtcdTestCluster etcd) => new("etcd", etcd);

    public string Name { get; }

    public Gateway.TestSupport.EtcdTestCluster? Etcd { get; }

    public override string ToString() => Name;
}

/// <summary>One 3-member etcd cluster for every test of the etcd collection.</summary>
public sealed class EtcdFixture : IDisposable
{
    public const string Collection = "etcd";

    public Gateway.TestSupport.EtcdTestCluster Cluster { get; } = Gateway.TestSupport.EtcdTestCluster.Start(3);

    public StoreUnderTest Store => StoreUnderTest.OnEtcd(Cluster);

    public void Dispose() => Cluster.Dispose();
}

[CollectionDefinition(EtcdFixture.Collection)]
public sealed class EtcdCluster : ICollectionFixture<EtcdFixture>;
