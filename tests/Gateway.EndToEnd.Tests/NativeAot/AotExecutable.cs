using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Gateway.EndToEnd.Tests.Forwarding;
using Gateway.EndToEnd.Tests.Lab;

namespace Gateway.EndToEnd.Tests.NativeAot;

/// <summary>
/// The Native AOT executable as <c>scripts/publish.sh</c> makes it (out/aot/&lt;key&gt;/gateway, published once per state of
/// the sources). <c>./test.sh</c> publishes it before the tests and passes the path in <c>GATEWAY_AOT</c> (or the
/// publish's failure in <c>GATEWAY_AOT_ERROR</c>); without either, the first test to ask runs the script itself.
/// </summary>
internal static partial class AotExecutable
{
    private static readonly Lazy<string> s_path = new(Publish, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The executable's full path; a failed publish fails every test that asks, with the publish's output.</summary>
    public static string Path => s_path.Value;

    public static Shell.Result Run(params string[] arguments) => Shell.Run(TimeSpan.FromSeconds(120), Path, arguments);

    /// <summary>The managed build (<c>dotnet gateway.dll</c>), the reference the AOT executable must match.</summary>
    public static Shell.Result RunManaged(params string[] arguments) => GatewayExecutable.Run(arguments);

    private static string Publish()
    {
        if (Environment.GetEnvironmentVariable("GATEWAY_AOT_ERROR") is { Length: > 0 } error)
        {
            throw new InvalidOperationException("scripts/publish.sh failed in ./test.sh:\n" + error);
        }
        if (Environment.GetEnvironmentVariable("GATEWAY_AOT") is { Length: > 0 } given)
        {
            return File.Exists(given) ? System.IO.Path.GetFullPath(given) : throw new FileNotFoundException($"GATEWAY_AOT={given} does not exist.", given);
        }
        string root = GatewayExecutable.RepositoryRoot;
        // A first publish takes a minute or two of a quiet machine, many more under load.
        var result = Shell.Run(TimeSpan.FromMinutes(30), "bash", System.IO.Path.Combine(root, "scripts", "publish.sh"));
        string path = result.Output.Trim().Split('\n')[^1];
        if (result.ExitCode != 0 || path.Length == 0)
        {
            throw new InvalidOperationException("scripts/publish.sh failed: " + result);
        }
        return System.IO.Path.GetFullPath(System.IO.Path.Combine(root, path));
    }

    [GeneratedRegex(@"API listening on (http://[0-9.]+:[0-9]+)")]
    public static partial Regex ListeningLine();
}

/// <summary>A <c>gateway run</c> daemon of either build on a loopback port it picks itself; SIGTERM on dispose.</summary>
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
