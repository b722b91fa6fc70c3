using Gateway.Cli.Infrastructure;

namespace Gateway.Cli.Commands;

internal static class BenchCommand
{
    public static int Run(ArgReader args)
    {
        Console.Error.WriteLine("gateway bench: not built yet (see the open issues).");
        return ExitCodes.Failure;
    }
}
