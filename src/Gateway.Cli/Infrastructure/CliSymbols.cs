using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Gateway.Cli.Infrastructure;

/// <summary>What a value on the command line is, so completion scripts can offer files, folders or a fixed list.</summary>
internal enum ValueKind
{
    /// <summary>Free text (an address, a name, a number): nothing to offer.</summary>
    Text,
    File,
    Directory,
    /// <summary>One of <see cref="SymbolNotes.Choices"/>.</summary>
    Choice,
}

/// <summary>
/// What <c>gateway</c> keeps about an option, argument or command beyond what System.CommandLine holds: whether it is
/// required (checked by <see cref="UsageErrors"/>, so the message is ours: "--state is required."), an example for that
/// message, what kind of value completion should offer, and a command's closing notes in its help.
/// </summary>
internal sealed class SymbolNotes
{
    public bool Required { get; set; }

    /// <summary>An example value, quoted in the "is required" message: "--public-pool is required (e.g. --public-pool 198.51.100.0/24)."</summary>
    public string? Example { get; set; }

    public ValueKind Kind { get; set; }

    /// <summary>The default as help shows it, when the value's own text would not say it (an enum).</summary>
    public string? DefaultText { get; set; }

    public IReadOnlyList<string> Choices { get; set; } = [];

    /// <summary>For an argument: what it is, in words ("input capture"), for "one input capture expected, got 2: …".</summary>
    public string? Noun { get; set; }

    /// <summary>For an argument: the message when it is missing.</summary>
    public string? Missing { get; set; }

    /// <summary>For a command: text printed after the options in its help (formats, exit codes, credentials).</summary>
    public string? Epilog { get; set; }
}

/// <summary>
/// The options and arguments of every verb, made alike: each factory sets the help text, the default shown in help,
/// the value's kind for completion, and a parser whose error names the option and the accepted range — the messages
/// <c>gateway</c> has always printed. Adding an option to a verb is one <see cref="Define{TOption}"/> line in the verb's
/// <c>Create</c> method, plus reading its value where the verb uses it; help, completion scripts, unknown-option and
/// repeated-option errors all follow from the definition.
/// </summary>
internal static class CliSymbols
{
    private static readonly ConditionalWeakTable<Symbol, SymbolNotes> s_notes = new();

    public static SymbolNotes Notes(Symbol symbol) => s_notes.GetValue(symbol, _ => new SymbolNotes());

    /// <summary>Adds <paramref name="option"/> to <paramref name="command"/> and returns it, so a definition is one line.</summary>
    public static TOption Define<TOption>(this Command command, TOption option) where TOption : Option
    {
        command.Add(option);
        return option;
    }

    /// <summary>Adds <paramref name="argument"/> to <paramref name="command"/> and returns it.</summary>
    public static Argument<T> Define<T>(this Command command, Argument<T> argument)
    {
        command.Add(argument);
        return argument;
    }

    /// <summary>Text printed after the options in the command's help.</summary>
    public static TCommand WithEpilog<TCommand>(this TCommand command, string epilog) where TCommand : Command
    {
        Notes(command).Epilog = epilog;
        return command;
    }

    /// <summary>
    /// Runs <paramref name="body"/> as the command's action. Exceptions (usage, failure, I/O) are turned into messages and
    /// exit codes by <see cref="CommandRunner"/> around the whole invocation.
    /// </summary>
    public static void SetRun(this Command command, Func<ParseResult, int> body) => command.SetAction(body);

    // ---------------------------------------------------------------- options

    /// <summary>A single value, kept as text; the verb parses it (addresses, CIDRs) with its own messages.</summary>
    public static Option<string?> Text(string name, string valueName, string description, bool required = false, string? example = null,
        ValueKind kind = ValueKind.Text, params string[] aliases)
    {
        var option = new Option<string?>(name, aliases) { Description = description, HelpName = valueName, Arity = ArgumentArity.ExactlyOne };
        var notes = Notes(option);
        notes.Required = required;
        notes.Example = example;
        notes.Kind = kind;
        return option;
    }

    /// <summary>A repeatable option (<c>--public-pool A --public-pool B</c>), one value each time.</summary>
    public static Option<string[]> Many(string name, string valueName, string description, bool required = false, string? example = null,
        ValueKind kind = ValueKind.Text)
    {
        var option = new Option<string[]>(name) { Description = description, HelpName = valueName, Arity = ArgumentArity.OneOrMore, DefaultValueFactory = _ => [] };
        var notes = Notes(option);
        notes.Required = required;
        notes.Example = example;
        notes.Kind = kind;
        return option;
    }

    /// <summary>A flag: present or not, never a value (<c>--json foo</c> leaves <c>foo</c> as a positional).</summary>
    public static Option<bool> Flag(string name, string description) =>
        new(name) { Description = description, Arity = ArgumentArity.Zero };

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>]; out of range names the option and the range.</summary>
    public static Option<int> Int(string name, string valueName, string description, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        var option = new Option<int>(name)
        {
            Description = description,
            HelpName = valueName,
            Arity = ArgumentArity.ExactlyOne,
            DefaultValueFactory = _ => defaultValue,
        };
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            {
                result.AddError($"{name} must be a whole number from {min} to {max}, not '{text}'.");
                return defaultValue;
            }
            return value;
        };
        return option;
    }

    /// <summary>A whole number that has no default: null when the option is absent.</summary>
    public static Option<int?> OptionalInt(string name, string valueName, string description, int min = int.MinValue, int max = int.MaxValue)
    {
        var option = new Option<int?>(name) { Description = description, HelpName = valueName, Arity = ArgumentArity.ExactlyOne };
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            {
                result.AddError($"{name} must be a whole number from {min} to {max}, not '{text}'.");
                return null;
            }
            return value;
        };
        return option;
    }

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<double> Double(string name, string valueName, string description, double defaultValue, double min = double.MinValue, double max = double.MaxValue)
    {
        var option = new Option<double>(name)
        {
            Description = description,
            HelpName = valueName,
            Arity = ArgumentArity.ExactlyOne,
            DefaultValueFactory = _ => defaultValue,
        };
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value < min || value > max)
            {
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} must be a number from {min} to {max}, not '{text}'."));
                return defaultValue;
            }
            return value;
        };
        return option;
    }

    /// <summary>One of a fixed set of words (<paramref name="choices"/>: the words shown and completed, then accepted synonyms).</summary>
    public static Option<T> Choice<T>(string name, string description, string defaultWord, IReadOnlyList<(string Word, T Value)> choices,
        int shownChoices = int.MaxValue)
    {
        T defaultValue = choices.First(c => c.Word == defaultWord).Value;
        var shown = choices.Take(shownChoices).Select(c => c.Word).ToList();
        var option = new Option<T>(name)
        {
            Description = description,
            HelpName = string.Join('|', shown),
            Arity = ArgumentArity.ExactlyOne,
            DefaultValueFactory = _ => defaultValue,
        };
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            foreach (var (word, value) in choices)
            {
                if (word == text)
                {
                    return value;
                }
            }
            result.AddError($"{name} must be {JoinOr(shown)}, not '{text}'.");
            return defaultValue;
        };
        var notes = Notes(option);
        notes.Kind = ValueKind.Choice;
        notes.Choices = shown;
        notes.DefaultText = defaultWord;
        return option;
    }

    // ---------------------------------------------------------------- arguments

    /// <summary>Positional arguments: <paramref name="arity"/> says how many; <paramref name="noun"/> and <paramref name="missing"/> word the errors.</summary>
    public static Argument<string[]> Positionals(string name, string description, ArgumentArity arity, string noun, string? missing = null, ValueKind kind = ValueKind.Text,
        IReadOnlyList<string>? choices = null)
    {
        var argument = new Argument<string[]>(name) { Description = description, Arity = arity, DefaultValueFactory = _ => [] };
        var notes = Notes(argument);
        notes.Noun = noun;
        notes.Missing = missing;
        notes.Kind = choices is null ? kind : ValueKind.Choice;
        notes.Choices = choices ?? [];
        return argument;
    }

    /// <summary>One positional argument.</summary>
    public static Argument<string?> Positional(string name, string description, string noun, string? missing = null, bool optional = false,
        ValueKind kind = ValueKind.Text, IReadOnlyList<string>? choices = null)
    {
        var argument = new Argument<string?>(name) { Description = description, Arity = optional ? ArgumentArity.ZeroOrOne : ArgumentArity.ExactlyOne };
        var notes = Notes(argument);
        notes.Noun = noun;
        notes.Missing = missing;
        notes.Kind = choices is null ? kind : ValueKind.Choice;
        notes.Choices = choices ?? [];
        return argument;
    }

    internal static string JoinOr(IReadOnlyList<string> words) =>
        words.Count <= 1 ? string.Concat(words) : string.Join(", ", words.Take(words.Count - 1)) + " or " + words[^1];

    /// <summary>The words that spell this command from the root: <c>gateway ctl create</c>.</summary>
    public static string PathOf(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = c.Parents.OfType<Command>().FirstOrDefault())
        {
            names.Add(c is RootCommand ? "gateway" : c.Name);
        }
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>The options a command accepts: its own and the recursive ones of its ancestors.</summary>
    public static IEnumerable<Option> OptionsInScope(Command command)
    {
        foreach (var option in command.Options)
        {
            yield return option;
        }
        for (var parent = command.Parents.OfType<Command>().FirstOrDefault(); parent is not null; parent = parent.Parents.OfType<Command>().FirstOrDefault())
        {
            foreach (var option in parent.Options.Where(o => o.Recursive))
            {
                yield return option;
            }
        }
    }

    internal static bool TakesValue(Option option) => option.Arity.MaximumNumberOfValues > 0;

    internal static CommandResult? ParentCommandResult(SymbolResult? result)
    {
        for (var r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                return c;
            }
        }
        return null;
    }
}
