using Gateway.Packets;

namespace Gateway.Io.Forwarding.Tests;

public sealed class Ipv4SubnetTests
{
    [Fact]
    public void TheGatewayIsTheFirstUsableAddress()
    {
        var subnet = Ipv4Subnet.Parse("10.0.0.0/24");
        Assert.Equal("10.0.0.1", Ipv4Address.Format(subnet.FirstUsable));
        Assert.Equal("10.0.0.255", Ipv4Address.Format(subnet.Broadcast));
        Assert.True(subnet.Contains(0x0A0000FE));
        Assert.False(subnet.Contains(0x0A000100));
    }

    [Theory]
    [InlineData("10.0.0.1/24")] // host bits set
    [InlineData("10.0.0.0/31")]
    [InlineData("10.0.0.0")]
    [InlineData("10.0.0/24")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("10.0.0.0/")]
    public void TryParse_RefusesWhatIsNotAUsableSubnet(string text)
    {
        Assert.False(Ipv4Subnet.TryParse(text, out _));
        Assert.Throws<FormatException>(() => Ipv4Subnet.Parse(text));
    }

    [Fact]
    public void OptionsNeedExactlyOnePortPerSide()
    {
        var subnet = Ipv4Subnet.Parse("10.0.0.0/24");
        Assert.Throws<ArgumentException>(() => new LabDataPathOptions { VpcSubnet = subnet, VpcTap = "v" }.Validate());
        Assert.Throws<ArgumentException>(() => new LabDataPathOptions { VpcSubnet = subnet, InternetTap = "i", InternetInterface = "eth9", VpcTap = "v" }.Validate());
        Assert.Throws<ArgumentException>(() => new LabDataPathOptions { VpcSubnet = subnet, InternetTap = "x", VpcTap = "x" }.Validate());
        Assert.Throws<ArgumentException>(() => new LabDataPathOptions { VpcSubnet = subnet, InternetTap = "i", VpcTap = "v", VpcGateway = 0x0B000001 }.Validate());
        new LabDataPathOptions { VpcSubnet = subnet, InternetTap = "i", VpcTap = "v" }.Validate();
    }
}
