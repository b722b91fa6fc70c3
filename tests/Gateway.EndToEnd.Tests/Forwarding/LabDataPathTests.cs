using Gateway.DataPlane.Translation;
using static Gateway.EndToEnd.Tests.Forwarding.NamespaceLab;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>
/// The data path between real network namespaces: real kernels on both sides send and answer through it.
/// Run as root (namespaces, TAP devices); CI runs them through test.sh.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class LabDataPathTests : IClassFixture<NamespaceLab>
{
    private readonly NamespaceLab _lab;

    public LabDataPathTests(NamespaceLab lab)
    {
        _lab = lab;
        _lab.ResetBindings();
    }

    [Fact]
    public void PingToAnInstancesPublicAddressIsAnswered()
    {
        Assert.True(Ping(_lab.Internet, PublicA), $"no answer from {PublicA}; counters: {Describe()}");
        Assert.True(Ping(_lab.Internet, PublicB), $"no answer from {PublicB}; counters: {Describe()}");
    }

    [Fact]
    public void TcpToAPublicAddressReachesTheInstanceWhichSeesTheClientsRealAddress()
    {
        string? answer = _lab.Ask(_lab.Internet, "tcp", PublicA);
        // The server in instance A: the peer is the internet host itself, its own address is only the private one.
        Assert.Equal($"A {InternetHostAddress} {PrivateA}", answer);
    }

    [Fact]
    public void UdpToAPublicAddressReachesTheInstanceWhichSeesTheClientsRealAddress()
    {
        Assert.Equal($"B {InternetHostAddress} {PrivateB}", _lab.Ask(_lab.Internet, "udp", PublicB));
    }

    [Fact]
    public void AnInstancesInterfacesShowOnlyItsPrivateAddress()
    {
        var addresses = Shell.Run("ip", "-n", _lab.InstanceA, "-4", "-o", "addr", "show").Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3])
            .Order()
            .ToArray();
        Assert.Equal(["10.0.0.10/24", "127.0.0.1/8"], addresses);
    }

    [Fact]
    public void OutboundFromAnInstanceReachesTheInternetHostWhichSeesThePublicAddress()
    {
        Assert.Equal($"inet {PublicA} {InternetHostAddress}", _lab.Ask(_lab.InstanceA, "tcp", InternetHostAddress));
        Assert.Equal($"inet {PublicB} {InternetHostAddress}", _lab.Ask(_lab.InstanceB, "udp", InternetHostAddress));
    }

    [Fact]
    public void HairpinFromAToBsPublicAddressShowsAsPublicAddressAtB()
    {
        Assert.Equal($"B {PublicA} {PrivateB}", _lab.Ask(_lab.InstanceA, "tcp", PublicB));
        Assert.Equal($"A {PublicB} {PrivateA}", _lab.Ask(_lab.InstanceB, "udp", PublicA));
    }

    [Fact]
    public void MovingAPublicAddressToAnotherInstanceMovesTrafficAndSilencesTheOldAddress()
    {
        Assert.Equal($"A {InternetHostAddress} {PrivateA}", _lab.Ask(_lab.Internet, "tcp", PublicA));
        long announcements = _lab.Path.InternetL2.GratuitousArpsSent;

        // An EIP-style move: A's public address now belongs to B, which thereby loses its own.
        _lab.Bindings.Bind(Ip(PublicA), Ip(PrivateB));
        _lab.Path.OnPublicAddressBound(Ip(PublicA));

        Assert.Equal(announcements + 1, _lab.Path.InternetL2.GratuitousArpsSent);
        Assert.Equal($"B {InternetHostAddress} {PrivateB}", _lab.Ask(_lab.Internet, "tcp", PublicA));

        // B's old address no longer answers ARP: the internet host's resolution fails.
        _lab.FlushInternetNeighbours();
        Assert.False(Ping(_lab.Internet, PublicB, count: 2));
        string neighbour = _lab.InternetNeighbour(PublicB);
        Assert.True(neighbour.Length == 0 || neighbour.Contains("FAILED", StringComparison.Ordinal) || neighbour.Contains("INCOMPLETE", StringComparison.Ordinal),
            $"the internet host resolved {PublicB} after it was released: {neighbour}");
    }

    [Fact]
    public void AnUnboundPublicAddressGoesSilent()
    {
        Assert.True(Ping(_lab.Internet, PublicA));
        long noBinding = _lab.Path.Snapshot().DropPackets(DropReason.NoBinding);

        _lab.Bindings.UnbindPublic(Ip(PublicA));

        // The host still has the gateway's MAC cached: its packets arrive and are dropped as no-binding.
        Assert.False(Ping(_lab.Internet, PublicA, count: 2));
        Assert.True(_lab.Path.Snapshot().DropPackets(DropReason.NoBinding) > noBinding);
        Assert.Null(_lab.Ask(_lab.Internet, "tcp", PublicA, attempts: 1));

        // Once the host forgets it, the address does not resolve at all.
        long ignored = _lab.Path.InternetL2.ArpRequestsIgnored;
        _lab.FlushInternetNeighbours();
        Assert.False(Ping(_lab.Internet, PublicA, count: 2));
        Assert.True(_lab.Path.InternetL2.ArpRequestsIgnored > ignored);
    }

    [Fact]
    public void AFrameWithAForgedSourceFromAnInstanceIsDroppedAsSpoofed()
    {
        long spoofed = _lab.Path.Snapshot().DropPackets(DropReason.SpoofedSource);
        // The instance claims an address the control plane never gave it, and sends from it through the gateway.
        Shell.Must("ip", "-n", _lab.InstanceA, "addr", "add", "10.0.0.99/32", "dev", "eth0");
        try
        {
            Assert.False(Shell.InNamespace(_lab.InstanceA, "ping", "-c", "2", "-i", "0.2", "-W", "1", "-I", "10.0.0.99", InternetHostAddress).ExitCode == 0);
        }
        finally
        {
            Shell.Run("ip", "-n", _lab.InstanceA, "addr", "del", "10.0.0.99/32", "dev", "eth0");
        }
        Assert.True(_lab.Path.Snapshot().DropPackets(DropReason.SpoofedSource) >= spoofed + 2, Describe());
        // The real address still works.
        Assert.True(Ping(_lab.InstanceA, InternetHostAddress));
    }

    [Fact]
    public void TrafficToAPublicAddressWhoseInstanceNeverAnswersArpIsDroppedAsNeighbourUnresolved()
    {
        // Bound and known, but no instance holds 10.0.0.30: the gateway's ARP requests go unanswered.
        _lab.KnownPrivates.Add(Ip("10.0.0.30"));
        _lab.Bindings.Bind(Ip("203.0.113.30"), Ip("10.0.0.30"));
        long before = _lab.Path.Snapshot().DropPackets(DropReason.NeighbourUnresolved);

        Assert.False(Ping(_lab.Internet, "203.0.113.30", count: 2));

        Assert.True(Eventually(() => _lab.Path.Snapshot().DropPackets(DropReason.NeighbourUnresolved) > before), Describe());
        Assert.True(_lab.Path.VpcL2.ArpRequestsSent >= 3);
    }

    [Fact]
    public void CountersAddUp()
    {
        Assert.True(Ping(_lab.Internet, PublicA));
        var snapshot = _lab.Path.Snapshot();
        Assert.True(snapshot.ForwardedPackets >= 2);
        // Every received frame is either forwarded or dropped, L2 failures after translation included.
        Assert.True(Eventually(() =>
        {
            var s = _lab.Path.Snapshot();
            return s.ReceivedPackets == s.ForwardedPackets + s.DroppedPackets + _lab.Path.PendingFrames;
        }), Describe());
    }

    [Fact]
    public void ForwardingAllocatesNothingPerFrame()
    {
        // Warm up: neighbours resolved on both sides, every code path jitted.
        Assert.True(Ping(_lab.Internet, PublicA));
        Assert.True(Ping(_lab.InstanceA, InternetHostAddress));
        Thread.Sleep(300); // let the workers finish their last batch and sample
        var before = _lab.Path.WorkerAllocatedBytes;
        Assert.All(before, bytes => Assert.True(bytes > 0)); // the samples are live: each worker allocated its batch buffers
        long forwarded = _lab.Path.Snapshot().ForwardedPackets;

        // Inbound and outbound frames in both workers: 200 echo requests in, 200 replies out (flood mode, root only).
        Assert.Equal(0, Shell.InNamespace(_lab.Internet, "ping", "-f", "-c", "200", "-W", "1", PublicA).ExitCode);
        Assert.True(Eventually(() => _lab.Path.Snapshot().ForwardedPackets >= forwarded + 400));
        Thread.Sleep(300);

        Assert.Equal(before, _lab.Path.WorkerAllocatedBytes);
    }

    [Fact]
    public void AGratuitousArpUpdatesAnInternetHostsStaleEntry()
    {
        Assert.True(Ping(_lab.Internet, PublicA));
        string tap = _lab.Path.InternetPortName;
        // The host holds a wrong MAC for the address, as after the address moved from another gateway.
        Shell.Must("ip", "-n", _lab.Internet, "neigh", "replace", PublicA, "lladdr", "02:00:00:00:00:99", "dev", tap, "nud", "stale");
        Thread.Sleep(1200); // Linux ignores overrides within locktime (1 s) of the last update

        _lab.Path.OnPublicAddressBound(Ip(PublicA));

        Assert.True(Eventually(() => _lab.InternetNeighbour(PublicA).Contains(_lab.Path.InternetMac.ToString(), StringComparison.Ordinal)),
            _lab.InternetNeighbour(PublicA));
    }

    [Fact]
    public void WithoutAnUpstreamAnAddressBeyondTheSegmentIsAskedForByArpAndNeverResolves()
    {
        long before = _lab.Path.Snapshot().DropPackets(DropReason.NeighbourUnresolved);
        Assert.False(Ping(_lab.InstanceA, RemoteAddress, count: 2));
        Assert.True(Eventually(() => _lab.Path.Snapshot().DropPackets(DropReason.NeighbourUnresolved) > before), Describe());
    }

    private string Describe()
    {
        var s = _lab.Path.Snapshot();
        var drops = string.Join(", ", s.NonZeroDrops.Select(kv => $"{kv.Key}={kv.Value}"));
        return $"received {s.ReceivedPackets}, forwarded {s.ForwardedPackets}, dropped {s.DroppedPackets} ({drops}); "
            + $"inet ARP replies {_lab.Path.InternetL2.ArpRepliesSent}, vpc ARP requests {_lab.Path.VpcL2.ArpRequestsSent}";
    }
}
