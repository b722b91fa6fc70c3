using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Gateway.Bench;
using Gateway.DataPlane.Translation;
using Gateway.Packets;
using PacketDotNet;

namespace Gateway.Benchmarks.Parsing;

/// <summary>
/// Finding and validating the IPv4 header of a frame: the span-based walk the translator does (past 0, 1 or 2 VLAN
/// tags) against PacketDotNet parsing the same frames into objects (the baseline; note its allocation column).
/// </summary>
[MemoryDiagnoser]
public class HeaderParsingBenchmarks
{
    private const int Frames = 1024;
    private const int Stride = 128;

    private readonly byte[] _frames = new byte[Frames * Stride];
    private readonly byte[][] _frameArrays = new byte[Frames][];
    private readonly int[] _lengths = new int[Frames];

    /// <summary>VLAN tags in front of the IPv4 header: none, 802.1Q, or 802.1ad + 802.1Q (QinQ).</summary>
    [Params(0, 1, 2)]
    public int Tags { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var untagged = new byte[60];
        for (int i = 0; i < Frames; i++)
        {
            SyntheticFrames.Write(untagged, i % 2 == 0 ? TrafficKind.Tcp : TrafficKind.Udp, BenchAddresses.Remote((uint)i), BenchAddresses.Public(i));
            var frame = _frames.AsSpan(i * Stride, Stride);
            untagged.AsSpan(0, Ethernet.TypeOffset).CopyTo(frame);
            int at = Ethernet.TypeOffset;
            for (int t = 0; t < Tags; t++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(at), t == 0 && Tags == 2 ? Ethernet.TypeQinQ : Ethernet.TypeVlan);
                BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(at + 2), (ushort)(100 + t));
                at += Ethernet.VlanTagLength;
            }
            untagged.AsSpan(Ethernet.TypeOffset).CopyTo(frame.Slice(at));
            _lengths[i] = at + untagged.Length - Ethernet.TypeOffset;
            _frameArrays[i] = frame.Slice(0, _lengths[i]).ToArray();
        }
    }

    /// <summary>PacketDotNet: parse to objects, then check the IPv4 header checksum.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Frames)]
    public int PacketDotNetParse()
    {
        int valid = 0;
        for (int i = 0; i < Frames; i++)
        {
            var ip = Packet.ParsePacket(LinkLayers.Ethernet, _frameArrays[i]).Extract<IPv4Packet>();
            valid += ip != null && ip.ValidIPChecksum ? 1 : 0;
        }
        return valid;
    }

    /// <summary>The translator's walk to the IPv4 header: EtherType and VLAN tags.</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public int FindIpv4()
    {
        int sum = 0;
        for (int i = 0; i < Frames; i++)
        {
            sum += Translator.FindIpv4(_frames.AsSpan(i * Stride, _lengths[i]), out _);
        }
        return sum;
    }

    /// <summary>The walk plus the IPv4 header checks the translator makes before any lookup (version, IHL, lengths, checksum).</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public int FindAndValidateIpv4()
    {
        int valid = 0;
        for (int i = 0; i < Frames; i++)
        {
            var frame = _frames.AsSpan(i * Stride, _lengths[i]);
            int l3 = Translator.FindIpv4(frame, out var reason);
            if (reason != DropReason.None)
            {
                continue;
            }
            var ip = frame.Slice(l3);
            int headerLength = (ip[Ipv4.VersionIhlOffset] & 0x0F) << 2;
            int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(Ipv4.TotalLengthOffset));
            if ((ip[0] >> 4) == 4 && headerLength >= Ipv4.MinHeaderLength && headerLength <= ip.Length
                && totalLength >= headerLength && totalLength <= ip.Length && Checksum.Verifies(ip.Slice(0, headerLength)))
            {
                valid++;
            }
        }
        return valid;
    }
}
