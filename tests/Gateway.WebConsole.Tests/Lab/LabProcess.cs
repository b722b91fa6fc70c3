using System.Diagnostics;
using System.Globalization;
using Gateway.TestSupport;

namespace Gateway.WebConsole.Tests.Lab;

/// <summary>Runs commands for the lab tests: <c>gateway lab ...</c> and programs inside the lab's namespaces.</summary>
internal static class LabProcess
{
    public sealed record Result(int ExitCode, string Output)
    {
        public override string ToString() => $"exit {ExitCode.ToString(CultureInfo.InvariantCulture)}:\n{Output}";
    }

    /// <summary>A lab name of this process (1 to 12 of a-z0-9; the end-to-end suite's sweeper uses another prefix).</summary>
    public static string NewLabName() => string.Create(CultureInfo.InvariantCulture, $"w{Environment.ProcessId:x}x{Random.Shared.Next(0x1000):x3}");

    public static Result Gateway(params string[] args) => Run("dotnet", [RepositoryLayout.GatewayDll, .. args], TimeSpan.FromMinutes(3));

    public static Result InNamespace(string ns, params string[] command) => Run("ip", ["netns", "exec", ns, .. command], TimeSpan.FromSeconds(30));

    public static Result Run(string file, string[] args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        return new Result(process.ExitCode, stdout.Result + stderr.Result);
    }
}
