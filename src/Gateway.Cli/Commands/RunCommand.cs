using Gateway.Cli.Infrastructure;

namespace Gateway.Cli.Commands;

internal static class RunCommand
{
    public static int Run(ArgReader args)
    {
        Console.Error.WriteLine("gateway run: not built yet (see the open issues).");
        return ExitCodes.Failure;
    }
}
