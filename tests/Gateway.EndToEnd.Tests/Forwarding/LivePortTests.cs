using Gateway.DataPlane.Translation;
using static Gateway.EndToEnd.Tests.Forwarding.NamespaceLab;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>The data path on existing interfaces (veth ends) through AF_PACKET rings (<c>--if-backend packet</c>, the default).</summary>
[Trait("Category", "RootNamespaces")]
public sealed class LivePortTests(LiveNamespaceLab lab) : LiveInterfaceTests(lab), IClassFixture<LiveNamespaceLab>
{
    private readonly LiveNamespaceLab _lab = lab;

    /// <summary>
    /// Hosts keep their checksum offload on (no ethtool): a bulk TCP transfer each way leaves the senders as GSO
    /// super-frames with partial checksums and crosses the gateway whole. The last link before the receiver has its
    /// offloads off, so the kernel there segments and finishes every checksum in software from what the gateway wrote,
    /// and the receiving kernel, which then verifies each segment, counts no checksum error while every byte arrives.
    /// (Without that, a receiver trusts a partial checksum handed over by a veth and would check nothing.)
    /// </summary>
    [Theory]
    [InlineData("inbound")]
    [InlineData("outbound")]
    public void ABulkTcpTransferCrossesAsSuperFramesAndEverySegmentVerifies(string direction)
    {
        bool inbound = direction == "inbound";
        // The last hop to the receiver: the VPC bridge's port to instance A, or the gateway's own internet end.
        string[] lastHop = inbound ? ["ip", "netns", "exec", _lab.Vpc, "ethtool", "-K", "va"] : ["ethtool", "-K", _lab.Path.InternetPortName];
        Shell.Must(lastHop[0], [.. lastHop[1..], "tx", "off", "tso", "off", "gso", "off", "sg", "off"]);
        try
        {
            Transfer(inbound);
        }
        finally
        {
            Shell.Run(lastHop[0], [.. lastHop[1..], "tx", "on", "tso", "on", "gso", "on", "sg", "on"]);
        }
    }

    private void Transfer(bool inbound)
    {
        const int bytes = 8 << 20;
        string receiver = inbound ? _lab.InstanceA : _lab.Internet, sender = inbound ? _lab.Internet : _lab.InstanceA;
        string target = inbound ? PublicA : InternetHostAddress;
        long gsoBefore = _lab.Path.Workers.Sum(w => w.Offloads.GsoFrames);
        long csumErrors = Tcp(receiver, "InCsumErrors");
        using var sink = Shell.Start("ip", "netns", "exec", receiver, Shell.Python, "-c", """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 5001)); s.listen(1)
            c, _ = s.accept(); n = 0
            while True:
                d = c.recv(1 << 16)
                if not d: break
                n += len(d)
            print(n, flush=True)
            """);
        try
        {
            Thread.Sleep(500); // the listener starts
            var send = Shell.InNamespace(sender, Shell.Python, "-c", $$"""
                import socket, time
                for attempt in range(20):
                    try:
                        c = socket.create_connection(("{{target}}", 5001), timeout=5); break
                    except OSError:
                        time.sleep(0.25)
                c.sendall(bytes({{bytes}})); c.close()
                """);
            Assert.True(send.ExitCode == 0, send.ToString());
            Assert.True(sink.WaitForExit(30_000), "the receiver did not finish");
            Assert.Equal(bytes.ToString(System.Globalization.CultureInfo.InvariantCulture), sink.StandardOutput.ReadToEnd().Trim());
        }
        finally
        {
            if (!sink.HasExited)
            {
                sink.Kill(entireProcessTree: true);
            }
        }
        Assert.Equal(csumErrors, Tcp(receiver, "InCsumErrors"));
        Assert.True(_lab.Path.Workers.Sum(w => w.Offloads.GsoFrames) > gsoBefore, "no GSO super-frame crossed the gateway");
    }

    private static long Tcp(string ns, string field) => Live.PacketPortLab.Snmp(ns, "Tcp", field);
}

/// <summary>The same tests through libpcap capture and injection (<c>--if-backend pcap</c>).</summary>
[Trait("Category", "RootNamespaces")]
public sealed class PcapLivePortTests(PcapLiveNamespaceLab lab) : LiveInterfaceTests(lab), IClassFixture<PcapLiveNamespaceLab>
{
}

/// <summary>The live-interface tests, run once per backend by the classes above.</summary>
public abstract class LiveInterfaceTests
{
    private readonly NamespaceLab _lab;

    protected LiveInterfaceTests(NamespaceLab lab)
    {
        ArgumentNullException.ThrowIfNull(lab);
        _lab = lab;
        _lab.ResetBindings();
    }

    [Fact]
    public void InboundOutboundAndHairpinWorkOverLiveInterfaces()
    {
        Assert.True(Ping(_lab.Internet, PublicA));
        Assert.Equal($"A {InternetHostAddress} {PrivateA}", _lab.Ask(_lab.Internet, "tcp", PublicA));
        Assert.Equal($"inet {PublicB} {InternetHostAddress}", _lab.Ask(_lab.InstanceB, "udp", InternetHostAddress));
        Assert.Equal($"B {PublicA} {PrivateB}", _lab.Ask(_lab.InstanceA, "tcp", PublicB));
    }

    [Fact]
    public void ForwardingOverLiveInterfacesAllocatesNothingPerFrame()
    {
        // Warm up: neighbours resolved on both sides, every code path jitted.
        Assert.True(Ping(_lab.Internet, PublicA));
        Assert.True(Ping(_lab.InstanceA, InternetHostAddress));
        Assert.Equal($"A {InternetHostAddress} {PrivateA}", _lab.Ask(_lab.Internet, "tcp", PublicA));
        Thread.Sleep(300); // let the workers finish their last batch and sample
        var before = _lab.Path.WorkerAllocatedBytes;
        long forwarded = _lab.Path.Snapshot().ForwardedPackets;

        // 300 echo requests in, 300 replies out (flood mode, root only), spread over whichever workers fanout picks.
        Assert.Equal(0, Shell.InNamespace(_lab.Internet, "ping", "-f", "-c", "300", "-W", "1", PublicA).ExitCode);
        Assert.True(Eventually(() => _lab.Path.Snapshot().ForwardedPackets >= forwarded + 600));
        Thread.Sleep(300);

        Assert.Equal(before, _lab.Path.WorkerAllocatedBytes);
    }

    [Fact]
    public void ASpoofedSourceIsDroppedOverLiveInterfacesToo()
    {
        long spoofed = _lab.Path.Snapshot().DropPackets(DropReason.SpoofedSource);
        Shell.Must("ip", "-n", _lab.InstanceB, "addr", "add", "10.0.0.98/32", "dev", "eth0");
        try
        {
            Assert.NotEqual(0, Shell.InNamespace(_lab.InstanceB, "ping", "-c", "2", "-i", "0.2", "-W", "1", "-I", "10.0.0.98", InternetHostAddress).ExitCode);
        }
        finally
        {
            Shell.Run("ip", "-n", _lab.InstanceB, "addr", "del", "10.0.0.98/32", "dev", "eth0");
        }
        Assert.True(_lab.Path.Snapshot().DropPackets(DropReason.SpoofedSource) >= spoofed + 2);
    }
}
