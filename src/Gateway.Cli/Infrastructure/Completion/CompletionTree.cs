using System.CommandLine;
using System.CommandLine.Help;

namespace Gateway.Cli.Infrastructure.Completion;

/// <summary>An option as a completion script sees it: its spellings, whether a value follows, and what values to offer.</summary>
internal sealed record CompletionOption(IReadOnlyList<string> Names, string Description, bool TakesValue, ValueKind Kind, IReadOnlyList<string> Choices);

/// <summary>A subcommand reachable from a node: the words that name it and the path it leads to.</summary>
internal sealed record CompletionChild(string Name, IReadOnlyList<string> Aliases, string Description, string Path);

/// <summary>
/// One command of the tree, by its path (<c>""</c> for <c>gateway</c>, <c>"ctl create"</c>), with what may follow it.
/// </summary>
internal sealed record CompletionNode(string Path, IReadOnlyList<CompletionChild> Children, IReadOnlyList<CompletionOption> Options,
    ValueKind PositionalKind, IReadOnlyList<string> PositionalChoices);

/// <summary>
/// The command tree flattened for the shell scripts (<see cref="BashCompletion"/>, <see cref="ZshCompletion"/>,
/// <see cref="FishCompletion"/>): each script walks the words typed so far through the same table to find the command
/// being completed, skipping option values, then offers that command's subcommands, options or values. Generated from
/// the System.CommandLine tree, so a new verb or option is in the scripts without touching them.
/// </summary>
internal static class CompletionTree
{
    public static IReadOnlyList<CompletionNode> Flatten(RootCommand root)
    {
        var nodes = new List<CompletionNode>();
        Visit(root, "", nodes);
        return nodes;
    }

    private static void Visit(Command command, string path, List<CompletionNode> nodes)
    {
        var children = command.Subcommands.Where(c => !c.Hidden)
            .Select(c => new CompletionChild(c.Name, [.. c.Aliases], OneLine(c.Description), Join(path, c.Name)))
            .ToList();
        var options = CliSymbols.OptionsInScope(command).Where(o => !o.Hidden).Select(Describe).ToList();
        var positional = command.Arguments.FirstOrDefault(a => !a.Hidden);
        var notes = positional is null ? null : CliSymbols.Notes(positional);
        nodes.Add(new CompletionNode(path, children, options, notes?.Kind ?? ValueKind.Text, notes?.Choices ?? []));
        foreach (var sub in command.Subcommands.Where(c => !c.Hidden))
        {
            Visit(sub, Join(path, sub.Name), nodes);
        }
    }

    private static CompletionOption Describe(Option option)
    {
        var names = new[] { option.Name }.Concat(option.Aliases)
            .Where(n => n.StartsWith('-') && n != "-?")
            .Distinct(StringComparer.Ordinal)
            .OrderBy(n => n.StartsWith("--", StringComparison.Ordinal) ? 1 : 0)
            .ToList();
        var notes = CliSymbols.Notes(option);
        string description = option is HelpOption ? "show help and usage information" : OneLine(option.Description);
        return new CompletionOption(names, description, CliSymbols.TakesValue(option), notes.Kind, notes.Choices);
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : path + " " + name;

    /// <summary>The description's first sentence-ish line, for the one-line descriptions zsh and fish show.</summary>
    internal static string OneLine(string? text)
    {
        string line = (text ?? "").ReplaceLineEndings(" ").Trim();
        return line.Length <= 90 ? line : line[..87].TrimEnd() + "...";
    }

    /// <summary>Single-quoted for sh, bash, zsh and fish: <c>'it'\''s'</c> (fish: <c>'it\'s'</c>).</summary>
    internal static string ShQuote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    internal static string FishQuote(string text) => "'" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    /// <summary>What a value completes to, as the scripts' tables spell it: @file, @dir, or the words.</summary>
    internal static string ValueSpec(ValueKind kind, IReadOnlyList<string> choices) => kind switch
    {
        ValueKind.File => "@file",
        ValueKind.Directory => "@dir",
        ValueKind.Choice => string.Join(' ', choices),
        _ => "",
    };
}
