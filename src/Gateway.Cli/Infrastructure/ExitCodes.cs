namespace Gateway.Cli.Infrastructure;

internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>A runtime failure: unreadable or corrupt input, a daemon that refused, ...</summary>
    public const int Failure = 1;
    /// <summary>The command line or a configuration file is wrong; nothing was done.</summary>
    public const int Usage = 2;
}

/// <summary>The command line or a configuration file is wrong: exit 2, nothing written. One mistake per line.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>A runtime failure with a message a user can act on: exit 1.</summary>
internal sealed class FailureException(string message, Exception? inner = null) : Exception(message, inner);

internal static class CommandRunner
{
    /// <summary>
    /// Runs a verb, turning the exceptions of bad input into messages and exit codes instead of stack traces.
    /// <paramref name="prefix"/> starts every line of the message: <c>gateway run: --state is required.</c>
    /// </summary>
    public static int Run(string prefix, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UsageException e)
        {
            Report(prefix, e.Message);
            return ExitCodes.Usage;
        }
        catch (FailureException e)
        {
            Report(prefix, e.Message);
            return ExitCodes.Failure;
        }
        catch (IOException e)
        {
            Report(prefix, e.Message);
            return ExitCodes.Failure;
        }
        catch (UnauthorizedAccessException e)
        {
            Report(prefix, e.Message);
            return ExitCodes.Failure;
        }
    }

    private static void Report(string prefix, string message)
    {
        foreach (string line in message.Split('\n'))
        {
            Console.Error.WriteLine($"{prefix}: {line}");
        }
    }
}
