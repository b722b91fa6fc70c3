using System.Diagnostics;
using System.Globalization;

namespace Gateway.Cli.Lab;

/// <summary>Runs the system tools a lab is built with (ip, sysctl, ethtool) and background processes.</summary>
internal static class Sh
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static Result Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return new Result(-1, output.Result, $"timed out after 30 s: {file} {string.Join(' ', arguments)}");
        }
        return new Result(process.ExitCode, output.Result, error.Result);
    }

    /// <summary>Runs and throws (with the command and its error output) when it fails.</summary>
    public static string Must(string file, params string[] arguments)
    {
        var r = Run(file, arguments);
        if (r.ExitCode != 0)
        {
            throw new LabException($"'{file} {string.Join(' ', arguments)}' failed (exit {r.ExitCode}): {r.Error.Trim()}");
        }
        return r.Output;
    }

    /// <summary>
    /// Starts <paramref name="command"/> in the background, in a session of its own (so it outlives <c>lab up</c> and
    /// its whole group can be signalled), output to <paramref name="log"/>, in <paramref name="directory"/>.
    /// Returns the process id, which is also its process group id.
    /// </summary>
    public static int StartDetached(IReadOnlyList<string> command, string log, string directory)
    {
        // sh runs setsid in the background and prints its pid: a non-interactive shell puts no job in a group of its own,
        // so setsid is not a group leader, calls setsid(2) directly and execs the command under the same pid.
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("log=$1; shift; setsid \"$@\" >>\"$log\" 2>&1 </dev/null & echo $!");
        info.ArgumentList.Add("sh");
        info.ArgumentList.Add(log);
        foreach (var a in command)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info) ?? throw new LabException($"cannot start {command[0]}");
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return int.TryParse(output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            ? pid
            : throw new LabException($"cannot start '{string.Join(' ', command)}': {process.StandardError.ReadToEnd().Trim()}");
    }

    /// <summary>The process's start time in clock ticks since boot (/proc/PID/stat field 22), or null when it is gone or a zombie.</summary>
    public static long? StartTime(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields[0] is "Z" or "X")
            {
                return null;
            }
            return long.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>True when the process recorded as (<paramref name="pid"/>, <paramref name="startTime"/>) still runs (not a reused pid).</summary>
    public static bool IsRunning(int pid, long startTime) => pid > 0 && StartTime(pid) == startTime;

}

/// <summary>Something went wrong while building or removing a lab (a command failed, the daemon did not start).</summary>
internal sealed class LabException(string message) : Exception(message);
