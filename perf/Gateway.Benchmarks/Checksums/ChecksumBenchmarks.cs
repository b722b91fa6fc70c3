using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Gateway.Bench;
using Gateway.Packets;

namespace Gateway.Benchmarks.Checksums;

/// <summary>
/// The checksum work of one translated frame: the incremental RFC 1624 update the translator does, against
/// recomputing the IPv4 header checksum from scratch (the baseline), and the RFC 1071 verification every frame pays.
/// </summary>
[MemoryDiagnoser]
public class ChecksumBenchmarks
{
    private const int Headers = 1024;

    private readonly byte[] _headers = new byte[Headers * Ipv4.MinHeaderLength];
    private readonly uint[] _newAddresses = new uint[Headers];
    private readonly byte[] _frame1500 = new byte[1514];

    [GlobalSetup]
    public void Setup()
    {
        var frame = new byte[60];
        for (int i = 0; i < Headers; i++)
        {
            SyntheticFrames.Write(frame, TrafficKind.Udp, BenchAddresses.Remote((uint)i), BenchAddresses.Public(i));
            frame.AsSpan(Ethernet.HeaderLength, Ipv4.MinHeaderLength).CopyTo(_headers.AsSpan(i * Ipv4.MinHeaderLength));
            _newAddresses[i] = BenchAddresses.Private(i, 0);
        }
        SyntheticFrames.Write(_frame1500, TrafficKind.Udp, BenchAddresses.Remote(1), BenchAddresses.Public(1));
    }

    /// <summary>Rewrite the destination, then recompute the header checksum over all 20 bytes (what the translator avoids).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Headers)]
    public int RecomputeIpv4HeaderChecksum()
    {
        int sink = 0;
        for (int i = 0; i < Headers; i++)
        {
            var header = _headers.AsSpan(i * Ipv4.MinHeaderLength, Ipv4.MinHeaderLength);
            BinaryPrimitives.WriteUInt16BigEndian(header.Slice(Ipv4.ChecksumOffset), 0);
            ushort checksum = Checksum.Compute(header);
            BinaryPrimitives.WriteUInt16BigEndian(header.Slice(Ipv4.ChecksumOffset), checksum);
            sink += checksum;
        }
        return sink;
    }

    /// <summary>RFC 1624 eqn. 3 for a rewritten 32-bit address, as the translator does it.</summary>
    [Benchmark(OperationsPerInvoke = Headers)]
    public int UpdateIpv4HeaderChecksumIncrementally()
    {
        int sink = 0;
        for (int i = 0; i < Headers; i++)
        {
            var header = _headers.AsSpan(i * Ipv4.MinHeaderLength, Ipv4.MinHeaderLength);
            uint old = BinaryPrimitives.ReadUInt32BigEndian(header.Slice(Ipv4.DestinationOffset));
            ushort checksum = Checksum.Update32(BinaryPrimitives.ReadUInt16BigEndian(header.Slice(Ipv4.ChecksumOffset)), old, _newAddresses[i]);
            BinaryPrimitives.WriteUInt16BigEndian(header.Slice(Ipv4.ChecksumOffset), checksum);
            sink += checksum;
        }
        return sink;
    }

    /// <summary>RFC 1071 verification of a 20-byte IPv4 header (every frame, before anything is written).</summary>
    [Benchmark(OperationsPerInvoke = Headers)]
    public int VerifyIpv4Header()
    {
        int valid = 0;
        for (int i = 0; i < Headers; i++)
        {
            valid += Checksum.Verifies(_headers.AsSpan(i * Ipv4.MinHeaderLength, Ipv4.MinHeaderLength)) ? 1 : 0;
        }
        return valid;
    }

    /// <summary>A from-scratch sum over a 1500-byte packet: what recomputing a TCP/UDP checksum would cost per full-size frame.</summary>
    [Benchmark]
    public uint Sum1500Bytes() => Checksum.Sum(_frame1500.AsSpan(Ethernet.HeaderLength));
}
