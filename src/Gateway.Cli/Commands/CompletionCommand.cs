using System.CommandLine;
using Gateway.Cli.Infrastructure;
using Gateway.Cli.Infrastructure.Completion;

namespace Gateway.Cli.Commands;

/// <summary><c>gateway completion bash|zsh|fish</c>: prints a shell completion script generated from the command tree.</summary>
internal static class CompletionCommand
{
    private static readonly string[] s_shells = ["bash", "zsh", "fish"];

    public static Command Create()
    {
        var command = new Command("completion", "print a shell completion script: bash, zsh or fish").WithEpilog("""
            bash:  source <(gateway completion bash)         (or save it in /etc/bash_completion.d/gateway)
            zsh:   source <(gateway completion zsh)          (after compinit; or save it as _gateway in a folder of $fpath)
            fish:  gateway completion fish | source          (or save it in ~/.config/fish/completions/gateway.fish)
            The script completes verbs, commands, options and their values (files, folders, fixed words) without
            running gateway; generate it again after an upgrade.
            """);
        var shell = command.Define(CliSymbols.Positional("shell", "bash, zsh or fish", "shell", "give the shell: gateway completion bash|zsh|fish.", choices: s_shells));
        command.SetRun(p =>
        {
            string name = p.GetValue(shell)!;
            var root = (RootCommand)p.RootCommandResult.Command;
            Console.Out.Write(Generate(root, name));
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static string Generate(RootCommand root, string shell)
    {
        var nodes = CompletionTree.Flatten(root);
        string version = typeof(CompletionCommand).Assembly.GetName().Version?.ToString() ?? "";
        return shell switch
        {
            "bash" => BashCompletion.Generate(nodes, version),
            "zsh" => ZshCompletion.Generate(nodes, version),
            "fish" => FishCompletion.Generate(nodes, version),
            _ => throw new UsageException($"no completion for the shell '{shell}': give {CliSymbols.JoinOr(s_shells)}."),
        };
    }
}
