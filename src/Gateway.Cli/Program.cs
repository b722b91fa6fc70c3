using Gateway.Cli.Commands;
using Gateway.Cli.Infrastructure;

namespace Gateway.Cli;

/// <summary>The one executable users run: <c>gateway &lt;verb&gt; ...</c>.</summary>
internal static class Program
{
    private static readonly Dictionary<string, (string Summary, Func<ArgReader, int> Run)> s_verbs = new(StringComparer.Ordinal)
    {
        ["replay"] = ("translate a pcap/pcapng capture through a set of bindings", ReplayCommand.Run),
        ["run"] = ("run the gateway daemon: control-plane API and data plane", RunCommand.Run),
        ["ctl"] = ("talk to a running daemon: instances and EIPs", CtlCommand.Run),
        ["lab"] = ("bring a namespace lab up or down", LabCommand.Run),
        ["bench"] = ("measure data-plane throughput", BenchCommand.Run),
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintUsage(args.Length == 0 ? Console.Error : Console.Out);
            return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Ok;
        }
        if (args[0] is "--version" or "version")
        {
            Console.WriteLine($"gateway {typeof(Program).Assembly.GetName().Version}");
            return ExitCodes.Ok;
        }
        if (!s_verbs.TryGetValue(args[0], out var verb))
        {
            Console.Error.WriteLine($"gateway: unknown verb '{args[0]}'. Run 'gateway --help' for the list.");
            return ExitCodes.Usage;
        }
        return CommandRunner.Run(args[0], () => verb.Run(new ArgReader(args.AsSpan(1).ToArray())));
    }

    private static void PrintUsage(TextWriter writer)
    {
        writer.WriteLine("usage: gateway <verb> [options]   (gateway <verb> --help for a verb's options)");
        writer.WriteLine();
        foreach (var (name, verb) in s_verbs)
        {
            writer.WriteLine($"  {name,-8} {verb.Summary}");
        }
    }
}
