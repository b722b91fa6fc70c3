using System.Net;
using System.Net.NetworkInformation;
using Gateway.Packets;
using PacketDotNet;

namespace Gateway.Io.L2.Tests;

public sealed class ArpTests
{
    private static readonly MacAddress s_ours = MacAddress.Read([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]);
    private static readonly uint s_public = Ip("203.0.113.10");
    private static readonly uint s_host = Ip("203.0.113.1");

    private static uint Ip(string text) => Ipv4Address.FromIPAddress(IPAddress.Parse(text));

    /// <summary>A request built by PacketDotNet (the oracle), as a host on the segment would send it.</summary>
    private static byte[] RequestFromHost(string senderIp, string targetIp, string senderMac = "0A0B0C0D0E0F")
    {
        var arp = new ArpPacket(ArpOperation.Request, PhysicalAddress.Parse("000000000000"), IPAddress.Parse(targetIp),
            PhysicalAddress.Parse(senderMac), IPAddress.Parse(senderIp));
        var ethernet = new EthernetPacket(PhysicalAddress.Parse(senderMac), PhysicalAddress.Parse("FFFFFFFFFFFF"), EthernetType.Arp)
        {
            PayloadPacket = arp,
        };
        return ethernet.Bytes;
    }

    [Fact]
    public void TryParse_ReadsARequestBuiltByPacketDotNet()
    {
        Assert.True(Arp.TryParse(RequestFromHost("203.0.113.1", "203.0.113.10"), out ArpMessage message));
        Assert.True(message.IsRequest);
        Assert.Equal(s_host, message.SenderIp);
        Assert.Equal(s_public, message.TargetIp);
        Assert.Equal("0a:0b:0c:0d:0e:0f", message.SenderMac.ToString());
        Assert.False(message.IsProbe);
    }

    [Fact]
    public void TryParse_RefusesEveryTruncatedPrefix()
    {
        byte[] frame = RequestFromHost("203.0.113.1", "203.0.113.10");
        for (int length = 0; length < Ethernet.HeaderLength + Arp.PacketLength; length++)
        {
            Assert.False(Arp.TryParse(frame.AsSpan(0, length), out _), $"accepted a {length}-byte prefix");
        }
    }

    [Theory]
    [InlineData(Ethernet.HeaderLength + Arp.HardwareTypeOffset + 1, 6)] // hardware type 6 (IEEE 802)
    [InlineData(Ethernet.HeaderLength + Arp.ProtocolTypeOffset, 0x86)] // protocol IPv6
    [InlineData(Ethernet.HeaderLength + Arp.HardwareLengthOffset, 8)]
    [InlineData(Ethernet.HeaderLength + Arp.ProtocolLengthOffset, 16)]
    [InlineData(Ethernet.HeaderLength + Arp.OperationOffset + 1, 3)] // RARP request
    [InlineData(Ethernet.TypeOffset, 0x08)] // EtherType 0x0800: IPv4, not ARP
    public void TryParse_RefusesWhatIsNotEthernetIpv4Arp(int offset, byte value)
    {
        byte[] frame = RequestFromHost("203.0.113.1", "203.0.113.10");
        frame[offset] = value;
        if (offset == Ethernet.TypeOffset)
        {
            frame[offset + 1] = 0x00;
        }
        Assert.False(Arp.TryParse(frame, out _));
    }

    [Fact]
    public void WriteReply_AnswersTheRequesterAsPacketDotNetReadsIt()
    {
        Assert.True(Arp.TryParse(RequestFromHost("203.0.113.1", "203.0.113.10"), out ArpMessage request));
        var frame = new byte[Arp.MinimumFrameLength];

        Assert.Equal(Arp.MinimumFrameLength, Arp.WriteReply(frame, s_ours, request.TargetIp, request));

        var ethernet = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var arp = ethernet.Extract<ArpPacket>();
        Assert.Equal(PhysicalAddress.Parse("0A0B0C0D0E0F"), ethernet.DestinationHardwareAddress);
        Assert.Equal(PhysicalAddress.Parse("02005E102030"), ethernet.SourceHardwareAddress);
        Assert.Equal(ArpOperation.Response, arp.Operation);
        Assert.Equal(IPAddress.Parse("203.0.113.10"), arp.SenderProtocolAddress);
        Assert.Equal(PhysicalAddress.Parse("02005E102030"), arp.SenderHardwareAddress);
        Assert.Equal(IPAddress.Parse("203.0.113.1"), arp.TargetProtocolAddress);
        Assert.Equal(PhysicalAddress.Parse("0A0B0C0D0E0F"), arp.TargetHardwareAddress);
    }

    [Fact]
    public void WriteRequest_IsABroadcastFromTheGivenSender()
    {
        var frame = new byte[Arp.MinimumFrameLength];
        Arp.WriteRequest(frame, s_ours, s_public, s_host);

        var ethernet = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var arp = ethernet.Extract<ArpPacket>();
        Assert.Equal(PhysicalAddress.Parse("FFFFFFFFFFFF"), ethernet.DestinationHardwareAddress);
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal(IPAddress.Parse("203.0.113.10"), arp.SenderProtocolAddress);
        Assert.Equal(IPAddress.Parse("203.0.113.1"), arp.TargetProtocolAddress);
    }

    [Fact]
    public void WriteAnnouncement_IsAGratuitousRequestForTheAddressItself()
    {
        var frame = new byte[Arp.MinimumFrameLength];
        Arp.WriteAnnouncement(frame, s_ours, s_public);

        var arp = ((EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame)).Extract<ArpPacket>();
        // RFC 5227 §3: sender and target protocol addresses are both the announced address.
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal(IPAddress.Parse("203.0.113.10"), arp.SenderProtocolAddress);
        Assert.Equal(IPAddress.Parse("203.0.113.10"), arp.TargetProtocolAddress);
        Assert.Equal(PhysicalAddress.Parse("02005E102030"), arp.SenderHardwareAddress);
    }

    [Fact]
    public void MacAddress_NewLocalIsUnicastAndLocallyAdministered()
    {
        Span<byte> bytes = stackalloc byte[6];
        for (int i = 0; i < 100; i++)
        {
            var mac = MacAddress.NewLocal();
            mac.Write(bytes);
            Assert.Equal(0x02, bytes[0] & 0x03);
            Assert.False(mac.IsGroup);
        }
        Assert.True(MacAddress.Broadcast.IsGroup);
    }

    [Theory]
    [InlineData("02:00:5e:10:20:30", true)]
    [InlineData("02-00-5E-10-20-30", true)]
    [InlineData("02:00:5e:10:20", false)]
    [InlineData("02:00:5e:10:20:3g", false)]
    [InlineData("0200:5e:10:20:30", false)]
    public void MacAddress_TryParse(string text, bool valid)
    {
        Assert.Equal(valid, MacAddress.TryParse(text, out var mac));
        if (valid)
        {
            Assert.Equal(s_ours, mac);
        }
    }
}
