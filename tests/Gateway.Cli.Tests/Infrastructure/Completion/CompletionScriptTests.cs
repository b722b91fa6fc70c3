using System.CommandLine;
using System.Diagnostics;
using Gateway.Cli.Commands.Tests;

namespace Gateway.Cli.Infrastructure.Completion.Tests;

/// <summary>
/// <c>gateway completion bash|zsh|fish</c>: each script is loaded into the real shell, which is asked to complete
/// command lines the way a user presses TAB (bash: the completion function with COMP_LINE; zsh: an interactive shell on a
/// pseudo-terminal through zsh/zpty with compinit; fish: <c>complete -C</c>).
/// </summary>
public sealed class CompletionScriptTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gateway-completion-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static readonly string[] s_verbs = ["replay", "run", "ctl", "lab", "bench", "completion"];

    private static readonly string[] s_ctlCommands = ["instances", "addresses", "create", "terminate", "bandwidth", "allocate", "associate", "disassociate", "release", "quota"];

    private string Script(string shell)
    {
        var (code, stdout, stderr) = CliHost.Run("completion", shell);
        Assert.True(code == 0, stderr);
        string path = Path.Combine(_folder, "gateway." + shell);
        File.WriteAllText(path, stdout);
        return path;
    }

    [Theory]
    [InlineData("bash")]
    [InlineData("zsh")]
    [InlineData("fish")]
    public void Script_NamesEveryCommandAndOptionOfTheTree(string shell)
    {
        string script = File.ReadAllText(Script(shell));
        foreach (var command in HelpLayout.Walk(GatewayCommandLine.Build()).OfType<Command>().Where(c => !c.Hidden && c is not RootCommand))
        {
            Assert.Contains(command.Name, script, StringComparison.Ordinal);
            foreach (var option in command.Options.Where(o => !o.Hidden))
            {
                Assert.Contains(shell == "fish" ? option.Name.TrimStart('-') : option.Name, script, StringComparison.Ordinal);
            }
        }
    }

    [Theory]
    [InlineData("bash")]
    [InlineData("zsh")]
    [InlineData("fish")]
    public void Script_IsValidSyntaxForItsShell(string shell)
    {
        var (code, output) = Shell(shell, ["-n", Script(shell)]);
        Assert.True(code == 0, output);
    }

    public static TheoryData<string, string, string[], string[]> Cases() => new()
    {
        // shell, command line before TAB, must offer, must not offer
        { "bash", "gateway ", s_verbs, ["--state"] },
        { "bash", "gateway ctl ", s_ctlCommands, ["replay"] },
        { "bash", "gateway ctl --api 127.0.0.1:9700 cr", ["create"], ["quota"] },
        { "bash", "gateway bench --frame-size ", ["64", "imix", "1500"], ["--workers"] },
        { "bash", "gateway bench --frame-size=i", ["imix"], ["64"] },
        { "bash", "gateway run --st", ["--state", "--stats-interval"], ["--subnet"] },
        { "bash", "gateway completion ", ["bash", "zsh", "fish"], [] },
        { "bash", "gateway lab up --name x {folder}/", ["{folder}/topology.json"], [] },
        { "fish", "gateway ", s_verbs, ["--state"] },
        { "fish", "gateway ctl ", s_ctlCommands, ["replay"] },
        { "fish", "gateway ctl --api 127.0.0.1:9700 cr", ["create"], ["quota"] },
        { "fish", "gateway bench --frame-size ", ["64", "imix", "1500"], ["--workers"] },
        { "fish", "gateway run --st", ["--state", "--stats-interval"], ["--subnet"] },
        { "fish", "gateway lab up --name x {folder}/", ["{folder}/topology.json"], [] },
        { "zsh", "gateway ", s_verbs, ["--state"] },
        { "zsh", "gateway ctl ", s_ctlCommands, ["replay"] },
        { "zsh", "gateway bench --frame-size ", ["64", "imix", "1500"], ["--workers"] },
        { "zsh", "gateway ctl --api 127.0.0.1:9700 cr", ["create"], ["quota"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Tab_OffersWhatMayFollow(string shell, string line, string[] offered, string[] notOffered)
    {
        File.WriteAllText(Path.Combine(_folder, "topology.json"), "{}");
        line = line.Replace("{folder}", _folder, StringComparison.Ordinal);
        string script = Script(shell);
        var (code, output) = shell switch
        {
            "bash" => Shell("bash", ["--norc", "--noprofile", "-c", """
                source "$1"
                COMP_LINE=$2 COMP_POINT=${#2}
                _gateway
                printf '%s\n' "${COMPREPLY[@]}"
                """, "bash", script, line]),
            "fish" => Shell("fish", ["--no-config", "-c", "source $argv[1]; complete -C $argv[2]", script, line]),
            _ => Shell("zsh", ["-f", "-c", ZshDriver, "zsh", script, line]),
        };
        Assert.True(code == 0, output);
        // fish prints "word<TAB>description"; zsh prints its listing or the completed line.
        var words = output.Split(['\n', '\t', ' '], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        foreach (string word in offered)
        {
            string expected = word.Replace("{folder}", _folder, StringComparison.Ordinal);
            Assert.True(words.Contains(expected), $"{shell}: '{line}' + TAB should offer '{expected}':\n{output}");
        }
        foreach (string word in notOffered)
        {
            Assert.False(words.Contains(word), $"{shell}: '{line}' + TAB should not offer '{word}':\n{output}");
        }
    }

    /// <summary>
    /// Starts an interactive zsh on a pseudo-terminal (zsh/zpty), loads compinit and the script, types the line, TAB and
    /// Enter (a no-op function named gateway runs), and prints what the terminal showed: the listing, or the line as
    /// completed.
    /// </summary>
    private const string ZshDriver = """
        zmodload zsh/zpty || exit 3
        zpty z 'TERM=dumb zsh -f -i'
        zpty -w z "PS1='<P>'; autoload -U compinit; compinit -u -D; source ${(q)1}; gateway() { :; }; zstyle ':completion:*' list-prompt ''; print -r RE''ADY"
        zpty -r z _ '*READY*' || exit 4
        zpty -r z _ '*<P>' || exit 5
        zpty -w -n z "$2"$'\t\n'
        zpty -r z out '*<P>' || exit 6
        zpty -d z
        print -r -- "${out//$'\r'/}" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'
        """;

    private static (int Code, string Output) Shell(string shell, IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo(shell) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["HOME"] = Path.GetTempPath();
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{shell} is not installed ({e.Message}): scripts/setup.sh installs bash, zsh and fish.", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill(entireProcessTree: true);
                return (-1, "timed out\n" + stdout.Result + stderr.Result);
            }
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }
}
