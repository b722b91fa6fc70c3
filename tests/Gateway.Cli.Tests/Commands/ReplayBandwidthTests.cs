using System.Text.Json;
using Gateway.CaptureGenerator;

namespace Gateway.Cli.Commands.Tests;

/// <summary>
/// Caps in a replay: the policer runs on the capture's timestamps, so what passes is a function of the input alone.
/// The captures are written by the generator's own pcap writer; the frames by PacketDotNet.
/// </summary>
public sealed class ReplayBandwidthTests : IDisposable
{
    private const long Second = 1_000_000_000;
    private const long Start = 1_700_000_000 * Second;
    private readonly string _folder = Directory.CreateTempSubdirectory("gateway-replay-caps-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Temp(string name) => Path.Combine(_folder, name);

    /// <summary>UDP packets of 1,250 IPv4 bytes, one every <paramref name="gapNs"/>, for <paramref name="durationNs"/>.</summary>
    private string Capture(string name, string source, string destination, long gapNs, long durationNs)
    {
        byte[] frame = Gateway.TestSupport.Frames.Udp(source, destination, 40000, 5001, new byte[1250 - 28]);
        var records = new List<CaptureRecord>();
        for (long t = 0; t < durationNs; t += gapNs)
        {
            records.Add(new CaptureRecord(Start + t, frame, frame.Length));
        }
        string path = Temp(name);
        File.WriteAllBytes(path, CaptureFiles.Pcap(records, 1, 65535, nanoseconds: true, bigEndian: false));
        return path;
    }

    private string Bindings(string json)
    {
        string path = Temp($"b{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private (JsonElement Stats, byte[] Output) Replay(string capture, string bindings, string? events = null)
    {
        string output = Temp($"o{Guid.NewGuid():N}.pcap");
        string stats = Temp($"s{Guid.NewGuid():N}.json");
        var args = new List<string> { "replay", capture, "-o", output, "--bindings", bindings, "--stats-json", stats };
        if (events is not null)
        {
            args.AddRange(["--events", events]);
        }
        var (code, _, stderr) = CliHost.Run([.. args]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(stats));
        return (doc.RootElement.Clone(), File.ReadAllBytes(output));
    }

    [Theory]
    [InlineData("outbound", "10.0.0.5", "203.0.113.7", "\"bandwidthOutMbps\": 5", 5)]
    [InlineData("inbound", "203.0.113.7", "198.51.100.10", "\"bandwidthOutMbps\": 20, \"bandwidthInMbps\": 5", 5)]
    [InlineData("inbound by the rule", "203.0.113.7", "198.51.100.10", "\"bandwidthOutMbps\": 2", 10)]
    public void TwiceTheCapForTwoSeconds_ForwardsTheCapTimesTwoSecondsPlusOneBucket_WithinOnePacket(string direction, string source, string destination, string caps, int capMbps)
    {
        // Offered: twice the cap, as 1,250-byte packets evenly spaced, for 2 s.
        long bytesPerSecond = capMbps * 1_000_000L / 8;
        long gap = Second * 1250 / (2 * bytesPerSecond);
        string capture = Capture($"{direction}.pcap", source, destination, gap, 2 * Second);
        string bindings = Bindings($$"""{"bindings":[{"publicIp":"198.51.100.10","privateIp":"10.0.0.5", {{caps}} }]}""");

        var (stats, output) = Replay(capture, bindings);

        long expectedBytes = (2 * bytesPerSecond) + (bytesPerSecond / 20); // cap × 2 s + 50 ms of the cap
        long forwarded = stats.GetProperty("transmitted").GetInt64();
        Assert.InRange(forwarded * 1250, expectedBytes - 1250, expectedBytes + 1250);
        long offered = stats.GetProperty("received").GetInt64();
        Assert.Equal(offered - forwarded, stats.GetProperty("drops").GetProperty("bandwidth-exceeded").GetInt64());
        var meter = stats.GetProperty("bandwidth")[0];
        string field = direction == "outbound" ? "out" : "in";
        Assert.Equal(forwarded * 1250, meter.GetProperty(field + "Bytes").GetInt64());
        Assert.Equal(offered - forwarded, meter.GetProperty(field + "DroppedPackets").GetInt64());

        // Deterministic: a second run writes the same bytes and counts the same drops.
        var (again, output2) = Replay(capture, bindings);
        Assert.Equal(output, output2);
        Assert.Equal(stats.GetRawText(), again.GetRawText());
    }

    [Fact]
    public void BandwidthEvent_RaisesTheCapAtItsCaptureTime()
    {
        // 10 Mbps offered for 2 s against 2 Mbps, raised to 20 Mbps at 1 s: the second half passes whole.
        string capture = Capture("raise.pcap", "10.0.0.5", "203.0.113.7", Second / 1000, 2 * Second);
        string bindings = Bindings("""{"bindings":[{"publicIp":"198.51.100.10","privateIp":"10.0.0.5","bandwidthOutMbps":2}]}""");
        string events = Temp("raise.jsonl");
        File.WriteAllText(events, """{"at":1700000001.0,"op":"bandwidth","publicIp":"198.51.100.10","bandwidthOutMbps":20}""" + "\n");

        var (stats, _) = Replay(capture, bindings, events);

        // First second: 2 Mbps × 1 s + one bucket = 262,500 B = 210 packets; second second: all 1,000.
        long forwarded = stats.GetProperty("transmitted").GetInt64();
        Assert.InRange(forwarded, 1000 + 209, 1000 + 211);
    }

    [Fact]
    public void Caps_OutOfRangeOrMisspelt_AreConfigurationErrors_NothingWritten()
    {
        string capture = Capture("c.pcap", "10.0.0.5", "203.0.113.7", Second / 100, Second);
        foreach (var (json, message) in new[]
        {
            ("""{"bindings":[{"publicIp":"198.51.100.10","privateIp":"10.0.0.5","bandwidthOutMbps":0}]}""", "bandwidthOutMbps 0 must be"),
            ("""{"bindings":[{"publicIp":"198.51.100.10","privateIp":"10.0.0.5","bandwidthOutMbps":0.0005}]}""", "at most three decimals"),
            ("""{"bindings":[{"publicIp":"198.51.100.10","privateIp":"10.0.0.5","bandwidthOutMbps":"5"}]}""", "is not a number of Mbps"),
            ("""{"bindings":[{"publicIp":"198.51.100.10","privateIp":"10.0.0.5","bandwidthMbps":5}]}""", "unknown field \"bandwidthMbps\""),
        })
        {
            string output = Temp("never.pcap");
            var (code, _, stderr) = CliHost.Run("replay", capture, "-o", output, "--bindings", Bindings(json));
            Assert.Equal(2, code);
            Assert.Contains(message, stderr, StringComparison.Ordinal);
            Assert.Contains("bindings[0]", stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(output));
        }
    }
}
