using System.Globalization;
using System.Text.Json;
using static Gateway.EndToEnd.Tests.Forwarding.NamespaceLab;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>
/// No silent loss: frames the kernel could not queue for the gateway (the TAP's own tx_dropped) are read from the
/// device wherever it lives — here moved into another network namespace — and equal what the kernel itself reports.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class KernelDropTests : IClassFixture<NamespaceLab>
{
    private readonly NamespaceLab _lab;

    public KernelDropTests(NamespaceLab lab)
    {
        _lab = lab;
        _lab.ResetBindings();
    }

    /// <summary>tx_dropped of <paramref name="device"/> as `ip -s -j link` shows it in <paramref name="ns"/>.</summary>
    private static long TxDropped(string ns, string device)
    {
        using var json = JsonDocument.Parse(Shell.Must("ip", "-n", ns, "-s", "-j", "link", "show", "dev", device));
        return json.RootElement[0].GetProperty("stats64").GetProperty("tx").GetProperty("dropped").GetInt64();
    }

    [Fact]
    public void FramesTheTapCouldNotQueueForTheGateway_AreReportedAsTheKernelCountsThem_FromAnotherNamespace()
    {
        string tap = _lab.Path.InternetPortName;
        Assert.True(Ping(_lab.Internet, PublicA)); // neighbours resolved
        long before = TxDropped(_lab.Internet, tap);
        Assert.Equal(before, _lab.Path.KernelDrops().Internet.Frames);

        // A queue of one frame, and pings sent 200 at a time from four senders: the kernel has nowhere to put most of
        // each burst. A realtime worker on an idle core can keep up with one sender, so the burst is repeated (up to
        // five rounds) until the kernel has counted a drop.
        Shell.Must("ip", "-n", _lab.Internet, "link", "set", tap, "txqueuelen", "1");
        long dropped = before;
        try
        {
            for (int round = 0; round < 5 && dropped == before; round++)
            {
                Shell.InNamespace(_lab.Internet, "sh", "-c",
                    $"for i in 1 2 3 4; do ping -q -f -l 200 -c 2000 -W 1 {PublicA} >/dev/null & done; wait");
                dropped = TxDropped(_lab.Internet, tap);
            }
        }
        finally
        {
            Shell.Must("ip", "-n", _lab.Internet, "link", "set", tap, "txqueuelen", "4096");
        }

        Assert.True(dropped > before, "the burst did not overrun the one-frame queue; nothing to compare");
        var reported = _lab.Path.KernelDrops().Internet;
        Assert.True(reported.Known);
        Assert.Equal(dropped, reported.Frames);
        Assert.Equal(TxDropped(_lab.Vpc, _lab.Path.VpcPortName), _lab.Path.KernelDrops().Vpc.Frames);
    }
}
