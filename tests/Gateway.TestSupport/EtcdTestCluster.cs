using System.Diagnostics;
using System.Net.Http;
using Gateway.Control.Store.Etcd;

namespace Gateway.TestSupport;

/// <summary>
/// A real etcd cluster for a test run: <paramref name="members"/> members of Debian's etcd-server on free loopback
/// ports, data in a temporary folder, started by the tests themselves and removed (processes and data) on dispose.
/// Members can be killed with SIGKILL and started again with their data, as a crash and a restart.
/// </summary>
public sealed class EtcdTestCluster : IDisposable
{
    private readonly Process?[] _processes;
    private readonly LocalEtcdCluster _plan;
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(2) };

    private EtcdTestCluster(string root, LocalEtcdCluster plan)
    {
        Root = root;
        _plan = plan;
        _processes = new Process?[plan.Members.Count];
    }

    /// <summary>The folder holding every member's data and log.</summary>
    public string Root { get; }

    /// <summary>Client URLs, comma-separated (<c>gateway run --etcd</c>).</summary>
    public string Endpoints => _plan.Endpoints;

    public IReadOnlyList<string> EndpointList => [.. _plan.Members.Select(m => m.ClientUrl)];

    public int MemberCount => _plan.Members.Count;

    public static EtcdTestCluster Start(int members = 3)
    {
        if (!File.Exists(LocalEtcdCluster.Executable))
        {
            throw new InvalidOperationException("etcd is not installed: run scripts/setup.sh (it installs Debian's etcd-server).");
        }
        // tmpfs when there is one: etcd fsyncs every commit, and these tests are about ordering, not the disk.
        string parent = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        string root = Path.Combine(parent, $"gwt-{Environment.ProcessId}-etcd-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(root);
        for (int attempt = 1; ; attempt++)
        {
            var cluster = new EtcdTestCluster(root, LocalEtcdCluster.Plan($"gwt{Environment.ProcessId}m", members, Path.Combine(root, $"try{attempt}")));
            try
            {
                for (int i = 0; i < members; i++)
                {
                    cluster.StartMember(i, existing: false);
                }
                cluster.WaitHealthy(TimeSpan.FromSeconds(30));
                return cluster;
            }
            catch (TimeoutException) when (attempt < 3)
            {
                // A port taken between planning and binding (other test runs share this host): plan again.
                cluster.KillAll();
            }
            catch
            {
                cluster.Dispose();
                throw;
            }
        }
    }

    public bool IsRunning(int member) => _processes[member] is { HasExited: false };

    /// <summary>SIGKILL, as a crash: no shutdown, its data folder stays.</summary>
    public void Kill(int member)
    {
        if (_processes[member] is { } process)
        {
            try
            {
                process.Kill();
                process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
            }
            process.Dispose();
            _processes[member] = null;
        }
    }

    /// <summary>Starts a killed member again with its data (it rejoins the cluster).</summary>
    public void Restart(int member) => StartMember(member, existing: true);

    /// <summary>Waits until every running member reports healthy (which needs a leader, so quorum).</summary>
    public void WaitHealthy(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            bool all = true;
            for (int i = 0; i < _processes.Length; i++)
            {
                if (_processes[i] is null)
                {
                    continue;
                }
                if (_processes[i]!.HasExited)
                {
                    throw new InvalidOperationException($"etcd member {i} exited with {_processes[i]!.ExitCode}; its log: {Log(i)}");
                }
                all &= IsHealthy(i);
            }
            if (all)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the etcd cluster in {Root} was not healthy within {timeout.TotalSeconds} s; logs: {string.Join(" | ", Enumerable.Range(0, _processes.Length).Select(Log))}");
            }
            Thread.Sleep(50);
        }
    }

    private bool IsHealthy(int member)
    {
        try
        {
            string body = s_http.GetStringAsync(new Uri(_plan.Members[member].ClientUrl + "/health")).GetAwaiter().GetResult();
            return body.Contains("\"health\":\"true\"", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public string Log(int member)
    {
        string path = LogPath(member);
        try
        {
            string text = File.ReadAllText(path);
            return text.Length > 2000 ? text[^2000..] : text;
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private string LogPath(int member) => Path.Combine(Root, _plan.Members[member].Name + ".log");

    private void StartMember(int member, bool existing)
    {
        var info = new ProcessStartInfo(LocalEtcdCluster.Executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in _plan.Arguments(member, existing))
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start etcd");
        var log = new StreamWriter(LogPath(member), append: true) { AutoFlush = true };
        void Write(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (log)
            {
                try
                {
                    log.WriteLine(line);
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.Exited += (_, _) =>
        {
            lock (log)
            {
                log.Dispose();
            }
        };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes[member] = process;
    }

    private void KillAll()
    {
        for (int i = 0; i < _processes.Length; i++)
        {
            Kill(i);
        }
    }

    public void Dispose()
    {
        KillAll();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
