using System.Buffers.Binary;

namespace Gateway.Packets.Tests;

/// <summary>The 20-byte fast path of <see cref="Checksum.Verifies"/> must answer exactly as the general RFC 1071 sum.</summary>
public sealed class ChecksumFastPathTests
{
    private static bool Reference(ReadOnlySpan<byte> data) => Checksum.FoldTo16(Checksum.Sum(data)) == 0xFFFF;

    [Fact]
    public void Verifies_TwentyBytes_AgreesWithTheGeneralSum_OnRandomAndValidHeaders()
    {
        var random = new Random(20);
        var header = new byte[20];
        for (int i = 0; i < 200_000; i++)
        {
            random.NextBytes(header);
            if (i % 2 == 0)
            {
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0);
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), Checksum.Compute(header));
                Assert.True(Checksum.Verifies(header));
            }
            Assert.Equal(Reference(header), Checksum.Verifies(header));
        }
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0xFF)]
    public void Verifies_TwentyBytes_AgreesOnTheTwoZeros(byte fill)
    {
        var header = Enumerable.Repeat(fill, 20).ToArray();
        Assert.Equal(Reference(header), Checksum.Verifies(header));
    }

    [Fact]
    public void Verifies_OtherLengths_StillUseTheGeneralSum()
    {
        var random = new Random(24);
        for (int length = 0; length < 64; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Assert.Equal(Reference(data), Checksum.Verifies(data));
        }
    }
}
