using Gateway.Cli.Infrastructure;

namespace Gateway.Cli.Commands;

internal static class ReplayCommand
{
    public static int Run(ArgReader args)
    {
        Console.Error.WriteLine("gateway replay: not built yet (see the open issues).");
        return ExitCodes.Failure;
    }
}
