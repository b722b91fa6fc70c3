using System.Diagnostics;
using System.Text.RegularExpressions;
using Gateway.Control.Api;
using Gateway.Control.Auth;
using Gateway.TestSupport;

namespace Gateway.WebConsole.Tests.Browser;

/// <summary>The real daemon, <c>dotnet gateway.dll run ...</c>, on a loopback port it picks itself, with a state
/// directory of its own that goes with it.</summary>
internal sealed partial class ConsoleDaemon : IAsyncDisposable
{
    public static readonly Credentials Keys = new("AKIDconsoleTest0123456789abcdefgh", "consoleTestSecretKey0123456789ab");

    private readonly Process _process;
    private readonly List<string> _output;
    private readonly string _state;

    private ConsoleDaemon(Process process, Uri endpoint, List<string> output, string state)
    {
        _process = process;
        Endpoint = endpoint;
        _output = output;
        _state = state;
    }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri Endpoint { get; }

    public Uri Console(string path = "") => new(Endpoint, "console" + path);

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

    /// <summary>The API, signed with the same keys: the independent view of what the console did.</summary>
    public ApiClient Api(HttpClient http) => new(http, Endpoint, Keys);

    public static async Task<ConsoleDaemon> StartAsync(params string[] extra)
    {
        string state = Path.Combine(Path.GetTempPath(), $"gwt-{Environment.ProcessId}-console-{Guid.NewGuid():N}");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])[RepositoryLayout.GatewayDll, "run", "--state", state, "--api", "127.0.0.1:0",
            "--public-pool", "198.51.100.0/28", "--subnet", "10.4.0.0/24", .. extra])
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment[Credentials.SecretIdVariable] = Keys.SecretId;
        info.Environment[Credentials.SecretKeyVariable] = Keys.SecretKey;
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
            if (ListeningLine().Match(e.Data) is { Success: true } m)
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
            return new ConsoleDaemon(process, await ready.Task.WaitAsync(TimeSpan.FromSeconds(60)), lines, state);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            Directory.Delete(state, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    [GeneratedRegex("API listening on (https?://\\S+)$")]
    private static partial Regex ListeningLine();
}
