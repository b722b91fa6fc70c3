using System.Net;

namespace Gateway.Packets.Tests;

public class Ipv4AddressTests
{
    [Theory]
    [InlineData("0.0.0.0", 0x00000000u)]
    [InlineData("198.51.100.10", 0xC633640Au)]
    [InlineData("10.0.0.1", 0x0A000001u)]
    [InlineData("255.255.255.255", 0xFFFFFFFFu)]
    [InlineData("203.0.113.0", 0xCB007100u)]
    [InlineData("1.2.3.4", 0x01020304u)]
    public void TryParse_DottedQuad_GivesNetworkOrderNumber(string text, uint expected)
    {
        Assert.True(Ipv4Address.TryParse(text, out uint address));
        Assert.Equal(expected, address);
        Assert.Equal(text, Ipv4Address.Format(address));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("10.1")]
    [InlineData("10.0.0")]
    [InlineData("10.0.0.1.5")]
    [InlineData("010.0.0.1")]
    [InlineData("10.0.0.01")]
    [InlineData("256.0.0.1")]
    [InlineData("10.0.0.1000")]
    [InlineData("10..0.1")]
    [InlineData("10.0.0.")]
    [InlineData(".10.0.0")]
    [InlineData("10.0.0.-1")]
    [InlineData("10.0.0.+1")]
    [InlineData(" 10.0.0.1")]
    [InlineData("10.0.0.1 ")]
    [InlineData("0x0A.0.0.1")]
    [InlineData("a.b.c.d")]
    [InlineData("::1")]
    [InlineData("10.0.0.１")] // a full-width digit: not ASCII
    [InlineData("4294967295")]
    public void TryParse_AnythingButStrictDottedQuad_IsRefused(string? text)
    {
        Assert.False(Ipv4Address.TryParse(text, out uint address));
        Assert.Equal(0u, address);
    }

    [Fact]
    public void FromBytes_ReadsNetworkOrder()
    {
        Assert.Equal(0xC633640Au, Ipv4Address.FromBytes([198, 51, 100, 10]));
    }

    [Fact]
    public void IPAddress_RoundTrips()
    {
        var address = IPAddress.Parse("203.0.113.77");
        uint value = Ipv4Address.FromIPAddress(address);
        Assert.Equal(0xCB00714Du, value);
        Assert.Equal(address, Ipv4Address.ToIPAddress(value));
    }

    [Fact]
    public void FromIPAddress_Ipv6_IsRefusedWithTheAddressInTheMessage()
    {
        var e = Assert.Throws<ArgumentException>(() => Ipv4Address.FromIPAddress(IPAddress.Parse("2001:db8::1")));
        Assert.Contains("2001:db8::1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Format_EveryOctetValue_ParsesBack()
    {
        for (uint octet = 0; octet < 256; octet++)
        {
            uint address = (octet << 24) | (octet << 16) | ((255 - octet) << 8) | octet;
            Assert.True(Ipv4Address.TryParse(Ipv4Address.Format(address), out uint back));
            Assert.Equal(address, back);
        }
    }
}
