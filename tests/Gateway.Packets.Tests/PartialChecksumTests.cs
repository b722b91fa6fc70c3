using System.Buffers.Binary;
using Gateway.TestSupport;

namespace Gateway.Packets.Tests;

/// <summary>
/// The update of a partial (pseudo-header) checksum, <see cref="Checksum.UpdatePartial32"/>, against a full recompute:
/// random pseudo-headers, and random TCP/UDP packets whose partial checksum, once updated for new addresses and
/// finished, must verify in PacketDotNet.
/// </summary>
public class PartialChecksumTests
{
    private static uint RandomAddress(Random random) => (uint)random.NextInt64(0, 1L << 32);

    /// <summary>One's-complement equality: 0x0000 and 0xFFFF are both zero.</summary>
    private static bool SameSum(ushort a, ushort b) => a == b || (a is 0 or 0xFFFF && b is 0 or 0xFFFF);

    [Fact]
    public void UpdatePartial32_OverRandomPseudoHeaders_EqualsTheRecomputedSum()
    {
        var random = new Random(1071);
        for (int i = 0; i < 200_000; i++)
        {
            uint source = RandomAddress(random), destination = RandomAddress(random);
            uint newSource = RandomAddress(random), newDestination = RandomAddress(random);
            byte protocol = random.Next(2) == 0 ? (byte)6 : (byte)17;
            int length = random.Next(8, 65_516);

            ushort partial = Independent(source, destination, protocol, length);
            ushort updated = Checksum.UpdatePartial32(partial, source, newSource);
            updated = Checksum.UpdatePartial32(updated, destination, newDestination);

            ushort expected = Independent(newSource, newDestination, protocol, length);
            Assert.True(SameSum(expected, updated), $"case {i}: {Convert.ToString(expected, 16)} != {Convert.ToString(updated, 16)}");
        }
    }

    [Fact]
    public void PseudoHeaderSum_IsTheFoldedSumOfTheFields()
    {
        var random = new Random(768);
        for (int i = 0; i < 10_000; i++)
        {
            uint source = RandomAddress(random), destination = RandomAddress(random);
            int length = random.Next(0, 65_536);
            Assert.Equal(Independent(source, destination, 17, length), Checksum.PseudoHeaderSum(source, destination, 17, length));
        }
    }

    [Fact]
    public void UpdatedPartialChecksums_OfRandomPackets_FinishToChecksumsPacketDotNetAccepts()
    {
        var random = new Random(1624);
        for (int i = 0; i < 2_000; i++)
        {
            string a = Address(random), b = Address(random);
            var payload = new byte[random.Next(0, 1500)];
            random.NextBytes(payload);
            bool udp = random.Next(2) == 0;
            byte[] frame = udp
                ? Frames.Udp(a, b, (ushort)random.Next(1, 65536), (ushort)random.Next(1, 65536), payload)
                : Frames.Tcp(a, b, (ushort)random.Next(1, 65536), (ushort)random.Next(1, 65536), payload);
            byte[] partial = PartialChecksums.MakePartial(frame);

            // Rewrite both addresses and update the partial field as a sum, as the translator does.
            int l3 = Frames.Ipv4Offset(partial);
            int field = PartialChecksums.TransportOffset(partial) + PartialChecksums.FieldOffset(partial);
            uint oldSource = BinaryPrimitives.ReadUInt32BigEndian(partial.AsSpan(l3 + 12));
            uint oldDestination = BinaryPrimitives.ReadUInt32BigEndian(partial.AsSpan(l3 + 16));
            uint newSource = RandomAddress(random), newDestination = RandomAddress(random);
            ushort value = BinaryPrimitives.ReadUInt16BigEndian(partial.AsSpan(field));
            value = Checksum.UpdatePartial32(value, oldSource, newSource);
            value = Checksum.UpdatePartial32(value, oldDestination, newDestination);
            BinaryPrimitives.WriteUInt16BigEndian(partial.AsSpan(field), value);
            WriteAddresses(partial, l3, newSource, newDestination);

            // The field is exactly what a sender would have put there for the new addresses...
            Assert.True(SameSum(PartialChecksums.PseudoHeaderSum(partial), value), $"case {i}");
            // ...and finishing it gives a checksum the independent oracle accepts.
            Oracle.AssertChecksumsValid(PartialChecksums.Finished(partial));
        }
    }

    [Fact]
    public void Rfc1624UpdateOfAPartialSum_IsWrong_WhichIsWhyPartialChecksumsHaveTheirOwnUpdate()
    {
        // RFC 1624 eqn. 3 treats the field as a complemented sum; a partial field is the sum itself. Find a case
        // where the two differ (they differ in most cases, since ~(~x + d) != x + d).
        uint source = 0x0A00000A, publicAddress = 0xC6336414, destination = 0xCB007105;
        ushort partial = Independent(source, destination, 6, 1480);
        ushort right = Checksum.UpdatePartial32(partial, source, publicAddress);
        ushort wrong = Checksum.Update32(partial, source, publicAddress);
        Assert.True(SameSum(Independent(publicAddress, destination, 6, 1480), right));
        Assert.False(SameSum(right, wrong));
    }

    private static string Address(Random random) =>
        $"{random.Next(1, 224)}.{random.Next(256)}.{random.Next(256)}.{random.Next(1, 255)}";

    private static void WriteAddresses(byte[] frame, int l3, uint source, uint destination)
    {
        // The IPv4 header checksum is a finished one: recompute it the plain way (it is not under test here).
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(l3 + 12), source);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(l3 + 16), destination);
        frame[l3 + 10] = 0;
        frame[l3 + 11] = 0;
        ulong sum = 0;
        for (int i = 0; i < 20; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + i));
        }
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 10), (ushort)~PartialChecksums.Fold(sum));
    }

    /// <summary>The pseudo-header sum computed word by word, as RFC 9293 §3.1 draws the pseudo-header.</summary>
    private static ushort Independent(uint source, uint destination, byte protocol, int length)
    {
        Span<byte> pseudo = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(pseudo, source);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo.Slice(4), destination);
        pseudo[8] = 0;
        pseudo[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.Slice(10), (ushort)length);
        ulong sum = 0;
        for (int i = 0; i < 12; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(pseudo.Slice(i));
        }
        return PartialChecksums.Fold(sum);
    }
}
