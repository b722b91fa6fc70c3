using System.Text.Json;

namespace Gateway.Io.Pcap.Tests;

/// <summary>Finds the repository (and its captures/ corpus) from the test binaries' folder.</summary>
internal static class Repository
{
    public static string Root => Gateway.TestSupport.RepositoryLayout.Root;

    public static string Captures => Path.Combine(Root, "captures");

    /// <summary>Every capture file in captures/ (inputs and expected outputs).</summary>
    public static IEnumerable<object[]> CaptureFiles() =>
        Directory.EnumerateFiles(Captures).Where(f => f.EndsWith(".pcap", StringComparison.Ordinal) || f.EndsWith(".pcapng", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).Select(f => new object[] { Path.GetFileName(f) });

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
