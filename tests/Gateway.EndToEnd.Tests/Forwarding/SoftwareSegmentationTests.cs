using System.Globalization;
using static Gateway.EndToEnd.Tests.Forwarding.NamespaceLab;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>
/// GSO super-frames from a TAP leaving through a port that takes no GSO (a veth end through libpcap): the gateway cuts
/// them itself. The receiving kernel verifies every segment (no checksum error counted), every byte arrives, and a
/// capture there shows the translated addresses.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class SoftwareSegmentationTests : IClassFixture<MixedPortsNamespaceLab>, IDisposable
{
    private readonly MixedPortsNamespaceLab _lab;
    private readonly string _scripts;

    public SoftwareSegmentationTests(MixedPortsNamespaceLab lab)
    {
        _lab = lab;
        _lab.ResetBindings();
        _scripts = OffloadScripts.WriteAll();
    }

    public void Dispose() => Directory.Delete(_scripts, recursive: true);

    private string Script(string name) => Path.Combine(_scripts, name);

    private long Segmented => _lab.Path.Workers.Sum(w => w.Offloads.SoftwareSegmentedFrames);

    private long GsoFrames => _lab.Path.Workers.Sum(w => w.Offloads.GsoFrames);

    [Fact]
    public void TcpSuperFramesFromTheInternet_AreSegmentedByTheGateway_AndTheInstanceAcceptsEverySegment()
    {
        const int Port = 9400, Bytes = 8 << 20;
        long segmented = Segmented, gso = GsoFrames;
        var errors = GsoThroughTapTests.ChecksumErrors(_lab.InstanceA);
        using var sink = GsoThroughTapTests.Background(_lab.InstanceA, Shell.Python, Script("tcpsink.py"), Port.ToString(CultureInfo.InvariantCulture));
        using var capture = GsoThroughTapTests.Capture.Start(_lab.InstanceA, $"tcp dst port {Port}", _scripts);

        var sent = GsoThroughTapTests.RetryUntilListening(() => Shell.InNamespace(_lab.Internet, Shell.Python, Script("tcpsend.py"),
            PublicA, Port.ToString(CultureInfo.InvariantCulture), Bytes.ToString(CultureInfo.InvariantCulture)));

        string[] fields = sent.Output.Trim().Split(' ');
        Assert.True(sent.ExitCode == 0 && fields.Length == 4, sent.ToString());
        Assert.Equal((Bytes.ToString(CultureInfo.InvariantCulture), fields[3], InternetHostAddress), (fields[0], fields[1], fields[2]));
        Assert.Equal(errors, GsoThroughTapTests.ChecksumErrors(_lab.InstanceA));
        var addresses = capture.Stop();
        Assert.NotEmpty(addresses);
        Assert.All(addresses, a => Assert.Equal((InternetHostAddress, PrivateA), a));
        Assert.True(GsoFrames > gso, "no GSO super-frame reached the gateway");
        Assert.True(Segmented > segmented, "the gateway cut no super-frame");
    }

    [Fact]
    public void UdpSuperFramesFromTheInternet_AreSegmentedByTheGateway_EveryDatagramArrivesInOrder()
    {
        const int Port = 9500, Flows = 4, PerFlow = 600;
        // The instance resolved first, as a flow's first exchange would: a burst into an unresolved next hop is held only
        // up to the ARP queue's bound (the rest dropped as queue-full, by design).
        Assert.True(Ping(_lab.Internet, PublicA));
        long segmented = Segmented;
        var errors = GsoThroughTapTests.ChecksumErrors(_lab.InstanceA);
        var sink = GsoThroughTapTests.Background(_lab.InstanceA, Shell.Python, Script("udpsink.py"), Port.ToString(CultureInfo.InvariantCulture));
        Thread.Sleep(500);

        var sent = Shell.InNamespace(_lab.Internet, Shell.Python, Script("udpsend.py"), PublicA, Port.ToString(CultureInfo.InvariantCulture),
            Flows.ToString(CultureInfo.InvariantCulture), PerFlow.ToString(CultureInfo.InvariantCulture), "1200", "40");
        Assert.True(sent.ExitCode == 0, sent.ToString());
        var flows = sink.Result(TimeSpan.FromSeconds(30));

        Assert.Equal(Flows, flows.Count);
        Assert.All(flows, f =>
        {
            Assert.Equal(InternetHostAddress, f.Key.Split(':')[0]);
            Assert.True(f.Value.Ordered, $"flow {f.Key} out of order");
            Assert.True(f.Value.Count >= PerFlow * 9 / 10, $"flow {f.Key}: {f.Value.Count} of {PerFlow}");
        });
        Assert.Equal(errors, GsoThroughTapTests.ChecksumErrors(_lab.InstanceA));
        Assert.True(Segmented > segmented, "the gateway cut no super-frame");
    }
}
