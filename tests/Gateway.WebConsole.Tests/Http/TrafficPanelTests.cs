using Gateway.Control.Hosting;
using Gateway.Control.Metering;

namespace Gateway.WebConsole.Tests.Http;

/// <summary>
/// The details page's traffic panel: the daemon's traffic meter is its history (a period stored in the metering
/// database is drawn); without a history source it says so; with a fixed list of periods it draws exactly the last
/// hour. What is under test is the page: which periods it draws, and that the chart needs no inline style or script.
/// </summary>
public sealed class TrafficPanelTests : IAsyncLifetime
{
    private ConsoleHost _host = null!;

    public async Task InitializeAsync() => _host = await ConsoleHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task TheMeteringHistoryIsDrawn()
    {
        using var client = _host.Client();
        await client.SignedInAsync();
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        string id = _host.Plane.ListInstances().Single().Instance.Id;
        Assert.Same(_host.Host.Meter, _host.Host.TrafficHistory);
        Assert.Contains("No traffic metered for this instance in the last hour.", await client.GetPageAsync($"console/instances/{id}"), StringComparison.Ordinal);

        // One closed 10-second period in the metering database, as the meter writes it: 10 Mbit/s out, 1 in.
        long start = (_host.Clock.GetUtcNow().ToUnixTimeSeconds() - 600) / 10 * 10;
        _host.Host.Meter.Store.AddPeriod(start, [(MeterKind.Instance, id, new MeterTotals(9000, 12_500_000, 900, 1_250_000, 0, 0, 0, 0))]);
        string page = await client.GetPageAsync($"console/instances/{id}");
        Assert.Contains("<svg class=\"chart\"", page, StringComparison.Ordinal);
        Assert.Contains("Outbound (peak 10.0 Mbit/s, 11.9 MiB)", page, StringComparison.Ordinal);
        Assert.Contains("Inbound (peak 1.00 Mbit/s, 1.2 MiB)", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutMeteringThePanelSaysSoAndWithItTheLastHourIsDrawn()
    {
        using var client = _host.Client();
        await client.SignedInAsync();
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        string id = _host.Plane.ListInstances().Single().Instance.Id;
        _host.Host.TrafficHistory = null; // a host without a history source
        string page = await client.GetPageAsync($"console/instances/{id}");
        Assert.Contains("does not meter traffic", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<svg class=\"chart\"", page, StringComparison.Ordinal);

        var now = _host.Clock.GetUtcNow();
        var period = TimeSpan.FromSeconds(10);
        var history = new FixedHistory(id,
        [
            new(now.AddMinutes(-90), period, 9_000_000, 9_000_000, 1, 1), // older than an hour
            new(now.AddMinutes(-30), period, 1_250_000, 12_500_000, 900, 9000), // 1 in, 10 out (Mbit/s)
            new(now.AddMinutes(-20), period, 0, 6_250_000, 0, 4500),
        ]);
        _host.Host.TrafficHistory = history;
        page = await client.GetPageAsync($"console/instances/{id}");
        Assert.Equal(now - TimeSpan.FromHours(1), history.AskedSince);
        Assert.Contains("<svg class=\"chart\"", page, StringComparison.Ordinal);
        Assert.Contains("Outbound (peak 10.0 Mbit/s, 17.9 MiB)", page, StringComparison.Ordinal);
        Assert.Contains("Inbound (peak 1.00 Mbit/s, 1.2 MiB)", page, StringComparison.Ordinal);
        Assert.Equal(2, PointsOf(page, "line-out").Length);
        Assert.DoesNotContain(" style=", page, StringComparison.Ordinal);

        // Another instance's page asks for that instance and draws nothing.
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "db", "z", "t", ""));
        string other = _host.Plane.ListInstances().Single(i => i.Instance.Name == "db").Instance.Id;
        Assert.Contains("No traffic metered for this instance in the last hour.", await client.GetPageAsync($"console/instances/{other}"), StringComparison.Ordinal);
    }

    private static string[] PointsOf(string page, string line)
    {
        int at = page.IndexOf($"<polyline class=\"{line}\" points=\"", StringComparison.Ordinal);
        Assert.True(at >= 0);
        int start = page.IndexOf("points=\"", at, StringComparison.Ordinal) + 8;
        return page[start..page.IndexOf('"', start)].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    private sealed class FixedHistory(string instanceId, IReadOnlyList<TrafficPoint> points) : IInstanceTrafficHistory
    {
        public DateTimeOffset? AskedSince { get; private set; }

        public IReadOnlyList<TrafficPoint> Read(string id, DateTimeOffset since)
        {
            AskedSince = since;
            return id == instanceId ? [.. points.Where(p => p.Start >= since)] : [];
        }
    }
}
