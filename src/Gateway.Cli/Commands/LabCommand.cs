using Gateway.Cli.Infrastructure;

namespace Gateway.Cli.Commands;

internal static class LabCommand
{
    public static int Run(ArgReader args)
    {
        Console.Error.WriteLine("gateway lab: not built yet (see the open issues).");
        return ExitCodes.Failure;
    }
}
