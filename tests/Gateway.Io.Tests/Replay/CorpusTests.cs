using Gateway.CaptureGenerator;
using Gateway.Io.Pcap.Tests;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Gateway.Io.Replay.Tests;

/// <summary>The corpus itself: regenerable, and its expected outputs right by an oracle other than the gateway.</summary>
public sealed class CorpusTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gateway-corpus-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Generator_ReproducesTheCommittedCorpusByteForByte()
    {
        Program.WriteCorpus(_folder);
        var generated = Directory.GetFiles(_folder).Select(Path.GetFileName).Order().ToList();
        var committed = Directory.GetFiles(Repository.Captures).Select(Path.GetFileName).Where(f => f != "README.md").Order().ToList();
        Assert.Equal(committed, generated);
        foreach (var file in generated)
        {
            Assert.True(File.ReadAllBytes(Path.Combine(_folder, file!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(Repository.Captures, file!))),
                $"captures/{file} differs from what the generator writes: run 'dotnet run --project captures/Generator -c Release -- corpus' and commit.");
        }
    }

    public static IEnumerable<object[]> Cases() => Corpus.Build().Select(c => new object[] { c.Name });

    /// <summary>
    /// Every expected frame, parsed by PacketDotNet: IPv4 header checksum valid, TCP/UDP/ICMP checksums valid where the
    /// whole packet was captured and is not a later fragment, inner (quoted) IPv4 header checksum valid. The only frame
    /// allowed a bad transport checksum is the one that arrived with it.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ExpectedOutputs_ChecksumsVerifyWithPacketDotNet(string name)
    {
        var capture = Corpus.Build().Single(c => c.Name == name);
        int checkedPackets = 0;
        foreach (var item in capture.Items.Where(i => i.Expected != null))
        {
            byte[] ip = IpPacketOf(item.Expected!, capture.LinkType);
            var packet = new IPv4Packet(new ByteArraySegment(ip));
            Assert.True(packet.ValidIPChecksum, $"{name}: {item.Note}: IPv4 header checksum");
            bool whole = item.CapturedLength < 0;
            bool later = packet.FragmentOffset != 0 || (packet.FragmentFlags & 1) != 0;
            bool corruptOnPurpose = item.Note.Contains("corrupt checksum", StringComparison.Ordinal);
            if (whole && !later)
            {
                switch (packet.PayloadPacket)
                {
                    case TcpPacket tcp:
                        Assert.True(tcp.ValidChecksum != corruptOnPurpose, $"{name}: {item.Note}: TCP checksum");
                        break;
                    case UdpPacket udp when udp.Checksum != 0:
                        Assert.True(udp.ValidChecksum, $"{name}: {item.Note}: UDP checksum");
                        break;
                    case IcmpV4Packet icmp:
                        Assert.True(icmp.ValidIcmpChecksum, $"{name}: {item.Note}: ICMP checksum");
                        if (icmp.TypeCode.ToString().StartsWith("Unreachable", StringComparison.Ordinal) || icmp.TypeCode.ToString().StartsWith("TimeExceeded", StringComparison.Ordinal))
                        {
                            byte[] inner = ip[(((ip[0] & 0x0F) * 4) + 8)..];
                            int innerHeader = (inner[0] & 0x0F) * 4;
                            Assert.True(Gateway.Packets.Checksum.Verifies(inner.AsSpan(0, innerHeader)), $"{name}: {item.Note}: quoted IPv4 header checksum");
                        }
                        break;
                    default:
                        break;
                }
            }
            checkedPackets++;
        }
        Assert.True(checkedPackets > 0);
    }

    /// <summary>The generator's model says where each forwarded frame goes; PacketDotNet must read those addresses back.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ExpectedOutputs_CarryOnlyTranslatedAddresses(string name)
    {
        var capture = Corpus.Build().Single(c => c.Name == name);
        var publicAddresses = new HashSet<string>([Corpus.APublic, Corpus.BPublic, Corpus.CPublic, "198.51.100.20", "198.51.100.21"]);
        var privateAddresses = new HashSet<string>([Corpus.A, Corpus.B, Corpus.C, "10.0.0.7", "10.0.0.8"]);
        foreach (var item in capture.Items.Where(i => i.Expected != null))
        {
            var input = new IPv4Packet(new ByteArraySegment(IpPacketOf(item.Input, capture.LinkType)));
            var output = new IPv4Packet(new ByteArraySegment(IpPacketOf(item.Expected!, capture.LinkType)));
            // A public destination never leaves as public, a private source never leaves as private.
            Assert.DoesNotContain(output.DestinationAddress.ToString(), publicAddresses);
            Assert.DoesNotContain(output.SourceAddress.ToString(), privateAddresses);
            // Something was rewritten, and only the addresses: the rest of the header is as it came.
            Assert.True(!input.SourceAddress.Equals(output.SourceAddress) || !input.DestinationAddress.Equals(output.DestinationAddress), item.Note);
            Assert.Equal(input.TimeToLive, output.TimeToLive);
            Assert.Equal(input.Id, output.Id);
            Assert.Equal(input.TotalLength, output.TotalLength);
            Assert.Equal(item.Input.Length, item.Expected!.Length);
        }
    }

    private static byte[] IpPacketOf(byte[] frame, int linkType)
    {
        switch (linkType)
        {
            case 1:
                int at = 12;
                while (frame[at] is 0x81 or 0x88 or 0x91 && frame[at + 1] is 0x00 or 0xA8)
                {
                    at += 4;
                }
                return frame[(at + 2)..];
            case 113:
                return frame[16..];
            case 276:
                return frame[20..];
            default:
                return frame;
        }
    }
}
