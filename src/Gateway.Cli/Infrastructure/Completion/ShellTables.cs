using System.Text;
using static Gateway.Cli.Infrastructure.Completion.CompletionTree;

namespace Gateway.Cli.Infrastructure.Completion;

/// <summary>
/// The command tree as five shell functions of <c>case</c> statements that bash and zsh read alike:
/// <list type="bullet">
/// <item><c>__gateway_child PATH WORD</c> prints the path WORD leads to, if it names a subcommand of PATH;</item>
/// <item><c>__gateway_takes_value PATH OPTION</c> succeeds when OPTION is followed by a value;</item>
/// <item><c>__gateway_values PATH OPTION</c> prints what that value completes to: <c>@file</c>, <c>@dir</c> or words;</item>
/// <item><c>__gateway_positional PATH</c> the same for the command's first positional argument;</item>
/// <item><c>__gateway_commands PATH</c> and <c>__gateway_options PATH</c> print <c>name:description</c> lines.</item>
/// </list>
/// </summary>
internal static class ShellTables
{
    public static void Write(StringBuilder sh, IReadOnlyList<CompletionNode> nodes)
    {
        Function(sh, "__gateway_child", "# $1: command path, $2: a word typed after it. Prints the path of the subcommand the word names.",
            nodes.SelectMany(n => n.Children.Select(c => (Patterns: c.Aliases.Prepend(c.Name).Select(w => $"{n.Path}/{w}"), Body: $"echo {ShQuote(c.Path)}"))),
            "");
        Function(sh, "__gateway_takes_value", "# $1: command path, $2: an option. Succeeds when a value follows the option.",
            nodes.SelectMany(n => n.Options.Where(o => o.TakesValue).Select(o => (Patterns: o.Names.Select(name => $"{n.Path}/{name}"), Body: "return 0"))),
            "return 1");
        Function(sh, "__gateway_values", "# $1: command path, $2: an option. Prints @file, @dir or the words its value can be.",
            nodes.SelectMany(n => n.Options.Where(o => o.TakesValue && ValueSpec(o.Kind, o.Choices).Length > 0)
                .Select(o => (Patterns: o.Names.Select(name => $"{n.Path}/{name}"), Body: $"echo {ShQuote(ValueSpec(o.Kind, o.Choices))}"))),
            "");
        Function(sh, "__gateway_positional", "# $1: command path. Prints @file, @dir or the words its first argument can be.",
            nodes.Where(n => ValueSpec(n.PositionalKind, n.PositionalChoices).Length > 0)
                .Select(n => (Patterns: (IEnumerable<string>)[n.Path + "/"], Body: $"echo {ShQuote(ValueSpec(n.PositionalKind, n.PositionalChoices))}")),
            "");
        Function(sh, "__gateway_commands", "# $1: command path. Prints its subcommands as name:description lines.",
            nodes.Where(n => n.Children.Count > 0)
                .Select(n => (Patterns: (IEnumerable<string>)[n.Path + "/"], Body: $"printf '%s\\n' {string.Join(' ', n.Children.Select(c => ShQuote($"{c.Name}:{c.Description}")))}")),
            "");
        Function(sh, "__gateway_options", "# $1: command path. Prints its options as name:description lines.",
            nodes.Select(n => (Patterns: (IEnumerable<string>)[n.Path + "/"],
                Body: $"printf '%s\\n' {string.Join(' ', n.Options.SelectMany(o => o.Names.Select(name => ShQuote($"{name}:{o.Description}"))))}")),
            "");
    }

    private static void Function(StringBuilder sh, string name, string comment, IEnumerable<(IEnumerable<string> Patterns, string Body)> cases, string fallback)
    {
        sh.Append(comment).Append('\n');
        sh.Append(name).Append("() {\n");
        sh.Append("    case \"$1/$2\" in\n");
        foreach (var (patterns, body) in cases)
        {
            sh.Append("        ").Append(string.Join('|', patterns.Select(ShQuote))).Append(") ").Append(body).Append(" ;;\n");
        }
        if (fallback.Length > 0)
        {
            sh.Append("        *) ").Append(fallback).Append(" ;;\n");
        }
        sh.Append("    esac\n}\n\n");
    }
}
