using System.Buffers.Binary;
using System.Text.Json;
using SharpPcap;
using static Gateway.TestSupport.HostileCaptures;

namespace Gateway.Cli.Commands.Tests;

/// <summary>
/// <c>gateway replay</c> on hostile captures: exit 1 with a message naming where the input goes wrong, and no
/// output, stats or temporary file left behind; inputs that are odd but readable replay normally.
/// </summary>
public sealed class ReplayHostileInputTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gateway-hostile-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Temp(string name) => Path.Combine(_folder, name);

    private static string Capture(string name) => Path.Combine(CliHost.Captures, name);

    public static TheoryData<string, byte[], string> HostileInputs() => new()
    {
        { "a text file", "GET / HTTP/1.1\r\nHost: example\r\n\r\n"u8.ToArray(), "not a pcap or pcapng capture (magic number 0x47455420 at byte offset 0)" },
        { "an empty file", [], "the input is empty" },
        { "random bytes", [.. Enumerable.Range(0, 300).Select(i => (byte)((i * 37) + 11))], "magic number 0x0B30557A at byte offset 0" },
        { "a pcapng SHB with a bad byte-order magic", [.. Shb(byteOrderMagic: 0x01020304), .. Idb(), .. Epb(0, Frame(60))], "block 1 at byte offset 0: section header block with byte-order magic 0x01020304" },
        { "a pcapng cut inside its SHB", Shb()[..20], "only 20 bytes of a pcapng section header block (at byte offset 0)" },
        { "a pcap record claiming 2 GiB", [.. PcapHeader(), .. PcapRecord(Frame(60)), .. PcapRecord(0x80000000, 60, Frame(60))], "record 2 at byte offset 100: captured length 2147483648 exceeds the 262144-byte limit" },
        { "a pcapng EPB claiming 2 GiB", [.. Shb(), .. Idb(), .. Block(6, Frame(40), length: 0x80000000)], "block 3 at byte offset 48: enhanced packet block: block length 2147483648 exceeds the limit" },
        { "a pcapng block length of 13", [.. Shb(), .. Idb(), .. Block(0xBAD, Frame(20), length: 13)], "block 3 at byte offset 48: block of type 0x00000BAD: block length 13 is not a multiple of 4" },
        { "an EPB on an undeclared interface", [.. Shb(), .. Idb(), .. Epb(3, Frame(60))], "block 3 at byte offset 48: enhanced packet block: it refers to interface 3, but this section declared 1 interface(s)" },
        { "an IDB with an unknown link type", [.. Shb(), .. Idb(linkType: 147), .. Epb(0, Frame(60))], "block 3 at byte offset 48: link type 147 is not supported" },
        { "an absurd if_tsresol", [.. Shb(), .. Idb(options: [.. Option(9, [0xFF]), .. EndOfOptions]), .. Epb(0, Frame(60))], "block 2 at byte offset 28: interface description block: if_tsresol 0xFF" },
    };

    [Theory]
    [MemberData(nameof(HostileInputs))]
    public void Replay_OfAHostileCapture_ExitsOneNamingTheOffsetAndLeavesNothingBehind(string what, byte[] bytes, string message)
    {
        File.WriteAllBytes(Temp("hostile.cap"), bytes);
        foreach (string output in new[] { "out.pcap", "out.pcapng" })
        {
            var (code, stdout, stderr) = CliHost.Run("replay", Temp("hostile.cap"), "-o", Temp(output), "--bindings", Capture("mixed.bindings.json"), "--stats-json", Temp("stats.json"));

            Assert.True(code == 1, $"{what} → {output}: exit {code}, {stderr}");
            Assert.True(stderr.Contains(message, StringComparison.Ordinal), $"{what}: {stderr}");
            Assert.Contains("hostile.cap", stderr, StringComparison.Ordinal);
            Assert.Contains("Nothing was written.", stderr, StringComparison.Ordinal);
            Assert.Equal("", stdout);
            // No output, no stats, no temporary file (they start with a dot).
            Assert.Equal(["hostile.cap"], Directory.GetFiles(_folder).Select(Path.GetFileName));
        }
    }

    [Fact]
    public void Replay_OfAHostileCaptureOnStandardInput_ExitsOneNamingTheOffset()
    {
        byte[] bytes = [.. Shb(), .. Idb(), .. Epb(0, Frame(60)), .. Epb(9, Frame(60))];
        var (code, stdout, stderr) = CliHost.RunProcess(bytes, "replay", "-", "-o", "-", "--bindings", Capture("mixed.bindings.json"));
        Assert.Equal(1, code);
        Assert.Contains("standard input: block 4 at byte offset 140: enhanced packet block: it refers to interface 9", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        Assert.True(stdout.Length <= 28 + 20 + 92, $"{stdout.Length} bytes on standard output"); // at most what preceded the bad block
    }

    [Fact]
    public void Replay_OfZeroLengthRecords_CountsThemMalformedAndGoesOn()
    {
        byte[] mixed = File.ReadAllBytes(Capture("mixed.pcap"));
        int firstLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(mixed.AsSpan(24 + 8));
        byte[] first = mixed[24..(24 + 16 + firstLength)];
        // Two empty records (one claiming 60 bytes on the wire) around mixed.pcap's first record.
        File.WriteAllBytes(Temp("empty-records.pcap"), [.. mixed[..24], .. PcapRecord(0, 0, []), .. first, .. PcapRecord(0, 60, [])]);
        var (code, _, stderr) = CliHost.Run("replay", Temp("empty-records.pcap"), "-o", Temp("out.pcap"), "--bindings", Capture("mixed.bindings.json"), "--stats-json", Temp("stats.json"));

        Assert.True(code == 0, stderr);
        using var stats = JsonDocument.Parse(File.ReadAllText(Temp("stats.json")));
        Assert.Equal(3, stats.RootElement.GetProperty("received").GetInt64());
        Assert.Equal(2, stats.RootElement.GetProperty("drops").GetProperty("malformed").GetInt64());
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0x80000000u)]
    [InlineData(0xFFFFFFFFu)]
    public void Replay_OfAnAbsurdSnapLength_TranslatesAsUsual(uint snapLength)
    {
        byte[] mixed = File.ReadAllBytes(Capture("mixed.pcap"));
        BinaryPrimitives.WriteUInt32LittleEndian(mixed.AsSpan(16), snapLength);
        File.WriteAllBytes(Temp("snap.pcap"), mixed);
        var (code, _, stderr) = CliHost.Run("replay", Temp("snap.pcap"), "-o", Temp("out.pcap"), "--bindings", Capture("mixed.bindings.json"));

        Assert.True(code == 0, stderr);
        byte[] expected = File.ReadAllBytes(Capture("mixed.expected.pcap"));
        byte[] actual = File.ReadAllBytes(Temp("out.pcap"));
        // The same records; only the header's snap length may differ (0 is written as the 262144 maximum).
        Assert.Equal(expected[24..], actual[24..]);
        Assert.Equal(expected[..16], actual[..16]);
        // libpcap reads every record of the output back.
        using var device = new SharpPcap.LibPcap.CaptureFileReaderDevice(Temp("out.pcap"));
        device.Open();
        int frames = 0;
        while (device.GetNextPacket(out _) == GetPacketStatus.PacketRead)
        {
            frames++;
        }
        Assert.True(frames > 0);
        Assert.Equal(GetPacketStatus.NoRemainingPackets, device.GetNextPacket(out _));
    }
}
