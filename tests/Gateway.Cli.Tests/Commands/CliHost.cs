using System.Diagnostics;
using System.Text.Json;

namespace Gateway.Cli.Commands.Tests;

/// <summary>Runs <c>gateway</c> in-process with its console captured, or as a process for stdin/stdout.</summary>
internal static class CliHost
{
    private static readonly Lock s_console = new();

    public static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        lock (s_console)
        {
            TextWriter oldOut = Console.Out, oldErr = Console.Error;
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int code = Program.Main(args);
                return (code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }

    /// <summary><c>dotnet gateway.dll args</c> with <paramref name="stdin"/> piped in; returns standard output as bytes.</summary>
    public static (int Code, byte[] Stdout, string Stderr) RunProcess(byte[] stdin, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "gateway.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        var errors = process.StandardError.ReadToEndAsync();
        process.StandardInput.BaseStream.Write(stdin);
        process.StandardInput.Close();
        process.WaitForExit();
        copy.Wait();
        return (process.ExitCode, output.ToArray(), errors.Result);
    }

    public static string Root => Gateway.TestSupport.RepositoryLayout.Root;

    public static string Captures => Path.Combine(Root, "captures");

    public sealed record CorpusEntry(string Name, string Input, string Bindings, string? Events, string Expected, string Stats);

    public static IReadOnlyList<CorpusEntry> Corpus()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Captures, "corpus.json")));
        return [.. doc.RootElement.EnumerateArray().Select(e => new CorpusEntry(
            e.GetProperty("name").GetString()!, e.GetProperty("input").GetString()!, e.GetProperty("bindings").GetString()!,
            e.GetProperty("events").ValueKind == JsonValueKind.Null ? null : e.GetProperty("events").GetString(),
            e.GetProperty("expected").GetString()!, e.GetProperty("stats").GetString()!))];
    }

    public static IEnumerable<object[]> CorpusNames() => Corpus().Select(c => new object[] { c.Name });
}
