using System.CommandLine;
using System.CommandLine.Help;
using Gateway.Cli.Commands;

namespace Gateway.Cli.Infrastructure;

/// <summary>
/// The <c>gateway</c> command tree on System.CommandLine: every verb registers itself here with its <c>Create</c>
/// method; parsing, usage errors (exit 2), help and invocation are the same for all of them.
/// </summary>
internal static class GatewayCommandLine
{
    /// <summary>The verbs, in the order help lists them.</summary>
    private static readonly Func<Command>[] s_verbs =
    [
        ReplayCommand.Create,
        RunCommand.Create,
        CtlCommand.Create,
        LabCommand.Create,
        BenchCommand.Create,
        CompletionCommand.Create,
    ];

    private static readonly ParserConfiguration s_parser = new()
    {
        // "@file" is a file name here (a capture, a topology), never a response file to expand.
        ResponseFileTokenReplacer = null,
    };

    public static RootCommand Build()
    {
        var root = new RootCommand("A TGW-style gateway NAT emulator: replay captures, run the gateway, drive it, build labs, measure it.");
        // Our own --version ("gateway 1.0.0.0"); System.CommandLine's would print the informational version.
        foreach (var option in root.Options.Where(o => o is VersionOption).ToList())
        {
            root.Options.Remove(option);
        }
        // Completion is by the scripts of 'gateway completion', which need no directive; "[x]" is always a plain word.
        root.Directives.Clear();
        var version = root.Define(CliSymbols.Flag("--version", "print the version and exit"));
        foreach (var create in s_verbs)
        {
            root.Add(create());
        }
        var help = new Command("help", "show the help of gateway or of a verb: gateway help <verb>") { Hidden = true };
        var helpVerb = help.Define(CliSymbols.Positionals("verb", "the verb", ArgumentArity.ZeroOrMore, "verb"));
        help.SetRun(p =>
        {
            Command target = root;
            foreach (string word in p.GetValue(helpVerb) ?? [])
            {
                target = target.Subcommands.FirstOrDefault(c => c.Name == word || c.Aliases.Contains(word))
                    ?? throw new UsageException($"no verb or command '{word}' in '{CliSymbols.PathOf(target)}'. Run 'gateway --help' for the list.");
            }
            HelpLayout.Write(target, Console.Out);
            return ExitCodes.Ok;
        });
        root.Add(help);
        var versionCommand = new Command("version", "print the version") { Hidden = true };
        versionCommand.SetRun(_ => PrintVersion());
        root.Add(versionCommand);

        root.SetRun(p =>
        {
            if (p.GetValue(version))
            {
                return PrintVersion();
            }
            HelpLayout.Write(root, Console.Error);
            return ExitCodes.Usage;
        });

        foreach (var symbol in HelpLayout.Walk(root))
        {
            if (symbol is Command command)
            {
                command.TreatUnmatchedTokensAsErrors = false;
            }
        }
        HelpLayout.Install(root);
        return root;
    }

    private static int PrintVersion()
    {
        Console.WriteLine($"gateway {typeof(GatewayCommandLine).Assembly.GetName().Version}");
        return ExitCodes.Ok;
    }

    /// <summary>Parses <paramref name="args"/> with the whole tree.</summary>
    public static ParseResult Parse(IReadOnlyList<string> args) => Build().Parse(args, s_parser);

    /// <summary>
    /// The <c>gateway</c> words of the command that was parsed (<c>gateway ctl</c>), as the prefix of its messages:
    /// a verb's subcommands report as the verb, as they always have.
    /// </summary>
    public static string MessagePrefix(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        while (command.Parents.OfType<Command>().FirstOrDefault() is { } parent and not RootCommand)
        {
            command = parent;
        }
        return command is RootCommand ? "gateway" : "gateway " + command.Name;
    }

    /// <summary>
    /// Runs the command line: help when asked (exit 0), a <see cref="UsageException"/> for every mistake on it, else the
    /// verb's own exit code. Exceptions are left to the caller (<see cref="Run(IReadOnlyList{string})"/> turns them into messages and exit codes).
    /// </summary>
    public static int Execute(IReadOnlyList<string> args) => Execute(Parse(args));

    private static int Execute(ParseResult parse)
    {
        if (parse.Action is HelpLayout.PrintHelp)
        {
            return parse.Invoke(Configuration());
        }
        var errors = UsageErrors.Collect(parse);
        if (errors.Count > 0)
        {
            throw new UsageException(string.Join('\n', errors));
        }
        return parse.Invoke(Configuration());
    }

    private static InvocationConfiguration Configuration() => new()
    {
        Output = Console.Out,
        Error = Console.Error,
        // Exceptions reach CommandRunner, which knows which ones are the user's mistakes; signals are the verbs' own.
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = null,
    };

    /// <summary>The process entry: parse, run, and turn every expected exception into a message and an exit code.</summary>
    public static int Run(IReadOnlyList<string> args)
    {
        ParseResult parse = Parse(args);
        return CommandRunner.Run(MessagePrefix(parse), () => Execute(parse));
    }
}
