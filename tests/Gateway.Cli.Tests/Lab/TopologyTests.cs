using Gateway.Cli.Infrastructure;
using Gateway.Packets;

namespace Gateway.Cli.Lab.Tests;

/// <summary>Topology files: the sample loads as documented; every mistake names the file and the field.</summary>
public sealed class TopologyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gw-topo-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
            {
                dir = dir.Parent;
            }
            return Path.Combine(dir!.FullName, "lab", "sample-topology.json");
        }
    }

    [Fact]
    public void TheSampleTopologyLoadsWithItsHostsInstancesAndPool()
    {
        var t = Topology.Load(Sample, null);

        Assert.Equal("demo", t.Name);
        Assert.False(t.Veth);
        Assert.Equal(["client1", "client2"], t.InternetHosts.Select(h => h.Name));
        Assert.Equal(["web", "db", "worker"], t.Instances.Select(i => i.Name));
        Assert.Equal("198.51.100.0/24", Assert.Single(t.PublicPool).ToString());
        Assert.Equal("10.0.1.1", Ipv4Address.Format(t.VpcGatewayAddress));
        var web = t.Instances[0];
        Assert.True(web.PublicIpAssigned);
        Assert.Equal(10, web.InternetMaxBandwidthOut);
        Assert.Contains("http.server 80", Assert.Single(web.Exec), StringComparison.Ordinal);
        Assert.False(t.Instances[1].PublicIpAssigned);
        Assert.NotNull(t.Instances[2].Eip);
    }

    [Fact]
    public void NameOverrideReplacesTheFilesName()
    {
        Assert.Equal("other1", Topology.Load(Sample, "other1").Name);
    }

    [Theory]
    [InlineData("\"name\": \"demo\"", "\"name\": \"Demo!\"", "name: 'Demo!' must be 1 to 12 of a-z and 0-9")]
    [InlineData("\"name\": \"demo\"", "\"name\": \"de-mo\"", "name: 'de-mo'")]
    [InlineData("\"mode\": \"tap\"", "\"mode\": \"bridge\"", "gateway.mode: 'bridge'")]
    [InlineData("\"subnet\": \"203.0.113.0/24\"", "\"subnet\": \"8.8.8.0/24\"", "internet.subnet: 8.8.8.0/24 is not inside a documentation range")]
    [InlineData("\"198.51.100.0/24\"]\n  },", "\"192.0.2.0/24\"]\n  },", "gateway.publicPool[0]: 192.0.2.0/24 is neither in internet.subnet")]
    [InlineData("\"198.51.100.0/24\"]\n  },", "\"10.9.0.0/24\"]\n  },", "gateway.publicPool[0]: 10.9.0.0/24 is not inside a documentation range")]
    [InlineData("\"address\": \"203.0.113.2\"", "\"address\": \"198.51.100.7\"", "internet.nodes[1].address: 198.51.100.7 is not a host address of internet.subnet")]
    [InlineData("\"privateAddress\": \"10.0.1.20\"", "\"privateAddress\": \"10.0.1.10\"", "two instances ask for the same privateAddress")]
    [InlineData("\"privateAddress\": \"10.0.1.20\"", "\"privateAddress\": \"10.0.1.1\"", "nodes[1].privateAddress: 10.0.1.1 is not an instance address")]
    [InlineData("\"name\": \"db\"", "\"name\": \"web\"", "nodes[1].name: 'web' is used twice")]
    [InlineData("\"kind\": \"instance\"", "\"kind\": \"router\"", "nodes[0].kind: 'router'")]
    [InlineData("\"cidr\": \"10.0.1.0/24\"", "\"cidr\": \"198.51.100.0/24\"", "vpc.subnet.cidr: 198.51.100.0/24 is not in a private range")]
    [InlineData("\"control\": null", "\"control\": \"http://127.0.0.1:9700\"", "gateway.control: attaching to a running daemon")]
    [InlineData("\"internetMaxBandwidthOut\": 10", "\"internetMaxBandwidthOut\": -1", "nodes[0].internetAccessible.internetMaxBandwidthOut: must be a whole number")]
    [InlineData("{\n  \"name\"", "{{\n  \"name\"", "not valid JSON at line 1")]
    [InlineData("\"mode\": \"tap\"", "\"mode\": \"tap\", \"workers\": 0", "gateway.workers: 0 is not 1 to 256")]
    [InlineData("\"mode\": \"tap\"", "\"mode\": \"tap\", \"workers\": \"two\"", "gateway.workers: must be a whole number")]
    [InlineData("\"mode\": \"tap\"", "\"mode\": \"tap\", \"tapOffloads\": \"yes\"", "gateway.tapOffloads: must be true or false")]
    [InlineData("\"mode\": \"tap\"", "\"mode\": \"tap\", \"bandwidthCaps\": \"off\"", "gateway.bandwidthCaps: must be true or false")]
    public void AMistakeIsAUsageErrorNamingTheFileAndTheField(string find, string replace, string expected)
    {
        string text = File.ReadAllText(Sample);
        Assert.Contains(find, text, StringComparison.Ordinal);
        string path = Path.Combine(_dir, "t.json");
        File.WriteAllText(path, ReplaceFirst(text, find, replace));

        var e = Assert.Throws<UsageException>(() => Topology.Load(path, null));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WorkersAndTapOffloadsAreReadFromTheGatewaySection_AndDefaultToTheDaemons()
    {
        string text = File.ReadAllText(Sample);
        string path = Path.Combine(_dir, "t.json");
        File.WriteAllText(path, ReplaceFirst(text, "\"mode\": \"tap\"", "\"mode\": \"tap\", \"workers\": 3, \"tapOffloads\": false, \"bandwidthCaps\": false"));

        var t = Topology.Load(path, null);

        Assert.Equal(3, t.Workers);
        Assert.False(t.TapOffloads);
        Assert.False(t.BandwidthCaps);
        Assert.Null(Topology.Load(Sample, null).BandwidthCaps);
        Assert.Null(Topology.Load(Sample, null).Workers);
        Assert.Null(Topology.Load(Sample, null).TapOffloads);
    }

    [Fact]
    public void AMissingFileIsAUsageErrorNamingIt()
    {
        string path = Path.Combine(_dir, "missing.json");
        Assert.Contains(path, Assert.Throws<UsageException>(() => Topology.Load(path, null)).Message, StringComparison.Ordinal);
    }

    private static string ReplaceFirst(string text, string find, string replace)
    {
        int i = text.IndexOf(find, StringComparison.Ordinal);
        return text[..i] + replace + text[(i + find.Length)..];
    }
}
