using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Gateway.Control.Api;
using Gateway.Control.Api.Tests;

namespace Gateway.Control.Hosting.Tests;

/// <summary>The real daemon, <c>dotnet gateway.dll run ...</c>, on a loopback port it picks itself.</summary>
internal sealed partial class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _output;

    private DaemonProcess(Process process, Uri endpoint, List<string> output)
    {
        _process = process;
        Endpoint = endpoint;
        _output = output;
    }

    public Uri Endpoint { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join("\n", _output);
            }
        }
    }

    public ApiClient Client(HttpClient http, Gateway.Control.Auth.Credentials? keys = null) => new(http, Endpoint, keys ?? ApiFixture.Keys);

    /// <summary>Where the build put gateway.dll.</summary>
    public static string GatewayDll => Gateway.TestSupport.RepositoryLayout.GatewayDll;

    public static Task<DaemonProcess> StartAsync(string stateDirectory, params string[] extra) =>
        StartAsync(stateDirectory, credentialsFromEnvironment: true, api: "127.0.0.1:0", extra);

    /// <param name="credentialsFromEnvironment">false: no GATEWAY_SECRET_* in the daemon's environment (it uses or writes the state directory's file).</param>
    /// <param name="api">The --api option; null leaves it out (the default address).</param>
    public static Task<DaemonProcess> StartAsync(string stateDirectory, bool credentialsFromEnvironment, string? api, params string[] extra) =>
        StartRunAsync([.. (string[])["--state", stateDirectory, .. (api is null ? (string[])[] : ["--api", api]),
            "--public-pool", "198.51.100.0/24", "--subnet", "10.2.0.0/24", .. extra]], credentialsFromEnvironment);

    /// <summary>Starts <c>gateway run</c> with exactly <paramref name="runArguments"/> (the cluster tests choose their own pool).</summary>
    public static async Task<DaemonProcess> StartRunAsync(IReadOnlyList<string> runArguments, bool credentialsFromEnvironment = true)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])[GatewayDll, "run", .. runArguments])
        {
            info.ArgumentList.Add(arg);
        }
        if (credentialsFromEnvironment)
        {
            info.Environment["GATEWAY_SECRET_ID"] = ApiFixture.Keys.SecretId;
            info.Environment["GATEWAY_SECRET_KEY"] = ApiFixture.Keys.SecretKey;
        }
        else
        {
            info.Environment.Remove("GATEWAY_SECRET_ID");
            info.Environment.Remove("GATEWAY_SECRET_KEY");
        }
        var process = Process.Start(info)!;
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lines = new List<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException("the daemon closed its output before listening:\n" + string.Join("\n", lines)));
                return;
            }
            lock (lines)
            {
                lines.Add(e.Data);
            }
            var m = ListeningLine().Match(e.Data);
            if (m.Success)
            {
                ready.TrySetResult(new Uri(m.Groups[1].Value + "/"));
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (lines)
                {
                    lines.Add("stderr: " + e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var endpoint = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return new DaemonProcess(process, endpoint, lines);
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            process.Dispose();
            throw;
        }
    }

    /// <summary>SIGTERM, then the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        Assert.Equal(0, Kill(_process.Id, SigTerm));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        _process.WaitForExit(); // and the output streams drained
        return _process.ExitCode;
    }

    /// <summary>kill -9: no chance to flush or close anything.</summary>
    public void KillHard()
    {
        Assert.Equal(0, Kill(_process.Id, SigKill));
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
    }

    private const int SigTerm = 15;
    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [GeneratedRegex("API listening on (http://\\S+)$")]
    private static partial Regex ListeningLine();
}
