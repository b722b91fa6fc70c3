using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Globalization;
using System.Text;

namespace Gateway.Cli.Infrastructure;

/// <summary>
/// One help layout for every verb and command: a usage line, the description, arguments, options (required ones
/// marked, defaults shown), subcommands, then the command's notes (<see cref="SymbolNotes.Epilog"/>).
/// </summary>
internal static class HelpLayout
{
    private const int Width = 110;

    /// <summary>Makes <c>-h/--help</c> print this layout (exit 0), on every command.</summary>
    public static void Install(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new PrintHelp();
    }

    internal sealed class PrintHelp : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            Write(parseResult.CommandResult.Command, Console.Out);
            return ExitCodes.Ok;
        }
    }

    public static void Write(Command command, TextWriter writer) => writer.Write(Render(command));

    public static string Render(Command command)
    {
        var text = new StringBuilder();
        text.Append("usage: ").AppendLine(UsageLine(command));
        if (!string.IsNullOrWhiteSpace(command.Description))
        {
            text.AppendLine();
            foreach (string line in Wrap(command.Description, Width - 2))
            {
                text.Append("  ").AppendLine(line);
            }
        }

        var arguments = command.Arguments.Where(a => !a.Hidden).Select(a => (Label: $"<{a.Name}>", Text: a.Description ?? "")).ToList();
        Section(text, "Arguments:", arguments);

        var options = CliSymbols.OptionsInScope(command).Where(o => !o.Hidden).Select(o => (Label: OptionLabel(o), Text: OptionText(o))).ToList();
        Section(text, "Options:", options);

        var commands = command.Subcommands.Where(c => !c.Hidden)
            .Select(c => (Label: string.Join(", ", c.Aliases.Prepend(c.Name)), Text: c.Description ?? "")).ToList();
        Section(text, "Commands:", commands);

        if (CliSymbols.Notes(command).Epilog is { } epilog)
        {
            text.AppendLine();
            foreach (string line in epilog.TrimEnd().ReplaceLineEndings("\n").Split('\n'))
            {
                text.AppendLine(line.Length == 0 ? "" : "  " + line);
            }
        }
        return text.ToString();
    }

    /// <summary><c>gateway ctl &lt;command&gt; [options]</c>, <c>gateway run --state &lt;dir&gt; … [options]</c>.</summary>
    public static string UsageLine(Command command)
    {
        var words = new List<string> { CliSymbols.PathOf(command) };
        foreach (var argument in command.Arguments.Where(a => !a.Hidden))
        {
            string label = $"<{argument.Name}>" + (argument.Arity.MaximumNumberOfValues > 1 ? "..." : "");
            words.Add(argument.Arity.MinimumNumberOfValues == 0 ? $"[{label}]" : label);
        }
        foreach (var option in CliSymbols.OptionsInScope(command).Where(o => !o.Hidden && CliSymbols.Notes(o).Required))
        {
            words.Add($"{option.Name} <{option.HelpName ?? option.Name.TrimStart('-')}>");
        }
        if (command.Subcommands.Any(c => !c.Hidden))
        {
            words.Add(command is RootCommand ? "<verb>" : "<command>");
        }
        words.Add("[options]");
        return string.Join(' ', words);
    }

    private static string OptionLabel(Option option)
    {
        var names = new[] { option.Name }.Concat(option.Aliases).Where(n => n != "-?" && !n.StartsWith('/')).Distinct(StringComparer.Ordinal)
            .OrderBy(n => n.StartsWith("--", StringComparison.Ordinal) ? 1 : 0);
        string label = string.Join(", ", names);
        if (CliSymbols.TakesValue(option))
        {
            label += $" <{option.HelpName ?? option.Name.TrimStart('-')}>";
        }
        return label;
    }

    private static string OptionText(Option option)
    {
        if (option is HelpOption)
        {
            return "show help and usage information";
        }
        var notes = CliSymbols.Notes(option);
        string text = option.Description ?? "";
        if (notes.Required)
        {
            return text + " (required)";
        }
        string? defaultText = notes.DefaultText;
        if (defaultText is null && option.HasDefaultValue && option.Arity.MaximumNumberOfValues == 1)
        {
            defaultText = Convert.ToString(option.GetDefaultValue(), CultureInfo.InvariantCulture);
        }
        return defaultText is null ? text : $"{text} [default: {defaultText}]";
    }

    private static void Section(StringBuilder text, string title, List<(string Label, string Text)> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }
        text.AppendLine().AppendLine(title);
        int labelWidth = Math.Min(rows.Max(r => r.Label.Length), 32);
        foreach (var (label, description) in rows)
        {
            var lines = Wrap(description, Width - labelWidth - 6).ToList();
            if (label.Length > labelWidth)
            {
                text.Append("  ").AppendLine(label);
                lines.ForEach(l => text.Append(' ', labelWidth + 4).AppendLine(l));
                continue;
            }
            text.Append("  ").Append(label.PadRight(labelWidth)).Append("  ").AppendLine(lines.FirstOrDefault() ?? "");
            foreach (string line in lines.Skip(1))
            {
                text.Append(' ', labelWidth + 4).AppendLine(line);
            }
        }
    }

    private static IEnumerable<string> Wrap(string text, int width)
    {
        var line = new StringBuilder();
        foreach (string word in text.ReplaceLineEndings(" ").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                yield return line.ToString();
                line.Clear();
            }
            line.Append(line.Length > 0 ? " " : "").Append(word);
        }
        if (line.Length > 0)
        {
            yield return line.ToString();
        }
    }

    internal static IEnumerable<Symbol> Walk(Command command)
    {
        yield return command;
        foreach (var option in command.Options)
        {
            yield return option;
        }
        foreach (var argument in command.Arguments)
        {
            yield return argument;
        }
        foreach (var sub in command.Subcommands)
        {
            foreach (var symbol in Walk(sub))
            {
                yield return symbol;
            }
        }
    }
}
