using System.Text.Json;
using Gateway.EndToEnd.Tests.Forwarding;
using Gateway.EndToEnd.Tests.Lab;
using Gateway.TestSupport;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.Tests.NativeAot;

/// <summary>
/// The Native AOT executable (<c>scripts/publish.sh</c>) does every job but the web console, and does it as the managed
/// build does: the same version line, the same replay byte for byte, the same completion scripts, a daemon on SQLite
/// or etcd that <c>ctl</c> drives and that says once that the console is not in this build, a lab whose daemon is the
/// same executable. The managed build (<c>dotnet gateway.dll</c>) is the oracle wherever the two can be compared.
/// </summary>
public sealed class NativeAotExecutableTests(ITestOutputHelper output) : IDisposable
{
    private const string ConsoleNotice = "the web console is not part of this ahead-of-time (Native AOT) build";
    private readonly string _dir = Directory.CreateTempSubdirectory("gwt-aot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [AotFact]
    public void Version_IsTheManagedBuildsLine()
    {
        var aot = AotExecutable.Run("--version");
        var managed = AotExecutable.RunManaged("--version");

        Assert.True(aot.ExitCode == 0, aot.ToString());
        Assert.Matches(@"^gateway \d+\.\d+\.\d+\.\d+\s*$", aot.Output);
        Assert.Equal(managed.Output, aot.Output);
    }

    [AotFact]
    public void Replay_OfTheMixedCapture_IsByteForByteTheExpectedCapture_WithTheManagedBuildsCounts()
    {
        string bindings = Path.Combine(RepositoryLayout.Captures, "mixed.bindings.json");
        string input = Path.Combine(RepositoryLayout.Captures, "mixed.pcap");

        var aot = AotExecutable.Run("replay", input, "-o", Path.Combine(_dir, "aot.pcap"), "--bindings", bindings, "--stats-json", Path.Combine(_dir, "aot.json"));
        var managed = AotExecutable.RunManaged("replay", input, "-o", Path.Combine(_dir, "managed.pcap"), "--bindings", bindings, "--stats-json", Path.Combine(_dir, "managed.json"));

        Assert.True(aot.ExitCode == 0, aot.ToString());
        Assert.True(managed.ExitCode == 0, managed.ToString());
        Assert.Equal(File.ReadAllBytes(Path.Combine(RepositoryLayout.Captures, "mixed.expected.pcap")), File.ReadAllBytes(Path.Combine(_dir, "aot.pcap")));
        Assert.Equal(File.ReadAllText(Path.Combine(_dir, "managed.json")), File.ReadAllText(Path.Combine(_dir, "aot.json")));
        Assert.Contains("Packets out:                       23", aot.Output, StringComparison.Ordinal);
    }

    [AotFact]
    public void Replay_OfAMissingFile_IsTheManagedBuildsError()
    {
        string missing = Path.Combine(_dir, "missing.pcap");

        var aot = AotExecutable.Run("replay", missing, "-o", Path.Combine(_dir, "out.pcap"), "--bindings", Path.Combine(RepositoryLayout.Captures, "mixed.bindings.json"));
        var managed = AotExecutable.RunManaged("replay", missing, "-o", Path.Combine(_dir, "out.pcap"), "--bindings", Path.Combine(RepositoryLayout.Captures, "mixed.bindings.json"));

        Assert.NotEqual(0, aot.ExitCode);
        Assert.Equal(managed.ExitCode, aot.ExitCode);
        Assert.Equal(managed.Error, aot.Error);
    }

    [AotTheory]
    [InlineData("bash")]
    [InlineData("zsh")]
    [InlineData("fish")]
    public void Completion_IsTheManagedBuildsScript(string shell)
    {
        var aot = AotExecutable.Run("completion", shell);
        var managed = AotExecutable.RunManaged("completion", shell);

        Assert.True(aot.ExitCode == 0, aot.ToString());
        Assert.Equal(managed.Output, aot.Output);
    }

    [AotFact]
    public void Bench_AShortRun_TranslatesEveryFrameWithoutAllocating()
    {
        string json = Path.Combine(_dir, "bench.json");

        var bench = AotExecutable.Run("bench", "--bindings", "4096", "--duration", "0.5", "--warmup", "0.1", "--ring", "4096", "--no-progress", "--output", json);

        Assert.True(bench.ExitCode == 0, bench.ToString());
        using var figures = JsonDocument.Parse(File.ReadAllText(json));
        var root = figures.RootElement;
        Assert.True(root.GetProperty("frames").GetInt64() > 0);
        Assert.Equal(0, root.GetProperty("impossibleBindings").GetInt64());
        Assert.Equal(0, root.GetProperty("workerAllocatedBytes").GetInt64());
    }

    [AotFact]
    public async Task Run_OnSqlite_AnswersCtl_SaysOnceThatTheConsoleIsNotInThisBuild_AndKeepsItsStateAcrossARestart()
    {
        string state = Path.Combine(_dir, "state");
        using (var daemon = GatewayDaemon.Start([AotExecutable.Path], state, "--metrics", "127.0.0.1:0"))
        {
            output.WriteLine(daemon.Output);
            Assert.Single(Lines(daemon.Output), l => l.Contains(ConsoleNotice, StringComparison.Ordinal));
            Assert.Contains("dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll run", daemon.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("/console (sign in", daemon.Output, StringComparison.Ordinal);

            // A browser sent to /console by habit learns the same, instead of the API's JSON error.
            using var http = new HttpClient();
            using var page = await http.GetAsync(new Uri(daemon.Endpoint, "console"));
            Assert.Equal(System.Net.HttpStatusCode.NotFound, page.StatusCode);
            Assert.Contains(ConsoleNotice, await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            var create = Ctl(daemon, "create", "--bandwidth", "10", "--name", "aot-web");
            Assert.True(create.ExitCode == 0, create.ToString());
            var stop = Ctl(daemon, "stop", create.Output.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).First(w => w.StartsWith("ins-", StringComparison.Ordinal)));
            Assert.True(stop.ExitCode == 0, stop.ToString());
            // The managed build's ctl reads what the AOT daemon holds, the same way.
            var managedList = AotExecutable.RunManaged("ctl", "--api", daemon.Api, "--state", state, "instances");
            Assert.True(managedList.ExitCode == 0, managedList.ToString());
            Assert.Contains("aot-web", managedList.Output, StringComparison.Ordinal);
            Assert.Contains("STOPPED", managedList.Output, StringComparison.Ordinal);
            // The caps' view (Monitor API, JSON built with JsonNodes) and the Prometheus endpoint (prometheus-net).
            var traffic = Ctl(daemon, "traffic");
            Assert.True(traffic.ExitCode == 0, traffic.ToString());
            Assert.Contains("ins-", traffic.Output, StringComparison.Ordinal);
            var metricsAt = System.Text.RegularExpressions.Regex.Match(daemon.Output, @"metrics at (http://[0-9.]+:[0-9]+/metrics)");
            Assert.True(metricsAt.Success, daemon.Output);
            string metrics = await http.GetStringAsync(new Uri(metricsAt.Groups[1].Value));
            Assert.Matches(@"(?m)^gateway_api_requests_total\{action=""RunInstances"",code=""OK""\} 1(\.0)?$", metrics);
            Assert.Contains("gateway_bindings ", metrics, StringComparison.Ordinal);
            Assert.Equal(0, daemon.Terminate());
            Assert.Contains("gateway: stopped", daemon.Output, StringComparison.Ordinal);
        }

        using var again = GatewayDaemon.Start([AotExecutable.Path], state);
        Assert.Contains("1 instances", again.Output, StringComparison.Ordinal);
        var list = Ctl(again, "instances");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("aot-web", list.Output, StringComparison.Ordinal);
        Assert.Contains("STOPPED", list.Output, StringComparison.Ordinal);
    }

    [AotFact]
    public void Run_OnEtcd_SharesTheClusterStateWithAManagedNode_BothWays()
    {
        using var etcd = EtcdTestCluster.Start(1);
        string prefix = $"/gwt-{Environment.ProcessId}-aot/";
        using var aot = GatewayDaemon.Start([AotExecutable.Path], Path.Combine(_dir, "aot"), "--etcd", etcd.Endpoints, "--etcd-prefix", prefix, "--node-name", "aot");
        // The cluster's key pair is created by its first node and copied to every later node's state directory.
        using var managed = GatewayDaemon.Start(["dotnet", GatewayExecutable.Dll], Path.Combine(_dir, "managed"), "--etcd", etcd.Endpoints, "--etcd-prefix", prefix, "--node-name", "managed");
        Assert.Contains(ConsoleNotice, aot.Output, StringComparison.Ordinal);
        Assert.Contains("/console (sign in", managed.Output, StringComparison.Ordinal);

        // Written by the AOT node (generated serializer), read by the managed one, and the other way round.
        var create = Ctl(aot, "create", "--bandwidth", "5", "--name", "from-aot");
        Assert.True(create.ExitCode == 0, create.ToString());
        string id = create.Output.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).First(w => w.StartsWith("ins-", StringComparison.Ordinal));
        var rename = AotExecutable.RunManaged("ctl", "--api", managed.Api, "--state", managed.State, "rename", id, "renamed-by-managed");
        Assert.True(rename.ExitCode == 0, rename.ToString());
        string? seen = null;
        Assert.True(NamespaceLab.Eventually(() => (seen = Ctl(aot, "instances").Output).Contains("renamed-by-managed", StringComparison.Ordinal)), seen);
        var fromManaged = AotExecutable.RunManaged("ctl", "--api", managed.Api, "--state", managed.State, "instances");
        Assert.Equal(fromManaged.Output, Ctl(aot, "instances").Output);

        var cluster = Ctl(aot, "cluster");
        Assert.True(cluster.ExitCode == 0, cluster.ToString());
        Assert.Contains("aot", cluster.Output, StringComparison.Ordinal);
        Assert.Contains("managed", cluster.Output, StringComparison.Ordinal);
    }

    [AotFact]
    [Trait("Category", "RootNamespaces")]
    public void LabUp_StartsItsDaemonWithTheSameExecutable_AndSaysWhereTheConsoleIs()
    {
        GatewayExecutable.SweepLeftovers();
        string name = GatewayExecutable.NewLabName();
        string sample = Path.Combine(GatewayExecutable.RepositoryRoot, "lab", "sample-topology.json");
        try
        {
            var up = AotExecutable.Run("lab", "up", sample, "--name", name);
            output.WriteLine(up.ToString());
            Assert.True(up.ExitCode == 0, up.ToString());
            Assert.Contains("Web console: not part of this ahead-of-time (Native AOT) build", up.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("/console\n", up.Output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
            Assert.Contains($"{AotExecutable.Path} lab down", up.Output, StringComparison.Ordinal);

            string stateFile = Path.Combine(GatewayExecutable.RunRoot, name, "lab.json");
            using var state = JsonDocument.Parse(File.ReadAllText(stateFile));
            int pid = state.RootElement.GetProperty("processes").EnumerateArray()
                .First(p => p.GetProperty("role").GetString() == "gateway").GetProperty("pid").GetInt32();
            Assert.Equal(AotExecutable.Path, new FileInfo($"/proc/{pid}/exe").LinkTarget);

            string? page = null;
            Assert.True(NamespaceLab.Eventually(() =>
            {
                var curl = Shell.InNamespace($"gwl-{name}-client1", "curl", "-s", "-m", "2", "http://198.51.100.1/");
                page = curl.Output;
                return curl.ExitCode == 0;
            }), page);
            Assert.Equal("hello from web", page!.Trim());

            var down = AotExecutable.Run("lab", "down", "--name", name);
            Assert.True(down.ExitCode == 0, down.ToString());
            Assert.Empty(GatewayExecutable.Remains(name));
        }
        finally
        {
            GatewayExecutable.Run("lab", "down", "--name", name);
        }
    }

    private static Shell.Result Ctl(GatewayDaemon daemon, params string[] arguments) =>
        AotExecutable.Run(["ctl", "--api", daemon.Api, "--state", daemon.State, .. arguments]);

    private static string[] Lines(string text) => text.ReplaceLineEndings("\n").Split('\n');
}
