using System.Diagnostics;
using System.Text;

namespace Gateway.EndToEnd.Tests.Forwarding;

/// <summary>Runs commands (ip, ping, python3) and collects what they print.</summary>
internal static class Shell
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}; stdout: {Output.Trim()}; stderr: {Error.Trim()}";
    }

    /// <summary>Python from the distribution (scripts/setup.sh installs it), not a version manager's shim.</summary>
    public static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    public static Result Run(string file, params string[] arguments) => Run(TimeSpan.FromSeconds(30), file, arguments);

    public static Result Run(TimeSpan timeout, string file, params string[] arguments)
    {
        using var process = Start(file, arguments);
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (error) { error.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return new Result(-1, output.ToString(), $"timed out after {timeout}: {file} {string.Join(' ', arguments)}\n{error}");
        }
        process.WaitForExit(); // flush the async readers
        return new Result(process.ExitCode, output.ToString(), error.ToString());
    }

    /// <summary>Runs and throws when the command fails (topology set-up, where failure means the test cannot run).</summary>
    public static string Must(string file, params string[] arguments)
    {
        var result = Run(file, arguments);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{file} {string.Join(' ', arguments)}' failed: {result}");
        }
        return result.Output;
    }

    /// <summary>Starts a long-running process (a server in a namespace); the caller kills it.</summary>
    public static Process Start(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
    }

    /// <summary>Runs <paramref name="file"/> inside network namespace <paramref name="ns"/>.</summary>
    public static Result InNamespace(string ns, string file, params string[] arguments) =>
        Run("ip", ["netns", "exec", ns, file, .. arguments]);
}
