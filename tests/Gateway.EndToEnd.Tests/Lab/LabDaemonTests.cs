using System.Text.Json.Nodes;
using Gateway.EndToEnd.Tests.Forwarding;
using static Gateway.EndToEnd.Tests.Lab.DaemonLab;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary>
/// The whole gateway as a user meets it: <c>gateway lab up</c> starts the daemon (TAP data path and control API)
/// and its instances; the tests change public IPs through the API and watch real kernels' traffic follow.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class LabDaemonTests(DaemonLab lab) : IClassFixture<DaemonLab>
{
    private string Client => lab.Namespace("client");

    private string Public(string node) => lab.Addresses(node).Public ?? throw new InvalidOperationException($"{node} has no public IP");

    [Fact]
    public void FromTheInternetTcpUdpAndPingReachAnInstanceByItsPublicIpAndTheServerSeesTheClientsAddress()
    {
        string pub = Public("a");
        Assert.Equal($"A {ClientAddress} 10.0.5.10", lab.Ask(Client, "tcp", pub));
        Assert.Equal($"A {ClientAddress} 10.0.5.10", lab.Ask(Client, "udp", pub));
        Assert.True(Ping(Client, pub), lab.Stats());
    }

    [Fact]
    public void AnInstancesInterfacesShowOnlyItsPrivateAddress()
    {
        var addresses = Shell.Run("ip", "-n", lab.Namespace("a"), "-4", "-o", "addr", "show").Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3])
            .Order()
            .ToArray();
        Assert.Equal(["10.0.5.10/24", "127.0.0.1/8"], addresses);
    }

    [Fact]
    public void AnOutboundConnectionFromAnInstanceIsSeenFromTheInternetAsItsPublicIp()
    {
        Assert.Equal($"inet {Public("a")} {ClientAddress}", lab.Ask(lab.Namespace("a"), "tcp", ClientAddress));
    }

    [Fact]
    public void HairpinFromAToBsPublicIpShowsAsPublicIpAtB()
    {
        Assert.Equal($"B {Public("a")} 10.0.5.20", lab.Ask(lab.Namespace("a"), "tcp", Public("b")));
    }

    [Fact]
    public void AssociatingAnEipMovesTrafficToItAndSilencesTheOldPublicIpAndDisassociatingGivesANewWorkingOne()
    {
        string old = Public("c");
        Assert.Equal($"C {ClientAddress} 10.0.5.30", lab.Ask(Client, "tcp", old));

        long announced = lab.GratuitousArps();
        string eipId = lab.Call("vpc", "AllocateAddresses", new JsonObject { ["AddressCount"] = 1 }).GetProperty("AddressSet")[0].GetString()!;
        lab.Call("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = eipId, ["InstanceId"] = lab.InstanceOf["c"] });
        string eip = Public("c");
        Assert.NotEqual(old, eip);
        // The daemon announced the newly bound EIP on the internet segment (gratuitous ARP).
        Assert.True(NamespaceLab.Eventually(() => lab.GratuitousArps() > announced), lab.Stats());

        // New connections to the EIP reach the instance at once (the API answered after the table changed).
        Assert.Equal($"C {ClientAddress} 10.0.5.30", lab.Ask(Client, "tcp", eip));
        // The old public IP: the client's cached MAC gets its packets to the gateway, which drops them; once the
        // client forgets the MAC, nobody answers ARP for the address.
        Assert.Null(lab.Ask(Client, "tcp", old, attempts: 1));
        lab.FlushClientNeighbours();
        Assert.False(Ping(Client, old, count: 2));
        string neighbour = lab.ClientNeighbour(old);
        Assert.True(neighbour.Length == 0 || neighbour.Contains("FAILED", StringComparison.Ordinal) || neighbour.Contains("INCOMPLETE", StringComparison.Ordinal),
            $"the client resolved {old} after it was released: {neighbour}");

        lab.Call("vpc", "DisassociateAddress", new JsonObject { ["AddressId"] = eipId });
        string fresh = Public("c");
        Assert.NotEqual(eip, fresh);
        Assert.Equal($"C {ClientAddress} 10.0.5.30", lab.Ask(Client, "tcp", fresh));
        lab.FlushClientNeighbours();
        Assert.False(Ping(Client, eip, count: 2));
        lab.Call("vpc", "ReleaseAddresses", new JsonObject { ["AddressIds"] = new JsonArray(eipId) });
    }

    [Fact]
    public void AStoppedInstancesPublicIpGoesSilent_AndAfterStartTrafficReachesItOnItsNewAddress()
    {
        string e = lab.InstanceOf["e"];
        string first = Public("e");
        Assert.Equal($"E {ClientAddress} 10.0.5.50", lab.Ask(Client, "tcp", first));

        // KEEP_CHARGING: the instance keeps its address, but nothing translates to or from it while it is stopped.
        lab.Call("cvm", "StopInstances", new JsonObject { ["InstanceIds"] = new JsonArray(e), ["StoppedMode"] = "KEEP_CHARGING" });
        Assert.Equal(first, lab.Addresses("e").Public);
        Assert.Null(lab.Ask(Client, "tcp", first, attempts: 1));
        Assert.Null(lab.Ask(lab.Namespace("e"), "tcp", ClientAddress, attempts: 1));
        lab.FlushClientNeighbours();
        Assert.False(Ping(Client, first, count: 2));

        lab.Call("cvm", "StartInstances", new JsonObject { ["InstanceIds"] = new JsonArray(e) });
        Assert.Equal(first, Public("e"));
        Assert.Equal($"E {ClientAddress} 10.0.5.50", lab.Ask(Client, "tcp", first));

        // STOP_CHARGING: the address goes back to the pool; start gives the instance a new one, and traffic follows.
        long announced = lab.GratuitousArps();
        lab.Call("cvm", "StopInstances", new JsonObject { ["InstanceIds"] = new JsonArray(e), ["StoppedMode"] = "STOP_CHARGING" });
        Assert.Null(lab.Addresses("e").Public);
        Assert.Null(lab.Ask(Client, "tcp", first, attempts: 1));
        lab.FlushClientNeighbours();
        Assert.False(Ping(Client, first, count: 2));

        lab.Call("cvm", "StartInstances", new JsonObject { ["InstanceIds"] = new JsonArray(e) });
        string second = Public("e");
        Assert.NotEqual(first, second);
        Assert.True(NamespaceLab.Eventually(() => lab.GratuitousArps() > announced), lab.Stats());
        Assert.Equal($"E {ClientAddress} 10.0.5.50", lab.Ask(Client, "tcp", second));
        Assert.Equal($"inet {second} {ClientAddress}", lab.Ask(lab.Namespace("e"), "tcp", ClientAddress));
        lab.FlushClientNeighbours();
        Assert.False(Ping(Client, first, count: 2));
    }

    [Fact]
    public void TerminatingAnInstanceSilencesItsPublicIp()
    {
        string pub = Public("d");
        Assert.Equal($"D {ClientAddress} 10.0.5.40", lab.Ask(Client, "tcp", pub));

        lab.Call("cvm", "TerminateInstances", new JsonObject { ["InstanceIds"] = new JsonArray(lab.InstanceOf["d"]) });

        Assert.Null(lab.Ask(Client, "tcp", pub, attempts: 1));
        Assert.False(Ping(Client, pub, count: 2));
        lab.FlushClientNeighbours();
        Assert.False(Ping(Client, pub, count: 2));
        string neighbour = lab.ClientNeighbour(pub);
        Assert.True(neighbour.Length == 0 || neighbour.Contains("FAILED", StringComparison.Ordinal) || neighbour.Contains("INCOMPLETE", StringComparison.Ordinal), neighbour);
    }

    [Fact]
    public void AFrameWithAForgedSourceFromAnInstanceIsDroppedAndCounted()
    {
        Assert.True(Ping(lab.Namespace("b"), ClientAddress), lab.Stats());
        long before = lab.Drops("spoofed-source");
        // The instance claims an address the control plane never gave it and sends from it through the gateway.
        Shell.Must("ip", "-n", lab.Namespace("b"), "addr", "add", "10.0.5.99/32", "dev", "eth0");
        try
        {
            Assert.False(Shell.InNamespace(lab.Namespace("b"), "ping", "-c", "2", "-i", "0.2", "-W", "1", "-I", "10.0.5.99", ClientAddress).ExitCode == 0);
        }
        finally
        {
            Shell.Run("ip", "-n", lab.Namespace("b"), "addr", "del", "10.0.5.99/32", "dev", "eth0");
        }
        Assert.True(NamespaceLab.Eventually(() => lab.Drops("spoofed-source") >= before + 2), lab.Stats());
        Assert.True(Ping(lab.Namespace("b"), ClientAddress), lab.Stats());
    }

    [Fact]
    public void LabUpPrintsEveryInstanceWithItsPrivateAndPublicIpAndACommandToTry()
    {
        Assert.Contains($"ip netns exec {Client} ", lab.UpOutput, StringComparison.Ordinal);
        foreach (var (node, octet) in new[] { ("a", "10"), ("b", "20") })
        {
            string line = lab.UpOutput.Split('\n').Single(l => l.StartsWith(node + " ", StringComparison.Ordinal));
            Assert.Contains("10.0.5." + octet, line, StringComparison.Ordinal);
            Assert.Contains(Public(node), line, StringComparison.Ordinal);
            Assert.Contains(lab.InstanceOf[node], line, StringComparison.Ordinal);
        }
    }
}
