using System.Globalization;
using Gateway.DataPlane.Bindings;
using Gateway.Io.Forwarding;
using Gateway.Io.L2;

namespace Gateway.EndToEnd.Tests.Forwarding;

[Trait("Category", "RootNamespaces")]
public sealed class TapLifecycleTests
{
    private static string Name(char side) =>
        string.Create(CultureInfo.InvariantCulture, $"gwt{Random.Shared.Next(0x1000000):x6}{side}");

    private static bool Exists(string name) => Shell.Run("ip", "link", "show", name).ExitCode == 0;

    /// <summary>
    /// The device goes when the last copy of its descriptor closes. A process this test host forks at that moment
    /// (other test classes run ip and ping in parallel) holds a copy until its exec closes it (O_CLOEXEC), so allow
    /// for that instant.
    /// </summary>
    private static bool Gone(string name) => NamespaceLab.Eventually(() => !Exists(name), seconds: 5);

    [Fact]
    public void StartCreatesBothTapDevicesUpWithTheRequestedMacAndDisposeRemovesThem()
    {
        string internet = Name('i'), vpc = Name('v');
        Assert.True(MacAddress.TryParse("02:00:00:aa:bb:01", out var interfaceMac));
        var path = LabDataPath.Start(
            new LabDataPathOptions { InternetTap = internet, VpcTap = vpc, VpcSubnet = Ipv4Subnet.Parse("10.9.0.0/24"), InternetTapInterfaceMac = interfaceMac },
            new BindingTable(),
            new PrivateAddressSet());
        try
        {
            string link = Shell.Must("ip", "link", "show", internet);
            Assert.Contains("02:00:00:aa:bb:01", link, StringComparison.Ordinal);
            Assert.Contains(",UP", link, StringComparison.Ordinal);
            Assert.True(Exists(vpc));
            Assert.NotEqual(path.InternetMac, interfaceMac); // the gateway is the far end of the wire, with its own MAC
        }
        finally
        {
            path.Dispose();
        }
        Assert.True(path.Completion.IsCompletedSuccessfully);
        Assert.True(Gone(internet));
        Assert.True(Gone(vpc));
    }

    [Fact]
    public void AFailedStartLeavesNoDeviceBehind()
    {
        string internet = Name('i');
        var e = Assert.Throws<ArgumentException>(() => LabDataPath.Start(
            new LabDataPathOptions { InternetTap = internet, VpcTap = "this-name-is-far-too-long", VpcSubnet = Ipv4Subnet.Parse("10.9.0.0/24") },
            new BindingTable(),
            new PrivateAddressSet()));
        Assert.Contains("this-name-is-far-too-long", e.Message, StringComparison.Ordinal);
        Assert.True(Gone(internet));
    }

    [Fact]
    public void AMissingLiveInterfaceIsReportedByName()
    {
        var e = Assert.Throws<IOException>(() => LabDataPath.Start(
            new LabDataPathOptions { InternetInterface = "gwt-no-such-if", VpcTap = Name('v'), VpcSubnet = Ipv4Subnet.Parse("10.9.0.0/24") },
            new BindingTable(),
            new PrivateAddressSet()));
        Assert.Contains("gwt-no-such-if", e.Message, StringComparison.Ordinal);
    }
}
