using System.Globalization;
using Gateway.Control.Hosting;
using Gateway.WebConsole.Charts;

namespace Gateway.WebConsole.Tests.Charts;

public sealed class TrafficChartTests
{
    private static readonly DateTimeOffset s_now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0, 0.01)]
    [InlineData(0.004, 0.01)]
    [InlineData(0.9, 1)]
    [InlineData(1, 1)]
    [InlineData(1.2, 2)]
    [InlineData(3, 5)]
    [InlineData(7, 10)]
    [InlineData(100, 100)]
    [InlineData(101, 200)]
    public void TheScaleIsTheNextOneTwoOrFive(double peak, double scale) => Assert.Equal(scale, TrafficChart.NiceCeiling(peak), 9);

    [Fact]
    public void RatesArePlacedByTimeAndScaledToThePeak()
    {
        var period = TimeSpan.FromSeconds(10);
        // 12.5 MB out in 10 s = 10 Mbit/s; 1.25 MB in = 1 Mbit/s; the first point ends half an hour ago.
        var points = new List<TrafficPoint>
        {
            new(s_now.AddMinutes(-30) - period, period, 1_250_000, 12_500_000, 1000, 9000),
            new(s_now - period, period, 0, 6_250_000, 0, 4500),
            new(s_now.AddHours(-2), period, 99_000_000_000, 99_000_000_000, 1, 1), // older than an hour: not drawn
        };
        var chart = TrafficChart.Of(points, s_now);
        Assert.Equal(10, chart.ScaleMbps, 9);
        Assert.Equal(10, chart.PeakOutboundMbps, 9);
        Assert.Equal(1, chart.PeakInboundMbps, 9);
        Assert.Equal(2, chart.PointCount);
        Assert.Equal(12_500_000 + 6_250_000, chart.OutboundBytes);
        double plotWidth = TrafficChart.Width - TrafficChart.Left - TrafficChart.Right;
        double plotHeight = TrafficChart.Height - TrafficChart.Top - TrafficChart.Bottom;
        var outbound = Parse(chart.OutboundPoints);
        Assert.Equal(TrafficChart.Left + (plotWidth / 2), outbound[0].X, 0.1);
        Assert.Equal(TrafficChart.Top, outbound[0].Y, 0.1); // 10 of 10 Mbit/s: the top
        Assert.Equal(TrafficChart.Width - TrafficChart.Right, outbound[1].X, 0.1);
        Assert.Equal(TrafficChart.Top + (plotHeight / 2), outbound[1].Y, 0.1); // 5 of 10
        var inbound = Parse(chart.InboundPoints);
        Assert.Equal(TrafficChart.Top + plotHeight - (plotHeight / 10), inbound[0].Y, 0.1);
        Assert.Equal(TrafficChart.Top + plotHeight, inbound[1].Y, 0.1);
        Assert.Equal(["0.00", "2.50", "5.00", "7.50", "10.0"], chart.YTicks.Select(t => t.Label));
        Assert.Equal(["-60 min", "-45 min", "-30 min", "-15 min", "now"], chart.XTicks.Select(t => t.Label));
    }

    [Fact]
    public void AnIdleHourHasAnAxisAndNoLine()
    {
        var chart = TrafficChart.Of([], s_now);
        Assert.Equal(0, chart.PointCount);
        Assert.Equal("", chart.OutboundPoints);
        Assert.Equal(0.01, chart.ScaleMbps, 9);
    }

    private static List<(double X, double Y)> Parse(string points) =>
        [.. points.Split(' ').Select(p => p.Split(',')).Select(p => (double.Parse(p[0], CultureInfo.InvariantCulture), double.Parse(p[1], CultureInfo.InvariantCulture)))];
}
