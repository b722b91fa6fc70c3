using Gateway.Cli.Infrastructure;

namespace Gateway.Cli;

/// <summary>The one executable users run: <c>gateway &lt;verb&gt; ...</c> (the verbs: <see cref="GatewayCommandLine"/>).</summary>
internal static class Program
{
    public static int Main(string[] args) => GatewayCommandLine.Run(args);
}
