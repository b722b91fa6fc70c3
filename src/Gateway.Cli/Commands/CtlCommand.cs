using Gateway.Cli.Infrastructure;

namespace Gateway.Cli.Commands;

internal static class CtlCommand
{
    public static int Run(ArgReader args)
    {
        Console.Error.WriteLine("gateway ctl: not built yet (see the open issues).");
        return ExitCodes.Failure;
    }
}
