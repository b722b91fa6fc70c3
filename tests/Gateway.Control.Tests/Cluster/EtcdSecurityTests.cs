using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Gateway.Control.Hosting.Tests;
using Gateway.Control.Store.Etcd;
using Xunit.Abstractions;

namespace Gateway.Control.Cluster.Tests;

/// <summary>
/// <c>gateway run --etcd</c> against an etcd that speaks TLS and wants client certificates (a CA, server and client
/// certificates made with openssl here), and against one with authentication on (root and a user limited to the
/// gateway's prefix, set up with etcdctl). Each works end to end — the API answers, a change lands in etcd, read back
/// by etcdctl with the same credentials — and an untrusted CA, a missing client certificate or a wrong password ends
/// the daemon with exit code 1 and a message that says which.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class EtcdSecurityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory($"gwt-{Environment.ProcessId}-etcdsec-").FullName;
    private readonly List<Process> _etcd = [];

    public void Dispose()
    {
        foreach (var process in _etcd)
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
            process.Dispose();
        }
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task ClientTls_WithTheRightCaAndACertificate_Works_AnUntrustedCaOrNoCertificateExitsOneSayingWhy()
    {
        Openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", P("ca.key"), "-out", P("ca.pem"), "-days", "2", "-subj", "/CN=gwt test CA");
        Openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", P("other-ca.key"), "-out", P("other-ca.pem"), "-days", "2", "-subj", "/CN=gwt other CA");
        File.WriteAllText(P("server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n");
        File.WriteAllText(P("client.ext"), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
        foreach (string who in (string[])["server", "client"])
        {
            Openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", P($"{who}.key"), "-out", P($"{who}.csr"), "-subj", who == "server" ? "/CN=127.0.0.1" : "/CN=gateway");
            Openssl("x509", "-req", "-in", P($"{who}.csr"), "-CA", P("ca.pem"), "-CAkey", P("ca.key"), "-CAcreateserial", "-out", P($"{who}.pem"), "-days", "2", "-extfile", P($"{who}.ext"));
        }
        string endpoint = StartEtcd("tls", "https",
            "--cert-file", P("server.pem"), "--key-file", P("server.key"), "--client-cert-auth", "--trusted-ca-file", P("ca.pem"));
        string[] etcdctlTls = ["--cacert", P("ca.pem"), "--cert", P("client.pem"), "--key", P("client.key")];
        WaitHealthy(endpoint, etcdctlTls);

        string prefix = $"/gwt-{Environment.ProcessId}-tls/";
        string[] tls = ["--etcd-cacert", P("ca.pem"), "--etcd-cert", P("client.pem"), "--etcd-key", P("client.key")];
        await RunAndChangeAsync(endpoint, prefix, tls, etcdctlTls);

        var untrusted = RunExpectingFailure(endpoint, prefix, ["--etcd-cacert", P("other-ca.pem"), "--etcd-cert", P("client.pem"), "--etcd-key", P("client.key")]);
        Assert.Equal(1, untrusted.ExitCode);
        Assert.Contains("certificate", untrusted.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("--etcd-cacert", untrusted.Error, StringComparison.Ordinal);

        var anonymous = RunExpectingFailure(endpoint, prefix, ["--etcd-cacert", P("ca.pem")]);
        Assert.Equal(1, anonymous.ExitCode);
        Assert.Contains("--etcd-cert", anonymous.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UserAndPassword_RootAndAUserLimitedToThePrefix_Work_AWrongPasswordExitsOneSayingWhy()
    {
        string endpoint = StartEtcd("auth", "http");
        WaitHealthy(endpoint, []);
        string prefix = $"/gwt-{Environment.ProcessId}-auth/";
        Etcdctl(endpoint, [], "user", "add", "root:root-secret");
        Etcdctl(endpoint, [], "user", "grant-role", "root", "root", "--insecure-skip-tls-verify"); // 3.4 needs the role granted
        Etcdctl(endpoint, [], "role", "add", "gateway");
        Etcdctl(endpoint, [], "role", "grant-permission", "gateway", "--prefix=true", "readwrite", prefix);
        Etcdctl(endpoint, [], "user", "add", "gw:gw-secret");
        Etcdctl(endpoint, [], "user", "grant-role", "gw", "gateway");
        Etcdctl(endpoint, [], "auth", "enable");

        await RunAndChangeAsync(endpoint, prefix, ["--etcd-user", "gw", "--etcd-password", "gw-secret"], ["--user", "gw:gw-secret"]);
        await RunAndChangeAsync(endpoint, prefix + "root/", ["--etcd-user", "root:root-secret"], ["--user", "root:root-secret"]);

        var wrong = RunExpectingFailure(endpoint, prefix, ["--etcd-user", "gw", "--etcd-password", "not-it"]);
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("--etcd-user", wrong.Error, StringComparison.Ordinal);
        Assert.Contains("password", wrong.Error, StringComparison.OrdinalIgnoreCase);

        var outside = RunExpectingFailure(endpoint, "/elsewhere/", ["--etcd-user", "gw", "--etcd-password", "gw-secret"]);
        Assert.Equal(1, outside.ExitCode);
        Assert.Contains("permission", outside.Error, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A node through these options: the API answers, and its change is in etcd (read by etcdctl).</summary>
    private async Task RunAndChangeAsync(string endpoint, string prefix, string[] options, string[] etcdctlOptions)
    {
        string state = Path.Combine(_dir, $"state-{Guid.NewGuid():N}");
        using var node = await DaemonProcess.StartRunAsync(
        [
            "--state", state, "--api", "127.0.0.1:0", "--public-pool", "198.51.100.0/28", "--subnet", "10.6.0.0/24",
            "--etcd", endpoint, "--etcd-prefix", prefix, "--node-name", "secure", .. options,
        ]);
        using var http = new HttpClient();
        var run = await node.Client(http).CallAsync("cvm", "RunInstances", new JsonObject { ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = 5 } });
        string id = run.GetProperty("InstanceIdSet")[0].GetString()!;
        string stored = Etcdctl(endpoint, etcdctlOptions, "get", "--print-value-only", prefix + "state/instances/" + id);
        Assert.Contains(id, stored, StringComparison.Ordinal);
        output.WriteLine($"{string.Join(' ', options.Where(o => o.StartsWith("--", StringComparison.Ordinal)))}: {id} stored in etcd");
    }

    private (int ExitCode, string Error) RunExpectingFailure(string endpoint, string prefix, string[] options)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])[DaemonProcess.GatewayDll, "run", "--state", Path.Combine(_dir, $"fail-{Guid.NewGuid():N}"), "--api", "127.0.0.1:0",
            "--public-pool", "198.51.100.0/28", "--subnet", "10.6.0.0/24", "--etcd", endpoint, "--etcd-prefix", prefix, "--request-timeout", "3", .. options])
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            Assert.Fail($"the daemon kept running with {string.Join(' ', options)}: {stdout.Result}");
        }
        output.WriteLine($"{string.Join(' ', options)} → exit {process.ExitCode}: {error.Trim()}");
        return (process.ExitCode, error);
    }

    private string StartEtcd(string name, string scheme, params string[] extra)
    {
        int client = FreePort(), peer = FreePort();
        string url = $"{scheme}://127.0.0.1:{client.ToString(CultureInfo.InvariantCulture)}";
        string peerUrl = $"http://127.0.0.1:{peer.ToString(CultureInfo.InvariantCulture)}";
        var info = new ProcessStartInfo(LocalEtcdCluster.Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])["--name", name, "--data-dir", P($"etcd-{name}"), "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl, "--initial-cluster", $"{name}={peerUrl}", "--log-level", "warn", .. extra])
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _etcd.Add(process);
        return url;
    }

    private static void WaitHealthy(string endpoint, string[] options)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Run("etcdctl", ["--endpoints", endpoint, .. options, "endpoint", "health"]).ExitCode != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"etcd at {endpoint} did not become healthy");
            Thread.Sleep(200);
        }
    }

    private static string Etcdctl(string endpoint, string[] options, params string[] arguments)
    {
        var result = Run("etcdctl", ["--endpoints", endpoint, .. options, .. arguments.Where(a => a != "--insecure-skip-tls-verify")]);
        Assert.True(result.ExitCode == 0 || (arguments is ["user", "grant-role", "root", "root", ..] && result.Output.Contains("already", StringComparison.Ordinal)),
            $"etcdctl {string.Join(' ', arguments)} failed: {result.Output}");
        return result.Output;
    }

    private static void Openssl(params string[] arguments)
    {
        var result = Run("openssl", arguments);
        Assert.True(result.ExitCode == 0, $"openssl {string.Join(' ', arguments)} failed: {result.Output}");
    }

    private static (int ExitCode, string Output) Run(string file, string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["ETCDCTL_API"] = "3";
        foreach (string arg in arguments)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private string P(string file) => Path.Combine(_dir, file);
}
