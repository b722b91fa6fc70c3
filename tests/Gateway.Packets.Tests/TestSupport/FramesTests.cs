using System.Buffers.Binary;
using PacketDotNet;

namespace Gateway.TestSupport.Tests;

/// <summary>The builders and the oracle the other suites trust: they must build what they say and catch what is wrong.</summary>
public class FramesTests
{
    [Fact]
    public void Tcp_DefaultFrame_IsUntaggedIpv4WithTheRequestedFieldsAndValidChecksums()
    {
        byte[] frame = Frames.Tcp("203.0.113.5", "198.51.100.10", 1234, 80, [1, 2, 3]);

        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)));
        Assert.Equal(14, Frames.Ipv4Offset(frame));
        var ip = Oracle.Ipv4(frame);
        Assert.Equal("203.0.113.5", ip.SourceAddress.ToString());
        Assert.Equal("198.51.100.10", ip.DestinationAddress.ToString());
        Assert.Equal(64, ip.TimeToLive);
        Assert.Equal(20 + 20 + 3, ip.TotalLength);
        var tcp = (TcpPacket)ip.PayloadPacket;
        Assert.Equal(1234, tcp.SourcePort);
        Assert.Equal(80, tcp.DestinationPort);
        Assert.Equal(["ip", "tcp"], Oracle.AssertChecksumsValid(frame).Verified);
    }

    [Fact]
    public void Options_VlanTagsIpOptionsFlagsAndPadding_AreLaidOutAsAsked()
    {
        var options = new FrameOptions
        {
            Vlans = [VlanTag.Dot1AD(300), new VlanTag(0x8100, 42, 5)],
            Ttl = 9,
            Id = 0xABCD,
            Tos = 0xB8,
            IpOptions = [0x94, 0x04, 0x00, 0x00],
            DontFragment = true,
            Padding = 5,
        };
        byte[] frame = Frames.Udp("10.0.0.1", "10.0.0.2", 1, 2, [9], options);

        Assert.Equal(Convert.FromHexString("88A8012C" + "8100A02A" + "0800"), frame.AsSpan(12, 10).ToArray());
        int l3 = Frames.Ipv4Offset(frame);
        Assert.Equal(22, l3);
        Assert.Equal(0x46, frame[l3]);
        Assert.Equal(0xB8, frame[l3 + 1]);
        Assert.Equal(24 + 8 + 1, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 2)));
        Assert.Equal(0xABCD, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 4)));
        Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 6)));
        Assert.Equal(9, frame[l3 + 8]);
        Assert.Equal([0x94, 0x04, 0x00, 0x00], frame.AsSpan(l3 + 20, 4).ToArray());
        Assert.Equal(l3 + 33 + 5, frame.Length);
        Assert.All(frame.AsSpan(frame.Length - 5).ToArray(), b => Assert.Equal(0xA5, b));
        Assert.Equal(["ip", "udp"], Oracle.AssertChecksumsValid(frame).Verified);
    }

    [Fact]
    public void Udp_ComputedChecksumZero_IsSentAsAllOnes_AndNoChecksumIsZero()
    {
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(Frames.Udp("10.0.0.1", "10.0.0.2", noChecksum: true).AsSpan(14 + 20 + 6)));
        Assert.Contains("udp-none", Oracle.Check(Frames.Udp("10.0.0.1", "10.0.0.2", noChecksum: true)).Verified);
    }

    [Fact]
    public void IcmpError_QuotesTheRequestedPrefixOfThePacket()
    {
        byte[] about = Frames.Tcp("10.0.0.1", "203.0.113.5", 1, 2, new byte[30]);
        byte[] error = Frames.IcmpError("192.0.2.1", "10.0.0.1", 11, 0, about, quoteLength: 28);

        Assert.Equal(14 + 20 + 8 + 28, error.Length);
        Assert.Equal(11, error[34]);
        Assert.Equal(Frames.Ipv4Packet(about).AsSpan(0, 28).ToArray(), error.AsSpan(42).ToArray());
        Assert.Equal(["ip", "icmp", "inner-ip"], Oracle.AssertChecksumsValid(error).Verified);
        Assert.Equal(["ip", "icmp", "inner-ip", "inner-tcp"], Oracle.AssertChecksumsValid(Frames.IcmpError("192.0.2.1", "10.0.0.1", 3, 3, about)).Verified);
    }

    [Fact]
    public void Fragment_ThenReassemble_GivesBackTheFrame()
    {
        byte[] whole = Frames.Udp("10.0.0.1", "10.0.0.2", 1, 2, new byte[100], new FrameOptions { Vlans = [VlanTag.Dot1Q(5)], IpOptions = [1, 1, 1, 0] });
        var fragments = Frames.Fragment(whole, 30);

        Assert.Equal(5, fragments.Count); // 108 bytes of UDP in 24-byte pieces
        Assert.All(fragments, f => Assert.Contains("ip", Oracle.AssertChecksumsValid(f).Verified));
        Assert.Equal(0x2000, BinaryPrimitives.ReadUInt16BigEndian(fragments[0].AsSpan(18 + 6)));
        Assert.Equal(0x0000 | (96 / 8), BinaryPrimitives.ReadUInt16BigEndian(fragments[^1].AsSpan(18 + 6)));
        Assert.Equal(whole, Frames.Reassemble(fragments.Reverse()));
    }

    [Fact]
    public void Sctp_CarriesAValidCrc32c()
    {
        // RFC 3720 App. B.4: CRC32c of 32 zero bytes is 0x8A9136AA; check the routine on it through a frame's payload.
        byte[] frame = Frames.Sctp("10.0.0.1", "10.0.0.2");
        byte[] sctp = Frames.Ipv4Packet(frame).AsSpan(20).ToArray();
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(sctp.AsSpan(8));
        sctp[8] = sctp[9] = sctp[10] = sctp[11] = 0;
        Assert.Equal(Crc32C(sctp), stored);
        Assert.Equal(0x8A9136AAu, Crc32C(new byte[32]));
    }

    private static uint Crc32C(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
            }
        }
        return ~crc;
    }

    [Fact]
    public void Oracle_CatchesEveryKindOfBadChecksum()
    {
        byte[] tcp = Frames.Tcp("10.0.0.1", "10.0.0.2", 1, 2, [1]);
        byte[] badIp = (byte[])tcp.Clone();
        badIp[14 + 8] ^= 1;
        Assert.Contains("ip checksum does not verify", Oracle.Check(badIp).Problems);

        byte[] badTcp = (byte[])tcp.Clone();
        badTcp[^1] ^= 1;
        Assert.Equal(["tcp checksum does not verify"], Oracle.Check(badTcp).Problems);

        byte[] badUdp = Frames.Udp("10.0.0.1", "10.0.0.2", 1, 2, [1, 2]);
        badUdp[^1] ^= 1;
        Assert.Equal(["udp checksum does not verify"], Oracle.Check(badUdp).Problems);

        byte[] badIcmp = Frames.IcmpEcho("10.0.0.1", "10.0.0.2");
        badIcmp[^1] ^= 1;
        Assert.Equal(["icmp checksum does not verify"], Oracle.Check(badIcmp).Problems);

        byte[] about = Frames.Udp("10.0.0.2", "10.0.0.1", 1, 2, [1, 2]);
        byte[] badInnerIp = Frames.IcmpError("10.0.0.1", "10.0.0.2", 3, 3, Frames.WithIpv4Byte(about, 8, 1, fixChecksum: false));
        Assert.Equal(["inner-ip checksum does not verify"], Oracle.Check(badInnerIp).Problems);

        byte[] corruptedUdp = (byte[])about.Clone();
        corruptedUdp[^1] ^= 1;
        Assert.Equal(["inner-udp checksum does not verify"], Oracle.Check(Frames.IcmpError("10.0.0.1", "10.0.0.2", 3, 3, corruptedUdp)).Problems);

        Assert.Throws<OracleException>(() => Oracle.AssertChecksumsValid(badTcp));
    }

    [Fact]
    public void Oracle_RefusesACutFrame_InsteadOfPassingIt()
    {
        byte[] frame = Frames.Tcp("10.0.0.1", "10.0.0.2", 1, 2, new byte[40]);
        Assert.False(Oracle.Check(frame.AsSpan(0, 60).ToArray()).Valid);
    }

    [Fact]
    public void NotIpv4Builders_CarryTheirEtherTypes()
    {
        Assert.Equal(0x0806, BinaryPrimitives.ReadUInt16BigEndian(Frames.Arp().AsSpan(12)));
        Assert.Equal(0x86DD, BinaryPrimitives.ReadUInt16BigEndian(Frames.Ipv6Udp().AsSpan(12)));
        Assert.Equal(0x86DD, BinaryPrimitives.ReadUInt16BigEndian(Frames.Ipv6Udp(options: FrameOptions.Tagged(VlanTag.Dot1Q(1))).AsSpan(16)));
    }
}
