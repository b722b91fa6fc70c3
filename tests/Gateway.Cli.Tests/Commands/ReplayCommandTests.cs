using System.Buffers.Binary;
using System.Text.Json;
using Gateway.CaptureGenerator;
using SharpPcap;

namespace Gateway.Cli.Commands.Tests;

public sealed class ReplayCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gateway-replay-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Temp(string name) => Path.Combine(_folder, name);

    private static string Capture(string name) => Path.Combine(CliHost.Captures, name);

    // ---------------------------------------------------------------- golden

    [Theory]
    [MemberData(nameof(CliHost.CorpusNames), MemberType = typeof(CliHost))]
    public void Replay_OfEveryCorpusCapture_WritesTheExpectedOutputByteForByte(string name)
    {
        var entry = CliHost.Corpus().Single(c => c.Name == name);
        string output = Temp("out" + Path.GetExtension(entry.Expected));
        string stats = Temp("stats.json");
        var args = new List<string> { "replay", Capture(entry.Input), "-o", output, "--bindings", Capture(entry.Bindings), "--stats-json", stats };
        if (entry.Events != null)
        {
            args.AddRange(["--events", Capture(entry.Events)]);
        }

        var (code, stdout, stderr) = CliHost.Run([.. args]);

        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllBytes(Capture(entry.Expected)), File.ReadAllBytes(output));
        Assert.Equal(ParseStats(File.ReadAllText(Capture(entry.Stats))), ParseStats(File.ReadAllText(stats)));
        Assert.Contains("Actual: ", stdout, StringComparison.Ordinal);
    }

    private static string ParseStats(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var drops = root.GetProperty("drops").EnumerateObject().Select(p => $"{p.Name}={p.Value.GetInt64()}").Order();
        return $"received={root.GetProperty("received").GetInt64()} transmitted={root.GetProperty("transmitted").GetInt64()} dropped={root.GetProperty("dropped").GetInt64()} drops: {string.Join(",", drops)}";
    }

    [Fact]
    public void Replay_SummaryCountsPacketsInOutAndDropsByReason()
    {
        var (code, stdout, _) = CliHost.Run("replay", Capture("drops.pcap"), "-o", Temp("o.pcap"), "--bindings", Capture("corpus.bindings.json"));
        Assert.Equal(0, code);
        Assert.Matches(@"Actual: 16 packets \(\d+ bytes\) replayed in [\d.]+ seconds", stdout);
        Assert.Matches(@"Rated: [\d.]+ Bps, [\d.]+ Mbps, [\d.]+ pps", stdout);
        Assert.Matches(@"Packets in:\s+16", stdout);
        Assert.Matches(@"Packets out:\s+2", stdout);
        Assert.Matches(@"Dropped packets:\s+14", stdout);
        Assert.Matches(@"not-ipv4:\s+3", stdout);
        Assert.Matches(@"malformed:\s+7", stdout);
        Assert.Matches(@"bad-ip-checksum:\s+1", stdout);
        Assert.Matches(@"no-binding:\s+2", stdout);
        Assert.Matches(@"icmp-inner-mismatch:\s+1", stdout);
    }

    [Fact]
    public void Replay_FromStandardInputToStandardOutput_StreamsTheSameBytes()
    {
        var (code, stdout, stderr) = CliHost.RunProcess(File.ReadAllBytes(Capture("mixed.pcap")),
            "replay", "-", "-o", "-", "--bindings", Capture("mixed.bindings.json"));
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllBytes(Capture("mixed.expected.pcap")), stdout);
        Assert.Contains("Actual: ", stderr, StringComparison.Ordinal); // the summary moves to stderr
    }

    [Fact]
    public void Replay_PcapInputToPcapngOutput_KeepsFramesAndTimestamps()
    {
        string output = Temp("mixed.pcapng");
        Assert.Equal(0, CliHost.Run("replay", Capture("mixed.pcap"), "-o", output, "--bindings", Capture("mixed.bindings.json")).Code);
        var expected = SharpPcapFrames(Capture("mixed.expected.pcap"));
        Assert.Equal(expected, SharpPcapFrames(output));
    }

    private static List<string> SharpPcapFrames(string path)
    {
        var frames = new List<string>();
        using var device = new SharpPcap.LibPcap.CaptureFileReaderDevice(path);
        device.Open();
        while (device.GetNextPacket(out SharpPcap.PacketCapture capture) == SharpPcap.GetPacketStatus.PacketRead)
        {
            var raw = capture.GetPacket();
            frames.Add($"{raw.Timeval.Seconds}.{raw.Timeval.MicroSeconds:D6} {Convert.ToHexString(raw.Data)}");
        }
        return frames;
    }

    // ---------------------------------------------------------------- bindings and events errors: exit 2, nothing written

    [Theory]
    [InlineData("{\"bindings\":[{\"publicIp\":\"198.51.100.300\",\"privateIp\":\"10.0.0.5\"}]}", "bindings[0]: publicIp \"198.51.100.300\" is not an IPv4 address")]
    [InlineData("{\"bindings\":[{\"publicIp\":\"198.51.100.10\",\"privateIp\":\"10.0.0.5\"},{\"publicIp\":\"198.51.100.10\",\"privateIp\":\"10.0.0.6\"}]}", "bindings[1]: publicIp 198.51.100.10 is already bound by bindings[0]")]
    [InlineData("{\"bindings\":[{\"publicIp\":\"198.51.100.10\",\"privateIp\":\"10.0.0.5\"},{\"publicIp\":\"198.51.100.11\",\"privateIp\":\"10.0.0.5\"}]}", "bindings[1]: privateIp 10.0.0.5 is already bound by bindings[0]")]
    [InlineData("{\"bindings\":[{\"publicIp\":\"198.51.100.10\"}]}", "bindings[0]: \"privateIp\" is missing")]
    [InlineData("{\"bindings\":[{\"publicIp\":\"198.51.100.10\",\"privateIP\":\"10.0.0.5\"}]}", "bindings[0]: unknown field \"privateIP\"")]
    [InlineData("{\"bindings\":[{\"publicIp\":\"0.0.0.0\",\"privateIp\":\"10.0.0.5\"}]}", "bindings[0]: publicIp 0.0.0.0 is not a host address")]
    [InlineData("{\"bindings\":[{\"publicIp\":\"198.51.100.10\",\"privateIp\":\"10.0.0.5\"}", "not valid JSON at line 1")]
    [InlineData("[]", "expected an object with a \"bindings\" array")]
    public void Replay_WithInvalidBindings_ExitsTwoNamingTheEntryAndWritesNothing(string json, string message)
    {
        File.WriteAllText(Temp("bindings.json"), json);
        var (code, stdout, stderr) = CliHost.Run("replay", Capture("mixed.pcap"), "-o", Temp("out.pcap"), "--bindings", Temp("bindings.json"), "--stats-json", Temp("stats.json"));
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Contains("bindings.json", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.Equal(["bindings.json"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("{\"at\":1,\"op\":\"move\",\"publicIp\":\"198.51.100.10\"}", "line 1: \"op\" must be")]
    [InlineData("\n{\"at\":\"soon\",\"op\":\"bind\",\"publicIp\":\"198.51.100.10\",\"privateIp\":\"10.0.0.5\"}", "line 2: \"at\" must be a capture time")]
    [InlineData("{\"at\":1,\"op\":\"bind\",\"publicIp\":\"198.51.100.10\"}", "line 1: \"privateIp\" is missing")]
    [InlineData("{\"at\":1,\"op\":\"bind\",\"publicIp\":\"198.51.100.10\",\"privateIp\":\"10.0.0\"}", "line 1: privateIp \"10.0.0\" is not an IPv4 address")]
    [InlineData("{\"at\":1,", "line 1: not valid JSON")]
    public void Replay_WithInvalidEvents_ExitsTwoNamingTheLineAndWritesNothing(string lines, string message)
    {
        File.WriteAllText(Temp("events.jsonl"), lines);
        var (code, _, stderr) = CliHost.Run("replay", Capture("rebinding.pcap"), "-o", Temp("out.pcap"), "--bindings", Capture("rebinding.bindings.json"), "--events", Temp("events.jsonl"));
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Equal(["events.jsonl"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(new[] { "replay" }, "-o is required")]
    [InlineData(new[] { "replay", "-o", "x.pcap", "--bindings", "b.json" }, "the input capture is missing")]
    [InlineData(new[] { "replay", "a.pcap", "b.pcap", "-o", "x.pcap", "--bindings", "b.json" }, "one input capture expected")]
    [InlineData(new[] { "replay", "a.pcap", "-o", "x.pcap", "--bindings", "b.json", "--speed", "2" }, "unknown option --speed")]
    public void Replay_WithABadCommandLine_ExitsTwo(string[] args, string message)
    {
        var (code, _, stderr) = CliHost.Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_WithAMissingBindingsFile_ExitsTwo()
    {
        var (code, _, stderr) = CliHost.Run("replay", Capture("mixed.pcap"), "-o", Temp("out.pcap"), "--bindings", Temp("nope.json"));
        Assert.Equal(2, code);
        Assert.Contains("cannot read the bindings file", stderr, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- input errors: exit 1, nothing written

    [Fact]
    public void Replay_OfAMissingInput_ExitsOne()
    {
        var (code, _, stderr) = CliHost.Run("replay", Temp("nope.pcap"), "-o", Temp("out.pcap"), "--bindings", Capture("mixed.bindings.json"));
        Assert.Equal(1, code);
        Assert.Contains("nope.pcap: no such file", stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_folder));
    }

    [Fact]
    public void Replay_OfACorruptCapture_ExitsOneWithRecordAndOffsetAndLeavesNoOutput()
    {
        byte[] bytes = File.ReadAllBytes(Capture("mixed.pcap"));
        // Record 1 starts at 24; record 2 follows it. Make record 2's captured length absurd.
        int second = 24 + 16 + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(24 + 8));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(second + 8), 0x7FFFFFFF);
        File.WriteAllBytes(Temp("corrupt.pcap"), bytes);
        File.WriteAllText(Temp("out.pcap"), "an older output that must survive");

        var (code, _, stderr) = CliHost.Run("replay", Temp("corrupt.pcap"), "-o", Temp("out.pcap"), "--bindings", Capture("mixed.bindings.json"), "--stats-json", Temp("stats.json"));

        Assert.Equal(1, code);
        Assert.Contains($"record 2 at byte offset {second}", stderr, StringComparison.Ordinal);
        Assert.Equal("an older output that must survive", File.ReadAllText(Temp("out.pcap")));
        Assert.Equal(["corrupt.pcap", "out.pcap"], Directory.GetFiles(_folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Replay_OfAnUnsupportedLinkType_ExitsOneNamingIt()
    {
        File.WriteAllBytes(Temp("wifi.pcap"), CaptureFiles.Pcap([new CaptureRecord(1_700_000_000_000_000_000, new byte[40], 40)], 105, 65535, false, false));
        var (code, _, stderr) = CliHost.Run("replay", Temp("wifi.pcap"), "-o", Temp("out.pcap"), "--bindings", Capture("mixed.bindings.json"));
        Assert.Equal(1, code);
        Assert.Contains("link type 105 (IEEE 802.11 wireless) is not supported", stderr, StringComparison.Ordinal);
        Assert.Contains("record 1 at byte offset 24", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Temp("out.pcap")));
    }

    [Fact]
    public void Replay_OfACaptureCutShort_WarnsWithTheOffsetAndWritesEverythingBefore()
    {
        byte[] bytes = File.ReadAllBytes(Capture("mixed.pcap"));
        File.WriteAllBytes(Temp("cut.pcap"), bytes[..^7]);
        var (code, stdout, stderr) = CliHost.Run("replay", Temp("cut.pcap"), "-o", Temp("out.pcap"), "--bindings", Capture("mixed.bindings.json"), "--stats-json", Temp("stats.json"));

        Assert.Equal(0, code);
        Assert.Matches(@"warning: the final record \(record \d+, at byte offset \d+\) is cut short", stderr);
        // The last record of mixed.pcap is a dropped one, so the output is the expected output whole.
        Assert.Equal(File.ReadAllBytes(Capture("mixed.expected.pcap")), File.ReadAllBytes(Temp("out.pcap")));
        using var stats = JsonDocument.Parse(File.ReadAllText(Temp("stats.json")));
        using var full = JsonDocument.Parse(File.ReadAllText(Capture("mixed.expected-stats.json")));
        Assert.Equal(full.RootElement.GetProperty("received").GetInt64() - 1, stats.RootElement.GetProperty("received").GetInt64());
        Assert.Contains("Actual: ", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_StatsJson_HasTheContractsShape()
    {
        Assert.Equal(0, CliHost.Run("replay", Capture("drops.pcap"), "-o", Temp("o.pcap"), "--bindings", Capture("corpus.bindings.json"), "--stats-json", Temp("s.json")).Code);
        Assert.Equal("{\"received\":16,\"transmitted\":2,\"dropped\":14,\"drops\":{\"not-ipv4\":3,\"malformed\":7,\"bad-ip-checksum\":1,\"no-binding\":2,\"icmp-inner-mismatch\":1}}",
            File.ReadAllText(Temp("s.json")).Trim());
    }
}
