using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Gateway.EndToEnd.Tests.Forwarding;
using Gateway.EndToEnd.Tests.Lab;

namespace Gateway.EndToEnd.Tests.NativeAot;

/// <summary>
/// The Native AOT executable as <c>scripts/publish.sh</c> makes it (out/aot/&lt;key&gt;/gateway, published once per state of
/// the sources). Publishing costs minutes of CPU (perf/README.md, "Start-up"), so these tests run when it is asked for or
/// already done, and are skipped (saying how to run them) otherwise:
/// <list type="bullet">
/// <item><c>GATEWAY_TEST_AOT=0</c>: skipped;</item>
/// <item><c>GATEWAY_AOT</c>=path: that executable (<c>./test.sh</c> publishes and sets it, unless <c>GATEWAY_TEST_AOT=0</c>);</item>
/// <item><c>GATEWAY_AOT_ERROR</c>: the publish failed in <c>./test.sh</c>: every test fails with its output;</item>
/// <item><c>GATEWAY_TEST_AOT=1</c>: the first test to ask runs the script itself (<c>dotnet test</c> run alone);</item>
/// <item>otherwise the executable of these sources if <c>scripts/publish.sh</c> has already made it, else skipped.</item>
/// </list>
/// </summary>
internal static partial class AotExecutable
{
    /// <summary>What a skipped test says.</summary>
    public const string HowToRun = "the Native AOT executable is not asked for (GATEWAY_TEST_AOT=0) or not published for these sources: "
        + "run ./test.sh (it publishes), GATEWAY_TEST_AOT=1 dotnet test ..., or scripts/publish.sh once before the tests (minutes of CPU; perf/README.md, Start-up)";

    private static readonly Lazy<bool> s_available = new(Asked, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<string> s_path = new(Publish, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether the tests run (read when they are discovered, so it publishes nothing): asked for, or already published.</summary>
    public static bool IsAvailable => s_available.Value;

    /// <summary>The executable's full path; a failed publish fails every test that asks, with the publish's output.</summary>
    public static string Path => s_path.Value;

    public static Shell.Result Run(params string[] arguments) => Shell.Run(TimeSpan.FromSeconds(120), Path, arguments);

    /// <summary>The managed build (<c>dotnet gateway.dll</c>), the reference the AOT executable must match.</summary>
    public static Shell.Result RunManaged(params string[] arguments) => GatewayExecutable.Run(arguments);

    private static string Script => System.IO.Path.Combine(GatewayExecutable.RepositoryRoot, "scripts", "publish.sh");

    private static bool Asked() =>
        Environment.GetEnvironmentVariable("GATEWAY_TEST_AOT") != "0" && (Environment.GetEnvironmentVariable("GATEWAY_AOT_ERROR") is { Length: > 0 }
        || Environment.GetEnvironmentVariable("GATEWAY_AOT") is { Length: > 0 }
        || Environment.GetEnvironmentVariable("GATEWAY_TEST_AOT") == "1"
        || Shell.Run(TimeSpan.FromMinutes(2), "bash", Script, "--if-cached").ExitCode == 0);

    private static string Publish()
    {
        if (Environment.GetEnvironmentVariable("GATEWAY_AOT_ERROR") is { Length: > 0 } error)
        {
            throw new InvalidOperationException("scripts/publish.sh failed in ./test.sh:\n" + error);
        }
        if (Environment.GetEnvironmentVariable("GATEWAY_AOT") is { Length: > 0 } given)
        {
            // scripts/publish.sh prints a path relative to the repository (./test.sh passes it on as it is).
            string full = System.IO.Path.GetFullPath(given, GatewayExecutable.RepositoryRoot);
            return File.Exists(full) ? full : throw new FileNotFoundException($"GATEWAY_AOT={given} ({full}) does not exist.", full);
        }
        // Already published: at once. Otherwise a first publish takes minutes of CPU (many more of wall time under load).
        var result = Shell.Run(TimeSpan.FromMinutes(30), "bash", Script);
        string path = result.Output.Trim().Split('\n')[^1];
        if (result.ExitCode != 0 || path.Length == 0)
        {
            throw new InvalidOperationException("scripts/publish.sh failed: " + result);
        }
        return System.IO.Path.GetFullPath(System.IO.Path.Combine(GatewayExecutable.RepositoryRoot, path));
    }

    [GeneratedRegex(@"API listening on (http://[0-9.]+:[0-9]+)")]
    public static partial Regex ListeningLine();
}

/// <summary>A <c>gateway run</c> daemon of either build on a loopback port it picks itself; SIGTERM on dispose.</summary>
/// <summary>A fact about the Native AOT executable: skipped, saying how to run it, when it is neither asked for nor published.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class AotFactAttribute : FactAttribute
{
    public AotFactAttribute()
    {
        if (!AotExecutable.IsAvailable)
        {
            Skip = AotExecutable.HowToRun;
        }
    }
}

/// <summary>A theory about the Native AOT executable, skipped as <see cref="AotFactAttribute"/> is.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class AotTheoryAttribute : TheoryAttribute
{
    public AotTheoryAttribute()
    {
        if (!AotExecutable.IsAvailable)
        {
            Skip = AotExecutable.HowToRun;
        }
    }
}

internal sealed class GatewayDaemon : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private GatewayDaemon(Process process, string state)
    {
        _process = process;
        State = state;
    }

    /// <summary>The state directory, which holds the credentials file <c>gateway ctl --state</c> reads.</summary>
    public string State { get; }

    /// <summary>The API's <c>host:port</c>, for <c>gateway ctl --api</c>.</summary>
    public string Api { get; private set; } = "";

    public Uri Endpoint => new($"http://{Api}/");

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <param name="command">The executable and its leading arguments: the AOT path, or <c>dotnet gateway.dll</c>.</param>
    /// <param name="state">The state directory; credentials are generated there on the first start (no environment keys).</param>
    public static GatewayDaemon Start(IReadOnlyList<string> command, string state, params string[] extra)
    {
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[.. command.Skip(1), "run", "--state", state, "--api", "127.0.0.1:0",
                     "--public-pool", "198.51.100.0/28", "--subnet", "10.7.0.0/24", .. extra])
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment.Remove("GATEWAY_SECRET_ID");
        info.Environment.Remove("GATEWAY_SECRET_KEY");
        var daemon = new GatewayDaemon(Process.Start(info)!, state);
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        daemon._process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                listening.TrySetException(new InvalidOperationException("the daemon closed its output before listening:\n" + daemon.Output));
                return;
            }
            lock (daemon._output)
            {
                daemon._output.AppendLine(e.Data);
            }
            if (AotExecutable.ListeningLine().Match(e.Data) is { Success: true } m)
            {
                listening.TrySetResult(m.Groups[1].Value["http://".Length..]);
            }
        };
        daemon._process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (daemon._output)
                {
                    daemon._output.AppendLine("stderr: " + e.Data);
                }
            }
        };
        daemon._process.BeginOutputReadLine();
        daemon._process.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(90)))
        {
            daemon.Dispose();
            throw new TimeoutException("the daemon did not listen within 90 s:\n" + daemon.Output);
        }
        daemon.Api = listening.Task.Result;
        // The lines after "API listening" (the console's) are printed at once; let them arrive.
        Thread.Sleep(200);
        return daemon;
    }

    /// <summary>SIGTERM, then the exit code once the output is drained.</summary>
    public int Terminate()
    {
        if (!_process.HasExited)
        {
            Shell.Run("kill", "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (!_process.WaitForExit(30_000))
        {
            _process.Kill();
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        Terminate();
        _process.Dispose();
    }
}
