using Gateway.Control.Model;
using Microsoft.Data.Sqlite;
using static Gateway.Control.Rules.Tests.ControlPlaneFixture;

namespace Gateway.Control.Rules.Tests;

/// <summary>
/// Instance power states and their public-IP consequences: STOP_CHARGING releases the ordinary public IP (back to the
/// pool, behind every free address) and start assigns a new one; KEEP_CHARGING keeps it; an EIP stays bound; a stopped
/// instance's binding leaves the table and comes back on start. Refusals change nothing, on disk either.
/// </summary>
public abstract class PowerRulesTests : IDisposable
{
    private static readonly TimeSpan s_transition = TimeSpan.FromSeconds(10);
    private readonly ManualClock _clock = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ControlPlaneFixture _f;

    private readonly StoreUnderTest _store;

    protected PowerRulesTests(StoreUnderTest store)
    {
        _store = store;
        _f = new ControlPlaneFixture(clock: _clock, store: store);
    }

    public void Dispose()
    {
        _f.Dispose();
        GC.SuppressFinalize(this);
    }

    private void Stop(string id, string mode, string stopType = "SOFT") => _f.Plane.StopInstances([id], stopType, mode, "req-stop");

    private void Start(string id) => _f.Plane.StartInstances([id], "req-start");

    private string StateOf(string id) => _f.Instance(id).State;

    [Fact]
    public void StopKeepCharging_KeepsTheAddressButTakesTheBindingOutOfTheTable_AndStartPutsItBack()
    {
        string id = _f.RunOne();
        var before = _f.Instance(id);
        _f.Events.Clear();

        Stop(id, StopModes.KeepCharging);

        var stopped = _f.Instance(id);
        Assert.Equal(InstanceStates.Stopped, stopped.State);
        Assert.Equal(StopModes.KeepCharging, stopped.Instance.StopMode);
        Assert.Equal(before.PublicIp, stopped.PublicIp);              // still held: DescribeInstances shows it
        Assert.Null(_f.PublicIpInTable(before.Instance.PrivateIp));    // but nothing translates to a stopped instance
        Assert.Equal(5, _f.State.Pool.FreeCount);
        Assert.Equal([new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressUnbound, Ip("10.0.0.2"), before.PublicIp!.Value)], _f.Events);
        Assert.Equal("StopInstances", stopped.Instance.LatestOperation);
        Assert.Equal("req-stop", stopped.Instance.LatestOperationRequestId);

        _f.Events.Clear();
        Start(id);

        var started = _f.Instance(id);
        Assert.Equal(InstanceStates.Running, started.State);
        Assert.Equal(before.PublicIp, started.PublicIp);
        Assert.Equal(before.PublicIp, _f.PublicIpInTable(before.Instance.PrivateIp));
        Assert.Equal("", started.Instance.StopMode);
        Assert.Equal([new ControlPlaneEvent(ControlPlaneEventKind.PublicAddressBound, Ip("10.0.0.2"), before.PublicIp!.Value)], _f.Events);
    }

    [Fact]
    public void StopCharging_ReleasesTheAddressToTheBackOfThePool_AndStartAssignsANewOne()
    {
        string id = _f.RunOne();                   // 198.51.100.1
        Stop(id, StopModes.StopCharging);

        var stopped = _f.Instance(id);
        Assert.Null(stopped.PublicIp);
        Assert.Null(stopped.Instance.OrdinaryPublicIp);
        Assert.Equal(6, _f.State.Pool.FreeCount);
        Assert.Equal(Ip("198.51.100.1"), _f.State.Pool.FreeInOrder().Last().Ip); // released: handed out last
        Assert.Equal(0, _f.Table.Count);

        string other = _f.RunOne();                // takes .2, not the released .1
        Assert.Equal(Ip("198.51.100.2"), _f.Instance(other).PublicIp);

        Start(id);

        var started = _f.Instance(id);
        Assert.Equal(Ip("198.51.100.3"), started.PublicIp);  // a new address, not the one it had
        Assert.Equal(Ip("198.51.100.3"), _f.PublicIpInTable(Ip("10.0.0.2")));
        Assert.False(started.Instance.PublicIpOnStart);
    }

    [Fact]
    public void StopCharging_WhenTheReleasedAddressIsTheOnlyFreeOne_GetsItBackOnStart()
    {
        using var f = new ControlPlaneFixture(pools: ["203.0.113.8/31"], store: _store); // two addresses
        string a = f.RunOne();
        f.RunOne();
        f.Plane.StopInstances([a], "SOFT", StopModes.StopCharging, null);
        f.Plane.StartInstances([a], null);

        Assert.Equal(Ip("203.0.113.8"), f.Instance(a).PublicIp);
    }

    [Fact]
    public void StartAfterStopCharging_WithAnEmptyPool_IsRefusedUnchanged()
    {
        using var f = new ControlPlaneFixture(pools: ["203.0.113.8/31"], store: _store);
        string a = f.RunOne();
        f.Plane.StopInstances([a], "SOFT", StopModes.StopCharging, null);
        f.RunOne();
        f.RunOne(); // the pool is empty now

        f.AssertRejected(ErrorCodes.EipInsufficient, () => f.Plane.StartInstances([a], null));
        Assert.Equal(InstanceStates.Stopped, f.Instance(a).State);
    }

    [Theory]
    [InlineData(StopModes.KeepCharging)]
    [InlineData(StopModes.StopCharging)]
    public void Stop_WithAnEip_KeepsItBoundInEveryMode_AndStartBindsItAgain(string mode)
    {
        string id = _f.RunOne();
        string eip = _f.AllocateOne();
        _f.Plane.AssociateAddress(eip, id);
        uint eipIp = _f.Address(eip).Address.Ip;
        int free = _f.State.Pool.FreeCount;

        Stop(id, mode);

        Assert.Equal(id, _f.Address(eip).Address.InstanceId);
        Assert.Equal(eipIp, _f.Instance(id).PublicIp);
        Assert.Null(_f.PublicIpInTable(Ip("10.0.0.2")));
        Assert.Equal(free, _f.State.Pool.FreeCount);

        Start(id);

        Assert.Equal(eipIp, _f.PublicIpInTable(Ip("10.0.0.2")));
        Assert.Equal(free, _f.State.Pool.FreeCount);
    }

    [Fact]
    public void DisassociateWhileStoppedWithoutCharging_LeavesNoAddressUntilStartGivesOne()
    {
        string id = _f.RunOne();
        string eip = _f.AllocateOne();
        _f.Plane.AssociateAddress(eip, id);
        Stop(id, StopModes.StopCharging);
        int free = _f.State.Pool.FreeCount;

        _f.Plane.DisassociateAddress(eip, reallocateNormalPublicIp: null);

        Assert.Null(_f.Instance(id).PublicIp);
        Assert.Equal(free, _f.State.Pool.FreeCount);
        Start(id);
        Assert.NotNull(_f.Instance(id).PublicIp);
        Assert.Equal(_f.Instance(id).PublicIp, _f.PublicIpInTable(Ip("10.0.0.2")));
    }

    [Fact]
    public void BandwidthChangesWhileStoppedWithoutCharging_DecideWhetherStartAssignsAnAddress()
    {
        string id = _f.RunOne();
        Stop(id, StopModes.StopCharging);

        _f.Plane.ResetInternetMaxBandwidth([id], 0);
        Start(id);
        Assert.Null(_f.Instance(id).PublicIp);

        Stop(id, StopModes.StopCharging);
        _f.Plane.ResetInternetMaxBandwidth([id], 20);
        Assert.Null(_f.Instance(id).PublicIp); // nothing while stopped
        Start(id);
        Assert.NotNull(_f.Instance(id).PublicIp);
    }

    [Fact]
    public void Reboot_KeepsAddressAndBinding()
    {
        string id = _f.RunOne();
        var before = _f.Fingerprint();
        _f.Plane.RebootInstances([id], "SOFT_FIRST", "req-reboot");

        Assert.Equal(InstanceStates.Running, StateOf(id));
        Assert.Equal(Ip("198.51.100.1"), _f.PublicIpInTable(Ip("10.0.0.2")));
        Assert.Equal("RebootInstances", _f.Instance(id).Instance.LatestOperation);
        Assert.NotEqual(before, _f.Fingerprint());
    }

    // ----- Wrong states, unknown ids, bad values: refused, nothing changes (also on disk). -----

    [Fact]
    public void StartingARunningInstance_IsRefusedWithInstanceStateRunning()
    {
        string id = _f.RunOne();
        _f.AssertRejected("UnsupportedOperation.InstanceStateRunning", () => Start(id));
    }

    [Fact]
    public void StoppingOrRebootingAStoppedInstance_IsRefusedWithInstanceStateStopped()
    {
        string id = _f.RunOne();
        Stop(id, StopModes.KeepCharging);
        _f.AssertRejected("UnsupportedOperation.InstanceStateStopped", () => Stop(id, StopModes.StopCharging));
        _f.AssertRejected("UnsupportedOperation.InstanceStateStopped", () => _f.Plane.RebootInstances([id], "SOFT", null));
    }

    [Fact]
    public void ABatchWithOneInstanceInTheWrongState_IsRefusedWhole()
    {
        string a = _f.RunOne();
        string b = _f.RunOne();
        Stop(b, StopModes.StopCharging);

        _f.AssertRejected("UnsupportedOperation.InstanceStateStopped", () => _f.Plane.StopInstances([a, b], "SOFT", StopModes.StopCharging, null));
        Assert.Equal(InstanceStates.Running, StateOf(a));
    }

    [Fact]
    public void UnknownAndMalformedIds_AreRefusedUnchanged()
    {
        _f.RunOne();
        _f.AssertRejected(ErrorCodes.InstanceIdNotFound, () => Stop("ins-zzzzzzzz", StopModes.KeepCharging));
        _f.AssertRejected(ErrorCodes.InstanceIdMalformed, () => Start("ins-1"));
        _f.AssertRejected(ErrorCodes.MissingParameter, () => _f.Plane.RebootInstances([], "SOFT", null));
    }

    [Theory]
    [InlineData("SOFT", "NO_CHARGING")]
    [InlineData("GENTLE", StopModes.KeepCharging)]
    [InlineData("soft", StopModes.KeepCharging)]
    public void BadStopTypeOrMode_IsInvalidParameterValueUnchanged(string stopType, string mode)
    {
        string id = _f.RunOne();
        _f.AssertRejected(ErrorCodes.InvalidParameterValue, () => Stop(id, mode, stopType));
    }

    // ----- Transitional states, with a clock the test moves. -----

    [Fact]
    public void Transitions_ReadAsTheCloudsThenSettle_AndOperationsInThemAreRefused()
    {
        using var f = new ControlPlaneFixture(limits: new ControlPlaneLimits { TransitionTime = s_transition }, clock: _clock, store: _store);
        string id = f.RunOne();
        Assert.Equal(InstanceStates.Pending, f.Instance(id).State);
        Assert.Equal("OPERATING", f.Instance(id).LatestOperationState);
        Assert.Equal(Ip("198.51.100.1"), f.PublicIpInTable(Ip("10.0.0.2"))); // the binding is there from the start
        f.AssertRejected("UnsupportedOperation.InstanceStatePending", () => f.Plane.StopInstances([id], "SOFT", StopModes.KeepCharging, null));
        f.AssertRejected("UnsupportedOperation.InstanceStatePending", () => f.Plane.TerminateInstances([id], false));

        _clock.Advance(s_transition);
        Assert.Equal(InstanceStates.Running, f.Instance(id).State);
        Assert.Equal("SUCCESS", f.Instance(id).LatestOperationState);

        f.Plane.StopInstances([id], "HARD", StopModes.StopCharging, null);
        Assert.Equal(InstanceStates.Stopping, f.Instance(id).State);
        Assert.Null(f.PublicIpInTable(Ip("10.0.0.2")));        // effects are immediate
        f.AssertRejected("UnsupportedOperation.InstanceStateStopping", () => f.Plane.StartInstances([id], null));
        f.AssertRejected("UnsupportedOperation.InstanceStateStopping", () => f.Plane.ResetInternetMaxBandwidth([id], 3));

        _clock.Advance(s_transition);
        f.Plane.StartInstances([id], null);
        Assert.Equal(InstanceStates.Starting, f.Instance(id).State);
        Assert.NotNull(f.PublicIpInTable(Ip("10.0.0.2")));
        f.AssertRejected("UnsupportedOperation.InstanceStateStarting", () => f.Plane.RebootInstances([id], "SOFT", null));

        _clock.Advance(s_transition);
        f.Plane.RebootInstances([id], "SOFT", null);
        Assert.Equal(InstanceStates.Rebooting, f.Instance(id).State);
        f.AssertRejected("UnsupportedOperation.InstanceStateRebooting", () => f.Plane.StopInstances([id], "SOFT", StopModes.KeepCharging, null));
        _clock.Advance(s_transition);
        Assert.Equal(InstanceStates.Running, f.Instance(id).State);
    }

    [Fact]
    public void ATransitionInProgress_SurvivesARestart_AndEndsAtItsTime()
    {
        using var f = new ControlPlaneFixture(limits: new ControlPlaneLimits { TransitionTime = s_transition }, clock: _clock, store: _store);
        string id = f.RunOne();
        _clock.Advance(s_transition);
        f.Plane.StopInstances([id], "SOFT", StopModes.StopCharging, "req-1");
        string before = f.Fingerprint();

        f.Restart();

        Assert.Equal(before, f.Fingerprint());
        Assert.Equal(InstanceStates.Stopping, f.Instance(id).State);
        Assert.Equal(0, f.Table.Count);
        _clock.Advance(s_transition);
        Assert.Equal(InstanceStates.Stopped, f.Instance(id).State);
        Assert.Equal("req-1", f.Instance(id).Instance.LatestOperationRequestId);
    }

    // ----- Names. -----

    [Fact]
    public void RenameInstances_ChangesTheNameInAnyState_AndRefusesOver60Characters()
    {
        string id = _f.RunOne();
        Stop(id, StopModes.StopCharging);

        _f.Plane.RenameInstances([id], "db-primary");

        Assert.Equal("db-primary", _f.Instance(id).Instance.Name);
        _f.AssertRejected(ErrorCodes.InstanceNameTooLong, () => _f.Plane.RenameInstances([id], new string('n', 61)));
        _f.Restart();
        Assert.Equal("db-primary", _f.Instance(id).Instance.Name);
    }

    [Fact]
    public void RenameAddress_ChangesTheName_AndRefusesUnknownIds()
    {
        string eip = _f.AllocateOne();
        _f.Plane.RenameAddress(eip, "frontend");

        Assert.Equal("frontend", _f.Address(eip).Address.Name);
        _f.AssertRejected(ErrorCodes.AddressIdNotFound, () => _f.Plane.RenameAddress("eip-zzzzzzzz", "x"));
        _f.AssertRejected(ErrorCodes.AddressIdMalformed, () => _f.Plane.RenameAddress("eip-1", "x"));
    }

    // ----- The store. -----

    [Fact]
    public void ASchemaVersion1Database_IsUpgradedWithEveryInstanceRunning()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gw-schema1-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            using (var c = new SqliteConnection($"Data Source={Path.Combine(dir, "gateway.db")};Pooling=False"))
            {
                c.Open();
                using var cmd = c.CreateCommand();
                cmd.CommandText = """
                    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    INSERT INTO meta VALUES ('schema', '1'), ('next_seq', '2');
                    CREATE TABLE instances(id TEXT PRIMARY KEY, seq INTEGER NOT NULL, name TEXT NOT NULL,
                        private_ip INTEGER NOT NULL UNIQUE, public_ip INTEGER UNIQUE, bandwidth INTEGER NOT NULL, charge_type TEXT NOT NULL,
                        public_ip_assigned INTEGER NOT NULL, zone TEXT NOT NULL, instance_type TEXT NOT NULL, image_id TEXT NOT NULL, created TEXT NOT NULL);
                    INSERT INTO instances VALUES ('ins-0000old1', 1, 'old', 167772162, 3325256705, 10, 'TRAFFIC_POSTPAID_BY_HOUR', 1, 'zone-1', 'S5.SMALL1', '', '2025-01-01T00:00:00Z');
                    """;
                cmd.ExecuteNonQuery();
            }
            using var f = new ControlPlaneFixture(directory: dir);

            var old = f.Instance("ins-0000old1");
            Assert.Equal(InstanceStates.Running, old.State);
            Assert.Equal(Ip("198.51.100.1"), f.PublicIpInTable(Ip("10.0.0.2")));
            Assert.Equal("2", f.Sqlite.GetMeta("schema")); // SQLite's own migration: runs on SQLite in both subclasses
            f.Plane.StopInstances(["ins-0000old1"], "SOFT", StopModes.StopCharging, null);
            f.Restart();
            Assert.Equal(InstanceStates.Stopped, f.Instance("ins-0000old1").State);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
        }
    }
}

public sealed class PowerRulesTestsOnSqlite() : PowerRulesTests(StoreUnderTest.Sqlite);

[Collection(EtcdFixture.Collection)]
public sealed class PowerRulesTestsOnEtcd(EtcdFixture etcd) : PowerRulesTests(etcd.Store);
