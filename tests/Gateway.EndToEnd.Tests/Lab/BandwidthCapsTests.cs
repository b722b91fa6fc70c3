using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.EndToEnd.Tests.Forwarding;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary>
/// Bandwidth caps end to end: real TCP (iperf3) between namespaces through the daemon's TAP data path, caps set and
/// changed through the control API, metering read back by the official SDK's monitor client and by Debian's real
/// Prometheus server.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class BandwidthCapsTests(CapsLab lab, ITestOutputHelper output) : IClassFixture<CapsLab>
{
    private void AssertAtCap(CapsLab.IperfRun run, double capMbps, string what)
    {
        double mbps = run.ReceivedBitsPerSecond / 1e6;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {mbps:F2} Mbps received of a {capMbps} Mbps cap ({mbps / capMbps:P0})"));
        Assert.True(mbps >= 0.80 * capMbps && mbps <= 1.05 * capMbps,
            string.Create(CultureInfo.InvariantCulture, $"{what}: {mbps:F2} Mbps is not within 80-105 % of the {capMbps} Mbps cap. Stats: {lab.Stats()}"));
    }

    [Theory]
    [InlineData("s5", 5)]
    [InlineData("s20", 20)]
    [InlineData("s100", 100)]
    public void Outbound_TcpFromACappedInstance_LandsAt80To105PercentOfTheCap(string node, int capMbps) =>
        AssertAtCap(lab.Outbound(node, 5), capMbps, $"outbound from {node}");

    [Theory]
    [InlineData("s5", 10)]    // 5 Mbps bought: 10 Mbps in, by the rule
    [InlineData("s20", 20)]   // above 10: in equals out
    public void Inbound_TcpToACappedInstance_LandsAt80To105PercentOfTheInboundCapByTheRule(string node, int inboundMbps) =>
        AssertAtCap(lab.Inbound(node, 5), inboundMbps, $"inbound to {node}");

    [Fact]
    public async Task ResetInstancesInternetMaxBandwidth_From20To50_ShowsInTheNextSecond()
    {
        CapsLab.IperfRun? run = null;
        var sender = Task.Run(() => run = lab.Outbound("r", 8));
        await Task.Delay(3500);
        var before = DateTimeOffset.UtcNow;
        lab.Call("cvm", "ResetInstancesInternetMaxBandwidth", new JsonObject
        {
            ["InstanceIds"] = new JsonArray(lab.InstanceOf["r"]),
            ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 50 },
        });
        var answered = DateTimeOffset.UtcNow;
        await sender;
        try
        {
            // The sender's 1-s intervals: the first that starts after the answer must be above the old cap.
            var intervals = run!.Json.GetProperty("intervals").EnumerateArray()
                .Select(i => i.GetProperty("sum"))
                .Select(s => (Start: s.GetProperty("start").GetDouble(), Mbps: s.GetProperty("bits_per_second").GetDouble() / 1e6))
                .ToList();
            double answeredAt = (answered - run.Start).TotalSeconds;
            output.WriteLine(string.Join(" ", intervals.Select(i => string.Create(CultureInfo.InvariantCulture, $"[{i.Start:F0}s {i.Mbps:F1}]"))) + $"; reset answered at {answeredAt:F2} s (took {(answered - before).TotalMilliseconds:F0} ms)");
            var beforeReset = intervals.Where(i => i.Start + 1 <= answeredAt - 0.5).ToList();
            var next = intervals.First(i => i.Start >= answeredAt);
            Assert.All(beforeReset.Skip(1), i => Assert.True(i.Mbps <= 20 * 1.25, $"before the reset: {i.Mbps:F1} Mbps over a 20 Mbps cap"));
            Assert.True(next.Mbps > 20 * 1.25, $"the second after the reset carried {next.Mbps:F1} Mbps: the 50 Mbps cap did not show");
        }
        finally
        {
            lab.Call("cvm", "ResetInstancesInternetMaxBandwidth", new JsonObject
            {
                ["InstanceIds"] = new JsonArray(lab.InstanceOf["r"]),
                ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 20 },
            });
        }
    }

    [Fact]
    public void AnEipMovedToAnotherInstance_TakesThatInstancesCaps()
    {
        string eip = lab.Call("vpc", "AllocateAddresses", new JsonObject { ["AddressCount"] = 1 }).GetProperty("AddressSet")[0].GetString()!;
        try
        {
            lab.Call("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = eip, ["InstanceId"] = lab.InstanceOf["s5"] });
            AssertAtCap(lab.Outbound("s5", 4), 5, "outbound through the EIP on s5");
            lab.Call("vpc", "DisassociateAddress", new JsonObject { ["AddressId"] = eip });
            lab.Call("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = eip, ["InstanceId"] = lab.InstanceOf["s20"] });
            string eipIp = lab.PublicIp("s20");
            AssertAtCap(lab.Outbound("s20", 4), 20, "outbound through the EIP on s20");
            AssertAtCap(lab.Iperf(lab.Namespace("client"), eipIp, CapsLab.IperfPort, 4, null), 20, "inbound to the EIP on s20");
        }
        finally
        {
            try
            {
                lab.Call("vpc", "DisassociateAddress", new JsonObject { ["AddressId"] = eip });
            }
            catch (Gateway.Control.Api.ApiErrorException)
            {
            }
            lab.Call("vpc", "ReleaseAddresses", new JsonObject { ["AddressIds"] = new JsonArray(eip) });
        }
    }

    [Fact]
    public async Task Metering_TheSdksMonitorClientAndPrometheus_AgreeWithIperf3()
    {
        string node = "m";
        string publicIp = lab.PublicIp(node);
        using var prometheus = PrometheusServer.Start(lab.Folder, lab.Metrics);
        // A few scrapes before the run: the address's series (0 until traffic flows) exists at the window's start.
        string series = $"gateway_traffic_bytes_total{{public_ip=\"{publicIp}\",direction=\"out\"}}";
        await prometheus.WaitForSeriesAsync(series, TimeSpan.FromSeconds(30));
        await Task.Delay(2000);
        var run = lab.Outbound(node, 10);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iperf3: {run.ReceivedBytes} bytes received ({run.ReceivedBitsPerSecond / 1e6:F2} Mbps), {run.SentBytes} sent"));

        // The exposition passes promtool's lint.
        string exposition = await lab.ScrapeAsync();
        string file = Path.Combine(lab.Folder, "metrics.txt");
        await File.WriteAllTextAsync(file, exposition);
        var check = Shell.Run("sh", "-c", $"promtool check metrics < '{file}'");
        Assert.True(check.ExitCode == 0, $"promtool check metrics: {check}\n{exposition}");
        Assert.Contains($"gateway_traffic_bytes_total{{public_ip=\"{publicIp}\",direction=\"out\"}}", exposition, StringComparison.Ordinal);
        Assert.Contains("gateway_frames_dropped_total{reason=\"bandwidth-exceeded\"}", exposition, StringComparison.Ordinal);
        Assert.Contains("gateway_api_request_duration_seconds_bucket", exposition, StringComparison.Ordinal);

        // PromQL over what the real server scraped: the rate over the run's window, against iperf3's bytes over it.
        await Task.Delay(2500); // the scrapes after the run are in
        int window = (int)Math.Ceiling((run.End - run.Start).TotalSeconds) + 2;
        double at = run.End.ToUnixTimeMilliseconds() / 1000.0 + 1;
        // (counter − counter W s before) / W: the average rate, without rate()'s extrapolation to the window's edges.
        double rate = await prometheus.QueryScalarAsync($"({series} - {series} offset {window}s) / {window}", at);
        double iperfBytesPerSecond = (double)run.ReceivedBytes / window;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"PromQL rate over {window} s: {rate * 8 / 1e6:F3} Mbps; iperf3's bytes over the same window: {iperfBytesPerSecond * 8 / 1e6:F3} Mbps"));
        Assert.InRange(rate, iperfBytesPerSecond * 0.9, iperfBytesPerSecond * 1.1);

        // The official SDK's monitor client, once the periods of the run have closed and been written.
        long from = run.Start.ToUnixTimeSeconds() / 10 * 10;
        long lastPeriod = run.End.ToUnixTimeSeconds() / 10 * 10;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement read;
        while (true)
        {
            read = MonitorRead(lab.InstanceOf[node], from - 10, lastPeriod + 10);
            var stamps = read.GetProperty("WanOuttraffic").GetProperty("DataPoints")[0].GetProperty("Timestamps");
            if (stamps.GetArrayLength() > 0 && stamps.EnumerateArray().Max(t => t.GetInt64()) >= lastPeriod)
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the run's periods were not written within 30 s: " + read);
            await Task.Delay(1000);
        }
        var wan = read.GetProperty("WanOuttraffic");
        Assert.Equal(10, wan.GetProperty("Period").GetInt32());
        double wanBytes = wan.GetProperty("DataPoints")[0].GetProperty("Values").EnumerateArray().Sum(v => v.GetDouble() * 1e6 / 8 * 10);
        double accBytes = read.GetProperty("AccOuttraffic").GetProperty("DataPoints")[0].GetProperty("Values").EnumerateArray().Sum(v => v.GetDouble() * 1e6);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"WanOuttraffic: {wanBytes:F0} bytes; AccOuttraffic: {accBytes:F0} bytes; iperf3 received {run.ReceivedBytes}"));
        Assert.InRange(wanBytes, run.ReceivedBytes * 0.9, run.ReceivedBytes * 1.1);
        Assert.InRange(accBytes, run.ReceivedBytes * 0.9, run.ReceivedBytes * 1.1);
    }

    private JsonElement MonitorRead(string instanceId, long from, long to)
    {
        string script = Path.Combine(GatewayExecutable.RepositoryRoot, "tests", "sdk-node", "monitor-read.mjs");
        string env = string.Join(" ", new[]
        {
            $"GATEWAY_API={lab.Api.Authority}",
            $"GATEWAY_SECRET_ID={lab.Credentials.SecretId}",
            $"GATEWAY_SECRET_KEY={lab.Credentials.SecretKey}",
            $"INSTANCE_ID={instanceId}",
            $"START_TIME={DateTimeOffset.FromUnixTimeSeconds(from):yyyy-MM-ddTHH:mm:ss}+00:00",
            $"END_TIME={DateTimeOffset.FromUnixTimeSeconds(to):yyyy-MM-ddTHH:mm:ss}+00:00",
        });
        var result = Shell.Run(TimeSpan.FromSeconds(60), "sh", "-c", $"env {env} node '{script}'");
        Assert.True(result.ExitCode == 0, $"monitor-read.mjs (the official SDK; run 'npm ci' in tests/sdk-node): {result}");
        using var doc = JsonDocument.Parse(result.Output);
        return doc.RootElement.Clone();
    }

    /// <summary>Debian's prometheus server scraping the daemon every second, on a free loopback port, data in a temp dir.</summary>
    private sealed class PrometheusServer : IDisposable
    {
        private readonly System.Diagnostics.Process _process;
        private readonly string _directory;
        private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
        private readonly int _port;

        private PrometheusServer(System.Diagnostics.Process process, string directory, int port)
        {
            _process = process;
            _directory = directory;
            _port = port;
        }

        public static PrometheusServer Start(string folder, string target)
        {
            string directory = Path.Combine(folder, "prometheus-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(directory);
            File.WriteAllText(Path.Combine(directory, "prometheus.yml"), $"""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: gateway
                    static_configs:
                      - targets: ['{target}']
                """);
            int port = FreePort();
            // Its log goes to a file: a redirected pipe nobody reads would fill and stall it.
            var process = Shell.Start("sh", "-c",
                $"exec prometheus --config.file='{Path.Combine(directory, "prometheus.yml")}' --storage.tsdb.path='{Path.Combine(directory, "data")}' --web.listen-address=127.0.0.1:{port} > '{Path.Combine(directory, "prometheus.log")}' 2>&1");
            var server = new PrometheusServer(process, directory, port);
            try
            {
                server.WaitReady();
                return server;
            }
            catch
            {
                server.Dispose();
                throw;
            }
        }

        private void WaitReady()
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline)
            {
                try
                {
                    var r = _http.GetAsync(new Uri($"http://127.0.0.1:{_port}/-/ready")).GetAwaiter().GetResult();
                    if (r.IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                }
                Assert.False(_process.HasExited, "prometheus exited: " + File.ReadAllText(Path.Combine(_directory, "prometheus.log")));
                Thread.Sleep(200);
            }
            throw new TimeoutException("prometheus was not ready within 30 s");
        }

        public async Task WaitForSeriesAsync(string query, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                string body = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{_port}/api/v1/query?query={Uri.EscapeDataString(query)}"));
                using var doc = JsonDocument.Parse(body);
                if (doc.RootElement.GetProperty("data").GetProperty("result").GetArrayLength() > 0)
                {
                    return;
                }
                Assert.True(DateTime.UtcNow < deadline, $"prometheus has not scraped {query} within {timeout}: {body}");
                await Task.Delay(250);
            }
        }

        public async Task<double> QueryScalarAsync(string query, double at)
        {
            var uri = new Uri($"http://127.0.0.1:{_port}/api/v1/query?query={Uri.EscapeDataString(query)}&time={at.ToString("F3", CultureInfo.InvariantCulture)}");
            string body = await _http.GetStringAsync(uri);
            using var doc = JsonDocument.Parse(body);
            var result = doc.RootElement.GetProperty("data").GetProperty("result");
            Assert.True(result.GetArrayLength() == 1, $"{query} at {at}: {body}");
            return double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        }

        private static int FreePort()
        {
            using var socket = new TcpListener(IPAddress.Loopback, 0);
            socket.Start();
            return ((IPEndPoint)socket.LocalEndpoint).Port;
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                }
                _process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
            }
            _process.Dispose();
            _http.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
