using System.Buffers.Binary;
using System.Net;
using Gateway.TestSupport;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Gateway.Packets.Tests;

public class ChecksumTests
{
    // RFC 1071 §3 numerical example: bytes 00 01 f2 03 f4 f5 f6 f7; their one's-complement sum is ddf2.
    private static readonly byte[] s_rfc1071Example = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7];

    [Fact]
    public void Sum_Rfc1071NumericalExample_IsDdf2()
    {
        Assert.Equal(0xDDF2, Checksum.FoldTo16(Checksum.Sum(s_rfc1071Example)));
    }

    [Fact]
    public void Compute_Rfc1071NumericalExample_IsComplementOfSum()
    {
        Assert.Equal(0x220D, Checksum.Compute(s_rfc1071Example));
    }

    [Fact]
    public void Sum_IsByteOrderIndependent_AsRfc1071Section2BSays()
    {
        // RFC 1071 §2(B): summing byte-swapped words gives the byte-swapped sum.
        byte[] swapped = new byte[s_rfc1071Example.Length];
        for (int i = 0; i < swapped.Length; i += 2)
        {
            swapped[i] = s_rfc1071Example[i + 1];
            swapped[i + 1] = s_rfc1071Example[i];
        }
        Assert.Equal(0xF2DD, Checksum.FoldTo16(Checksum.Sum(swapped)));
    }

    [Fact]
    public void Sum_OddLength_PadsTheLastByteWithZero()
    {
        Assert.Equal(Checksum.Sum([0x12, 0x34, 0x56, 0x00]), Checksum.Sum([0x12, 0x34, 0x56]));
        Assert.Equal(0x5600u, Checksum.Sum([0x56]));
    }

    [Fact]
    public void Sum_ContinuesFromARunningSum()
    {
        Assert.Equal(Checksum.Sum(s_rfc1071Example), Checksum.Sum(s_rfc1071Example.AsSpan(4), Checksum.Sum(s_rfc1071Example.AsSpan(0, 4))));
    }

    [Fact]
    public void Sum_ManyCarries_FoldsEndAround()
    {
        var ones = new byte[4096];
        Array.Fill(ones, (byte)0xFF);
        Assert.Equal(0xFFFF, Checksum.FoldTo16(Checksum.Sum(ones)));
        Assert.Equal(0x0000, Checksum.Compute(ones));
    }

    [Theory]
    [InlineData(0x0001FFFFu, 0x0001)]
    [InlineData(0xFFFFFFFFu, 0xFFFF)]
    [InlineData(0x0000FFFFu, 0xFFFF)]
    [InlineData(0u, 0x0000)]
    [InlineData(0x00010000u, 0x0001)]
    public void FoldTo16_AddsTheCarriesBack(uint sum, int expected)
    {
        Assert.Equal(expected, Checksum.FoldTo16(sum));
    }

    [Fact]
    public void Compute_ClassicIpv4Header_MatchesTheKnownChecksum()
    {
        // A well-known header (Wikipedia "IPv4 header checksum"): checksum b861.
        byte[] header = Convert.FromHexString("450000730000400040110000C0A80001C0A800C7");
        Assert.Equal(0xB861, Checksum.Compute(header));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0xB861);
        Assert.True(Checksum.Verifies(header));
    }

    [Fact]
    public void Compute_AgreesWithPacketDotNet_OnManyIpv4Headers()
    {
        var random = new Random(1071);
        for (int n = 0; n < 2000; n++)
        {
            int optionWords = random.Next(0, 11);
            var header = new byte[20 + (4 * optionWords)];
            random.NextBytes(header);
            header[0] = (byte)(0x40 | (5 + optionWords));
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)header.Length);
            header[10] = header[11] = 0;
            var ip = new IPv4Packet(new ByteArraySegment((byte[])header.Clone()));
            Assert.Equal(ip.CalculateIPChecksum(), Checksum.Compute(header));
        }
    }

    [Fact]
    public void Verifies_FrameBuiltByPacketDotNet_IsTrueAndFalseAfterAnyBitFlip()
    {
        byte[] header = Frames.Ipv4Packet(Frames.Tcp("198.51.100.10", "10.0.0.10", options: new FrameOptions { IpOptions = [0x94, 0x04, 0, 0] })).AsSpan(0, 24).ToArray();
        Assert.True(Checksum.Verifies(header));
        for (int bit = 0; bit < header.Length * 8; bit++)
        {
            header[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(Checksum.Verifies(header));
            header[bit / 8] ^= (byte)(1 << (bit % 8));
        }
    }

    [Fact]
    public void Update16_Rfc1624Section4Example_GivesPlusZeroNotMinusZero()
    {
        // RFC 1624 §4: sum of the other octets cd7a, m = 5555 → m' = 3285. HC = dd2f; recomputation gives 0000;
        // eqn. 2 would give the wrong ffff (-0); eqn. 3 gives 0000.
        Assert.Equal(0x0000, Checksum.Update16(0xDD2F, 0x5555, 0x3285));
        Assert.Equal(0x0000, (ushort)~Checksum.FoldTo16(0xCD7A + 0x3285));
    }

    [Fact]
    public void Update16_MatchesFullRecompute_ForRandomWordChanges()
    {
        var random = new Random(1624);
        for (int n = 0; n < 20000; n++)
        {
            var data = new byte[2 * random.Next(2, 40)];
            random.NextBytes(data);
            data[0] = data[1] = 0; // the checksum field
            BinaryPrimitives.WriteUInt16BigEndian(data, Checksum.Compute(data));
            int word = 2 * random.Next(1, data.Length / 2);
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(word));
            ushort newWord = (ushort)random.Next(0, 0x10000);
            ushort updated = Checksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(data), oldWord, newWord);

            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(word), newWord);
            data[0] = data[1] = 0;
            Assert.Equal(Checksum.Compute(data), updated);
        }
    }

    [Fact]
    public void Update32_MatchesFullRecompute_ForRandomAddressChanges()
    {
        var random = new Random(3022);
        for (int n = 0; n < 20000; n++)
        {
            var data = new byte[4 * random.Next(2, 20)];
            random.NextBytes(data);
            data[0] = data[1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(data, Checksum.Compute(data));
            int at = 4 * random.Next(1, data.Length / 4);
            uint oldValue = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
            uint newValue = (uint)random.NextInt64(0, 1L << 32);
            ushort updated = Checksum.Update32(BinaryPrimitives.ReadUInt16BigEndian(data), oldValue, newValue);

            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(at), newValue);
            data[0] = data[1] = 0;
            Assert.Equal(Checksum.Compute(data), updated);
        }
    }

    [Fact]
    public void Update32_AddressRewriteOnPacketDotNetTcpFrame_EqualsPacketDotNetsChecksumOfTheRewrittenFrame()
    {
        byte[] before = Frames.Ipv4Packet(Frames.Tcp("203.0.113.5", "198.51.100.10", payload: "hello"u8.ToArray()));
        byte[] after = Frames.Ipv4Packet(Frames.Tcp("203.0.113.5", "10.0.0.10", payload: "hello"u8.ToArray()));
        uint oldAddress = BinaryPrimitives.ReadUInt32BigEndian(before.AsSpan(16));
        uint newAddress = BinaryPrimitives.ReadUInt32BigEndian(after.AsSpan(16));
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(after.AsSpan(10)), Checksum.Update32(BinaryPrimitives.ReadUInt16BigEndian(before.AsSpan(10)), oldAddress, newAddress));
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(after.AsSpan(36)), Checksum.Update32(BinaryPrimitives.ReadUInt16BigEndian(before.AsSpan(36)), oldAddress, newAddress));
    }

    [Fact]
    public void Update16_NoChange_KeepsAnyChecksumButMinusZero()
    {
        for (int c = 0; c < 0xFFFF; c++)
        {
            Assert.Equal(c, Checksum.Update16((ushort)c, 0x1234, 0x1234));
        }
    }

    [Fact]
    public void Update16_MinusZeroInTheField_BecomesPlusZero_AndBothVerify()
    {
        // One's complement has two zeros. A field holding 0xFFFF (-0) is as valid as 0x0000 (+0): data + ffff ≡ data + 0.
        // RFC 1624 eqn. 3 normalises it: a no-op update of -0 yields +0. Both forms verify.
        Assert.Equal(0x0000, Checksum.Update16(0xFFFF, 0x1234, 0x1234));

        // Data whose sum is ffff, so its checksum is 0000, and with ffff in the field it verifies as well.
        byte[] data = [0x00, 0x00, 0x12, 0x34, 0xED, 0xCB];
        Assert.Equal(0x0000, Checksum.Compute(data));
        Assert.True(Checksum.Verifies(data));
        data[0] = data[1] = 0xFF;
        Assert.True(Checksum.Verifies(data));
    }

    [Fact]
    public void Update32_ThereAndBack_RestoresEveryChecksumExceptMinusZero()
    {
        // The round-trip property the translator's inverse-binding test relies on: c → c' → c'' = c for every c
        // except 0xFFFF, which comes back as 0x0000 (the other zero; both verify).
        uint a = 0xC633640A, b = 0x0A00000A;
        for (int c = 0; c <= 0xFFFF; c++)
        {
            ushort back = Checksum.Update32(Checksum.Update32((ushort)c, a, b), b, a);
            Assert.Equal(c == 0xFFFF ? 0x0000 : c, back);
        }
    }

    [Fact]
    public void Update32_NeverProducesMinusZero_WhenTheChangeIsReal()
    {
        var random = new Random(7);
        for (int n = 0; n < 100000; n++)
        {
            uint oldValue = (uint)random.NextInt64(1, 1L << 32), newValue = (uint)random.NextInt64(1, 1L << 32);
            Assert.NotEqual(0xFFFF, Checksum.Update32((ushort)random.Next(0, 0xFFFF), oldValue, newValue));
        }
    }
}
