using System.CommandLine;
using System.CommandLine.Parsing;

namespace Gateway.Cli.Infrastructure;

/// <summary>
/// Turns a parse into the usage errors <c>gateway</c> prints (exit 2), in the order the user typed the words:
/// "unknown option --colour.", "--state needs a value.", "--state is given more than once.", "--state is required.",
/// "unknown command 'bogus'. …", and the range messages of <see cref="CliSymbols"/>'s parsers.
/// </summary>
/// <remarks>
/// System.CommandLine's own wording ("Unrecognized command or argument …", "Option '--x' is required.") is replaced
/// because scripts and the README quote ours. Unmatched tokens are therefore not errors to System.CommandLine
/// (<see cref="Command.TreatUnmatchedTokensAsErrors"/> is off on every command) and required options are not marked
/// <see cref="Option.Required"/>: both are checked here.
/// </remarks>
internal static class UsageErrors
{
    /// <summary>A word that can only have been meant as an option: <c>--x…</c> or <c>-x</c> (but not <c>-</c> or <c>-1</c>).</summary>
    public static bool LooksLikeOption(string word) =>
        (word.Length > 2 && word.StartsWith("--", StringComparison.Ordinal)) || (word.Length == 2 && word[0] == '-' && char.IsAsciiLetter(word[1]));

    public static List<string> Collect(ParseResult parse)
    {
        var errors = new List<string>();
        var command = parse.CommandResult.Command;
        var tokens = parse.Tokens;
        var swallowed = new List<string>();

        // 1. Words that look like options but are not one of this command's: unknown, or an option's missing value.
        for (int i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Type == TokenType.DoubleDash)
            {
                break;
            }
            if (token.Type != TokenType.Argument || !LooksLikeOption(token.Value))
            {
                continue;
            }
            var previous = i > 0 ? tokens[i - 1] : null;
            var takingValue = previous is { Type: TokenType.Option } ? FindOption(command, previous.Value) : null;
            if (takingValue is not null && CliSymbols.TakesValue(takingValue))
            {
                Add(errors, $"{previous!.Value} needs a value.");
                if (FindOption(command, token.Value) is not null)
                {
                    continue;
                }
            }
            Add(errors, $"unknown option {token.Value}.");
            // "--colour red": red was meant as the unknown option's value, not as a word of its own.
            if (i + 1 < tokens.Count && tokens[i + 1].Type == TokenType.Argument && !LooksLikeOption(tokens[i + 1].Value))
            {
                swallowed.Add(tokens[i + 1].Value);
            }
        }

        // 2. Errors System.CommandLine found (our parsers' range messages, arity), worded our way.
        foreach (var error in parse.Errors)
        {
            var optionResult = error.SymbolResult as OptionResult ?? (error.SymbolResult as ArgumentResult)?.Parent as OptionResult;
            if (optionResult is not null)
            {
                var option = optionResult.Option;
                string name = optionResult.IdentifierToken?.Value ?? option.Name;
                if (optionResult.IdentifierTokenCount > 1 && option.Arity.MaximumNumberOfValues == 1)
                {
                    Add(errors, $"{name} is given more than once.");
                }
                else if (optionResult.Tokens.Count == 0 && CliSymbols.TakesValue(option))
                {
                    Add(errors, $"{name} needs a value.");
                }
                else if (!errors.Contains($"{name} needs a value.", StringComparer.Ordinal))
                {
                    Add(errors, error.Message);
                }
                continue;
            }
            if (error.SymbolResult is ArgumentResult argumentResult && argumentResult.Tokens.Count < argumentResult.Argument.Arity.MinimumNumberOfValues)
            {
                Add(errors, MissingArgument(argumentResult.Argument));
                continue;
            }
            Add(errors, error.Message);
        }

        // 3. Words left over: an unknown command, or one positional too many.
        var leftover = parse.UnmatchedTokens.Where(t => !LooksLikeOption(t)).ToList();
        foreach (string word in swallowed)
        {
            leftover.Remove(word);
        }
        if (leftover.Count > 0)
        {
            Add(errors, Leftover(parse, command, leftover));
        }

        // 4. Required options and arguments, in the order the command declares them.
        foreach (var option in CliSymbols.OptionsInScope(command))
        {
            var notes = CliSymbols.Notes(option);
            if (notes.Required && parse.GetResult(option) is not OptionResult { Implicit: false })
            {
                Add(errors, notes.Example is null ? $"{option.Name} is required." : $"{option.Name} is required (e.g. {option.Name} {notes.Example}).");
            }
        }
        foreach (var argument in command.Arguments)
        {
            if (argument.Arity.MinimumNumberOfValues > 0 && parse.GetResult(argument) is not ArgumentResult { Tokens.Count: > 0 })
            {
                Add(errors, MissingArgument(argument));
            }
        }
        return errors;
    }

    private static string Leftover(ParseResult parse, Command command, List<string> leftover)
    {
        string path = CliSymbols.PathOf(command);
        if (command.Subcommands.Count > 0 && command.Arguments.Count == 0)
        {
            string what = command is RootCommand ? "verb" : "command";
            return $"unknown {what} '{leftover[0]}'. Run '{path} --help' for the list.";
        }
        var last = command.Arguments.LastOrDefault();
        if (last is not null && CliSymbols.Notes(last).Noun is { } noun && last.Arity.MaximumNumberOfValues == 1)
        {
            var given = (parse.GetResult(last)?.Tokens.Select(t => t.Value) ?? []).Concat(leftover).ToList();
            return $"one {noun} expected, got {given.Count}: {string.Join(' ', given)}.";
        }
        return $"unexpected argument '{leftover[0]}'. Run '{path} --help' for the usage.";
    }

    private static string MissingArgument(Argument argument)
    {
        var notes = CliSymbols.Notes(argument);
        return notes.Missing ?? (notes.Noun is { } noun ? $"give {(argument.Arity.MinimumNumberOfValues > 1 ? argument.Arity.MinimumNumberOfValues.ToString(System.Globalization.CultureInfo.InvariantCulture) : "the")} {noun}." : $"<{argument.Name}> is missing.");
    }

    private static Option? FindOption(Command command, string alias) =>
        CliSymbols.OptionsInScope(command).FirstOrDefault(o => o.Name == alias || o.Aliases.Contains(alias));

    private static void Add(List<string> errors, string message)
    {
        if (!errors.Contains(message, StringComparer.Ordinal))
        {
            errors.Add(message);
        }
    }
}
