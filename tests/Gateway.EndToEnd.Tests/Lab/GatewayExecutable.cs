using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Gateway.EndToEnd.Tests.Forwarding;

namespace Gateway.EndToEnd.Tests.Lab;

/// <summary>The real <c>gateway</c> executable (<c>dotnet gateway.dll …</c>) and the leftovers of labs it made.</summary>
internal static partial class GatewayExecutable
{
    public const string RunRoot = "/run/gateway-lab";

    /// <summary>Where the build put gateway.dll.</summary>
    public static string Dll => Gateway.TestSupport.RepositoryLayout.GatewayDll;

    public static string RepositoryRoot => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Dll)!, "..", "..", "..", "..", ".."));

    public static Shell.Result Run(params string[] arguments) => Shell.Run(TimeSpan.FromSeconds(120), "dotnet", [Dll, .. arguments]);

    /// <summary>A lab name for this test process: <c>e&lt;pid&gt;x&lt;random&gt;</c>, so the sweep can tell a killed run's labs.</summary>
    public static string NewLabName() =>
        string.Create(CultureInfo.InvariantCulture, $"e{Environment.ProcessId:x}x{Random.Shared.Next(0x1000):x3}");

    [GeneratedRegex("^e([0-9a-f]+)x[0-9a-f]+$")]
    private static partial Regex TestLabName();

    [GeneratedRegex("^gwl-(e[0-9a-f]+x[0-9a-f]+)-")]
    private static partial Regex TestLabNamespace();

    /// <summary>Takes down the labs of test runs whose process is gone (killed before their clean-up).</summary>
    public static void SweepLeftovers()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (Directory.Exists(RunRoot))
        {
            names.UnionWith(Directory.GetDirectories(RunRoot).Select(Path.GetFileName)!);
        }
        foreach (var line in Shell.Run("ip", "netns", "list").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (TestLabNamespace().Match(line) is { Success: true } m)
            {
                names.Add(m.Groups[1].Value);
            }
        }
        foreach (string name in names)
        {
            if (TestLabName().Match(name) is { Success: true } m
                && int.TryParse(m.Groups[1].Value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int pid)
                && !IsRunning(pid))
            {
                Run("lab", "down", "--name", name);
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>What of lab <paramref name="name"/> exists now: namespaces, root links, processes naming its run directory, the directory.</summary>
    public static List<string> Remains(string name)
    {
        var remains = new List<string>();
        remains.AddRange(Shell.Run("ip", "netns", "list").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Where(ns => ns.StartsWith($"gwl-{name}-", StringComparison.Ordinal)).Select(ns => "namespace " + ns));
        foreach (string link in new[] { $"gw{name}i", $"gw{name}v" })
        {
            if (Shell.Run("ip", "link", "show", "dev", link).ExitCode == 0)
            {
                remains.Add("link " + link);
            }
        }
        string dir = Path.Combine(RunRoot, name);
        foreach (var proc in Directory.GetDirectories("/proc"))
        {
            string cmdline, cwd;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                // exec commands run in the lab's node directories: their working directory gives them away.
                cwd = new FileInfo(Path.Combine(proc, "cwd")).LinkTarget ?? "";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            if (cmdline.Contains(dir + "/", StringComparison.Ordinal) || cmdline.Contains($"gwl-{name}-", StringComparison.Ordinal)
                || cwd.StartsWith(dir + "/", StringComparison.Ordinal))
            {
                remains.Add($"process {Path.GetFileName(proc)}: {cmdline.Trim()}");
            }
        }
        if (Directory.Exists(dir))
        {
            remains.Add("directory " + dir);
        }
        return remains;
    }
}
