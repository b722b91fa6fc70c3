using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Api;
using Gateway.EndToEnd.Tests.Forwarding;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary>
/// Metering survives <c>kill -9</c> and a restart: every period written before the kill reads the same afterwards, and
/// what is lost is at most the period that was open.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class MeteringRestartTests(ITestOutputHelper output)
{
    private static List<(long Timestamp, double Value)> Points(ApiClient client, string instanceId, long from, long to)
    {
        var r = client.CallAsync("monitor", "2018-07-24", "GetMonitorData", new JsonObject
        {
            ["Namespace"] = "QCE/CVM",
            ["MetricName"] = "AccOuttraffic",
            ["Period"] = 10,
            ["StartTime"] = DateTimeOffset.FromUnixTimeSeconds(from).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
            ["EndTime"] = DateTimeOffset.FromUnixTimeSeconds(to).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
            ["Instances"] = new JsonArray(new JsonObject { ["Dimensions"] = new JsonArray(new JsonObject { ["Name"] = "InstanceId", ["Value"] = instanceId }) }),
        }).GetAwaiter().GetResult();
        var point = r.GetProperty("DataPoints")[0];
        return [.. point.GetProperty("Timestamps").EnumerateArray().Zip(point.GetProperty("Values").EnumerateArray(), (t, v) => (t.GetInt64(), v.GetDouble()))];
    }

    [Fact]
    public void Metering_SurvivesKill9AndRestart_LosingAtMostTheOpenPeriod()
    {
        using var lab = new CapsLab([("k", 20)], "10.0.8");
        string instance = lab.InstanceOf["k"];
        var run = lab.Outbound("k", 6);
        long from = (run.Start.ToUnixTimeSeconds() / 10 * 10) - 10;
        long lastPeriod = run.End.ToUnixTimeSeconds() / 10 * 10;

        // Wait until the run's periods are written, then note them.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        List<(long Timestamp, double Value)> before;
        while (true)
        {
            before = Points(lab.Client, instance, from, lastPeriod + 20);
            if (before.Count > 0 && before[^1].Timestamp >= lastPeriod)
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the run's periods were not written within 30 s");
            Thread.Sleep(500);
        }
        double beforeBytes = before.Sum(p => p.Value) * 1e6;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"before the kill: {before.Count} points, {beforeBytes:F0} bytes metered; iperf3 received {run.ReceivedBytes}"));
        Assert.InRange(beforeBytes, run.ReceivedBytes * 0.9, run.ReceivedBytes * 1.1);

        // More traffic into the open period, then kill -9 the daemon at once.
        var second = lab.Outbound("k", 3);
        var killedAt = DateTimeOffset.UtcNow;
        Shell.Must("kill", "-KILL", lab.DaemonPid().ToString(CultureInfo.InvariantCulture));
        Thread.Sleep(500);

        // Restart on the same state directory (control plane only) and read the history back.
        using var daemon = Shell.Start("dotnet", GatewayExecutable.Dll, "run", "--state", lab.DaemonState, "--api", "127.0.0.1:0",
            "--public-pool", "198.51.100.0/28", "--subnet", $"{lab.VpcPrefix}.0/24");
        try
        {
            string? line;
            string? endpoint = null;
            var log = new List<string>();
            while (endpoint is null && (line = daemon.StandardOutput.ReadLine()) is not null)
            {
                log.Add(line);
                if (line.Contains("API listening on http://", StringComparison.Ordinal))
                {
                    endpoint = line[(line.IndexOf("http://", StringComparison.Ordinal) + 7)..].Trim();
                }
            }
            Assert.True(endpoint is not null, "the restarted daemon did not listen: " + string.Join("\n", log));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var client = new ApiClient(http, new Uri($"http://{endpoint}/"), lab.Credentials);
            var after = Points(client, instance, from, killedAt.ToUnixTimeSeconds() + 20);
            double afterBytes = after.Sum(p => p.Value) * 1e6;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"after the restart: {after.Count} points, {afterBytes:F0} bytes; the second run sent {second.SentBytes} (received {second.ReceivedBytes}) in the open period"));

            // Every period written before the kill is there, unchanged.
            foreach (var (timestamp, value) in before)
            {
                Assert.Contains(after, p => p.Timestamp == timestamp && Math.Abs(p.Value - value) < 1e-6);
            }
            // Nothing written twice; what is missing is at most the open period(s) of the 3-s run: no more than it carried.
            Assert.True(afterBytes >= beforeBytes - 1, "history shrank");
            Assert.True(afterBytes <= beforeBytes + (second.SentBytes * 1.1), "more metered than was sent");
        }
        finally
        {
            Shell.Run("kill", "-TERM", daemon.Id.ToString(CultureInfo.InvariantCulture));
            if (!daemon.WaitForExit(15_000))
            {
                daemon.Kill(entireProcessTree: true);
            }
        }
    }
}
