using System.CommandLine;
using Gateway.Cli.Commands.Tests;

namespace Gateway.Cli.Infrastructure.Tests;

/// <summary>The command line as a whole: help alike on every command, usage errors worded and exiting alike.</summary>
public sealed class CommandLineTests
{
    public static TheoryData<string> EveryCommand()
    {
        var data = new TheoryData<string>();
        foreach (var command in HelpLayout.Walk(GatewayCommandLine.Build()).OfType<Command>().Where(c => !c.Hidden))
        {
            data.Add(CliSymbols.PathOf(command));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryCommand))]
    public void Help_OfEveryCommand_ExitsZeroWithTheUsageLineEveryOptionAndEveryCommand(string path)
    {
        var command = Find(path);
        var (code, stdout, stderr) = CliHost.Run([.. path.Split(' ').Skip(1), "--help"]);

        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.StartsWith($"usage: {path} ", stdout, StringComparison.Ordinal);
        foreach (var option in CliSymbols.OptionsInScope(command).Where(o => !o.Hidden))
        {
            Assert.Contains(option.Name, stdout, StringComparison.Ordinal);
        }
        foreach (var sub in command.Subcommands.Where(c => !c.Hidden))
        {
            Assert.Matches($@"(?m)^  {sub.Name}\b", stdout);
        }
        // -h and --help anywhere after the command say the same.
        Assert.Equal(stdout, CliHost.Run([.. path.Split(' ').Skip(1), "-h"]).Stdout);
    }

    [Fact]
    public void HelpVerb_PrintsTheVerbsHelp() =>
        Assert.Equal(CliHost.Run("ctl", "create", "--help").Stdout, CliHost.Run("help", "ctl", "create").Stdout);

    [Fact]
    public void NoVerb_PrintsTheVerbsOnStandardErrorAndExitsTwo()
    {
        var (code, stdout, stderr) = CliHost.Run();

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        foreach (string verb in new[] { "replay", "run", "ctl", "lab", "bench", "completion" })
        {
            Assert.Matches($@"(?m)^  {verb}\s", stderr);
        }
    }

    [Fact]
    public void Version_PrintsTheAssemblyVersion()
    {
        var (code, stdout, _) = CliHost.Run("--version");

        Assert.Equal(0, code);
        Assert.Matches(@"^gateway \d+\.\d+\.\d+\.\d+\s*$", stdout);
        Assert.Equal(stdout, CliHost.Run("version").Stdout);
    }

    [Theory]
    [InlineData(new[] { "bogus" }, "gateway: unknown verb 'bogus'. Run 'gateway --help' for the list.")]
    [InlineData(new[] { "bench", "--workers", "2", "--workers", "3" }, "gateway bench: --workers is given more than once.")]
    [InlineData(new[] { "bench", "--workers" }, "gateway bench: --workers needs a value.")]
    [InlineData(new[] { "bench", "--output", "--json" }, "gateway bench: --output needs a value.")]
    [InlineData(new[] { "bench", "--workers", "many" }, "gateway bench: --workers must be a whole number from 1 to 256, not 'many'.")]
    [InlineData(new[] { "bench", "--duration", "NaN" }, "gateway bench: --duration must be a number from 0.05 to 86400, not 'NaN'.")]
    [InlineData(new[] { "bench", "extra" }, "gateway bench: unexpected argument 'extra'. Run 'gateway bench --help' for the usage.")]
    [InlineData(new[] { "ctl", "create", "--colour", "red" }, "gateway ctl: unknown option --colour.")]
    [InlineData(new[] { "ctl", "bogus" }, "gateway ctl: unknown command 'bogus'. Run 'gateway ctl --help' for the list.")]
    [InlineData(new[] { "ctl", "associate", "eip-12345678" }, "gateway ctl: associate takes exactly <eip-id> <ins-id>.")]
    [InlineData(new[] { "ctl", "release" }, "gateway ctl: give at least 1 EIP id (eip-...).")]
    [InlineData(new[] { "lab" }, "gateway lab: give 'up' or 'down'.")]
    [InlineData(new[] { "lab", "up" }, "gateway lab: lab up needs a topology file")]
    [InlineData(new[] { "lab", "sideways" }, "gateway lab: unknown command 'sideways'.")]
    [InlineData(new[] { "run", "--state", "s", "--subnet", "10.0.0.0/24" }, "gateway run: --public-pool is required (e.g. --public-pool 198.51.100.0/24).")]
    [InlineData(new[] { "completion", "tcsh" }, "gateway completion: no completion for the shell 'tcsh': give bash, zsh or fish.")]
    public void MistakesOnTheCommandLine_ExitTwoWithOneLinePerMistake(string[] args, string expected)
    {
        var (code, stdout, stderr) = CliHost.Run(args);

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void AWordStartingWithAt_IsAFileName_NotAResponseFile()
    {
        var (code, _, stderr) = CliHost.Run("replay", "@args.rsp", "-o", "x.pcap", "--bindings", "b.json");

        Assert.Equal(1, code);
        Assert.Contains("gateway replay: cannot read @args.rsp: no such file.", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void OptionsAndPositionals_MixInAnyOrder_AndDoubleDashEndsOptions()
    {
        var tree = GatewayCommandLine.Parse(["ctl", "terminate", "ins-00000001", "--api", "127.0.0.1:1", "--release-eip", "--", "--odd-id"]);
        var command = tree.CommandResult.Command;

        Assert.Empty(UsageErrors.Collect(tree));
        Assert.Equal("terminate", command.Name);
        Assert.Equal(["ins-00000001", "--odd-id"], tree.GetValue((Argument<string[]>)command.Arguments[0])!);
        Assert.Equal("127.0.0.1:1", tree.GetValue<string?>("--api"));
    }

    private static Command Find(string path)
    {
        Command command = GatewayCommandLine.Build();
        foreach (string word in path.Split(' ').Skip(1))
        {
            command = command.Subcommands.Single(c => c.Name == word);
        }
        return command;
    }
}
