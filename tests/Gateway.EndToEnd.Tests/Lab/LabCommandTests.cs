using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.EndToEnd.Tests.Forwarding;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary>
/// <c>gateway lab up/down</c> as a newcomer uses them: the sample topology comes up, a curl from the internet
/// reaches the web server by its public IP, and down leaves nothing; a failed up and a killed run leave nothing either.
/// </summary>
[Trait("Category", "RootNamespaces")]
public sealed class LabCommandTests : IDisposable
{
    private readonly List<string> _labs = [];
    private readonly string _dir = Directory.CreateTempSubdirectory("gwt-labcmd-").FullName;

    public LabCommandTests() => GatewayExecutable.SweepLeftovers();

    public void Dispose()
    {
        foreach (string name in _labs)
        {
            GatewayExecutable.Run("lab", "down", "--name", name);
        }
        Directory.Delete(_dir, recursive: true);
    }

    private string NewLab()
    {
        string name = GatewayExecutable.NewLabName();
        _labs.Add(name);
        return name;
    }

    [Theory]
    [InlineData("tap")]
    [InlineData("veth")] // the gateway on veth ends in the root namespace through libpcap (--internet-if/--vpc-if)
    public void TheSampleTopologyComesUpAnswersCurlByPublicIpAndGoesDownLeavingNothing(string mode)
    {
        string name = NewLab();
        string sample = Path.Combine(GatewayExecutable.RepositoryRoot, "lab", "sample-topology.json");
        if (mode != "tap")
        {
            string text = File.ReadAllText(sample);
            Assert.Contains("\"mode\": \"tap\"", text, StringComparison.Ordinal);
            sample = Path.Combine(_dir, "sample-" + mode + ".json");
            File.WriteAllText(sample, text.Replace("\"mode\": \"tap\"", $"\"mode\": \"{mode}\"", StringComparison.Ordinal));
        }

        var up = GatewayExecutable.Run("lab", "up", sample, "--name", name);
        Assert.True(up.ExitCode == 0, up.ToString());
        string web = Instance(name, "web").GetProperty("publicIp").GetString()!;
        Assert.Contains($"ip netns exec gwl-{name}-client1 curl -s http://{web}/", up.Output, StringComparison.Ordinal);
        // The instance without bandwidth has no public IP; the one with an EIP holds the EIP.
        Assert.False(Instance(name, "db").TryGetProperty("publicIp", out _));
        Assert.StartsWith("eip-", Instance(name, "worker").GetProperty("eipId").GetString(), StringComparison.Ordinal);

        string? page = null;
        Assert.True(NamespaceLab.Eventually(() =>
        {
            var curl = Shell.InNamespace($"gwl-{name}-client1", "curl", "-s", "-m", "2", $"http://{web}/");
            page = curl.Output;
            return curl.ExitCode == 0;
        }), page);
        Assert.Equal("hello from web", page!.Trim());
        Assert.NotEmpty(GatewayExecutable.Remains(name));

        var down = GatewayExecutable.Run("lab", "down", sample, "--name", name);

        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Empty(GatewayExecutable.Remains(name));
    }

    [Theory]
    [InlineData("exec", "exited at once")]
    [InlineData("pool", "ResourceInsufficient")]
    public void AFailedLabUpRemovesEverythingItMade(string failure, string expected)
    {
        string name = NewLab();
        // exec: a command that fails at once, after the daemon, namespaces and instances exist.
        // pool: two addresses in the pool (a /30), three instances asking for one: RunInstances fails for the third.
        var topology = SmallTopology(name, instances: failure == "pool" ? 3 : 1, pool: failure == "pool" ? "198.51.100.0/30" : "198.51.100.0/28",
            exec: failure == "exec" ? "exit 3" : null);

        var up = GatewayExecutable.Run("lab", "up", topology);

        Assert.Equal(1, up.ExitCode);
        Assert.Contains(expected, up.Error, StringComparison.Ordinal);
        Assert.Contains("everything it made has been removed", up.Error, StringComparison.Ordinal);
        Assert.Empty(GatewayExecutable.Remains(name));
    }

    [Fact]
    public void ALabLeftBehindByAKilledRunIsRemovedByTheNextUpAndDown()
    {
        string name = NewLab();
        string topology = SmallTopology(name, instances: 1, pool: "198.51.100.0/28", exec: null);
        var first = GatewayExecutable.Run("lab", "up", topology);
        Assert.True(first.ExitCode == 0, first.ToString());
        // The run is killed: its daemon dies with SIGKILL (no clean-up), the namespaces and run directory stay.
        using (var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(GatewayExecutable.RunRoot, name, "lab.json"))))
        {
            int pid = state.RootElement.GetProperty("processes").EnumerateArray().Single(p => p.GetProperty("role").GetString() == "gateway").GetProperty("pid").GetInt32();
            Shell.Must("kill", "-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(NamespaceLab.Eventually(() => !Directory.Exists($"/proc/{pid}")));
        }
        Assert.Contains($"namespace gwl-{name}-inet", GatewayExecutable.Remains(name));

        var second = GatewayExecutable.Run("lab", "up", topology);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("removing what an earlier run left behind", second.Output, StringComparison.Ordinal);
        string pub = Instance(name, "a").GetProperty("publicIp").GetString()!;
        Assert.True(DaemonLab.Ping($"gwl-{name}-client", pub));

        Assert.Equal(0, GatewayExecutable.Run("lab", "down", "--name", name).ExitCode);
        Assert.Empty(GatewayExecutable.Remains(name));
    }

    [Fact]
    public void LabDownOfALabThatIsNotUpSaysSoAndSucceeds()
    {
        string name = NewLab();
        var down = GatewayExecutable.Run("lab", "down", "--name", name);
        Assert.Equal(0, down.ExitCode);
        Assert.Contains("nothing to remove", down.Output, StringComparison.Ordinal);
    }

    private static JsonElement Instance(string lab, string node)
    {
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(GatewayExecutable.RunRoot, lab, "lab.json")));
        return state.RootElement.GetProperty("instances").EnumerateArray().Single(i => i.GetProperty("node").GetString() == node).Clone();
    }

    private string SmallTopology(string name, int instances, string pool, string? exec)
    {
        var nodes = new JsonArray();
        for (int i = 0; i < instances; i++)
        {
            var node = new JsonObject
            {
                ["name"] = ((char)('a' + i)).ToString(),
                ["kind"] = "instance",
                ["internetAccessible"] = new JsonObject { ["internetMaxBandwidthOut"] = 1 },
            };
            if (exec is not null)
            {
                node["exec"] = new JsonArray(exec);
            }
            nodes.Add(node);
        }
        var topology = new JsonObject
        {
            ["name"] = name,
            ["gateway"] = new JsonObject { ["publicPool"] = new JsonArray(pool) },
            ["internet"] = new JsonObject
            {
                ["subnet"] = "203.0.113.0/24",
                ["onLink"] = new JsonArray("198.51.100.0/24"),
                ["nodes"] = new JsonArray(new JsonObject { ["name"] = "client", ["address"] = "203.0.113.1" }),
            },
            ["vpc"] = new JsonObject { ["subnet"] = new JsonObject { ["cidr"] = "10.0.6.0/24" } },
            ["nodes"] = nodes,
        };
        string path = Path.Combine(_dir, name + ".json");
        File.WriteAllText(path, topology.ToJsonString());
        return path;
    }
}
