namespace Gateway.Packets.Tests;

public sealed class Ipv4CidrTests
{
    [Theory]
    [InlineData("198.51.100.0/24", 254)]
    [InlineData("198.51.100.0/30", 2)]
    [InlineData("198.51.100.4/31", 2)]
    [InlineData("198.51.100.7/32", 1)]
    public void Hosts_LeaveOutNetworkAndBroadcastExceptOnPointToPointAndSingleAddresses(string text, int count)
    {
        var hosts = Ipv4Cidr.Parse(text).Hosts().ToList();

        Assert.Equal(count, hosts.Count);
        Assert.Equal(count, hosts.Distinct().Count());
    }

    [Theory]
    [InlineData("")]
    [InlineData("198.51.100.0")]
    [InlineData("198.51.100.0/")]
    [InlineData("198.51.100.0/33")]
    [InlineData("198.51.100/24")]
    [InlineData("198.51.100.1/24")]
    [InlineData("198.51.100.0/-1")]
    public void TryParse_RefusesWhatIsNotAPrefix(string text)
    {
        if (text == "198.51.100.0")
        {
            Assert.True(Ipv4Cidr.TryParse(text, out var single, out _)); // a bare address is a /32
            Assert.Equal(32, single.PrefixLength);
            return;
        }
        Assert.False(Ipv4Cidr.TryParse(text, out _, out string error));
        Assert.NotEmpty(error);
    }

    [Fact]
    public void Contains_IsTrueOnlyInsideThePrefix()
    {
        var cidr = Ipv4Cidr.Parse("10.0.0.0/24");

        Assert.True(cidr.Contains(0x0A0000FF));
        Assert.False(cidr.Contains(0x0A000100));
    }
}
