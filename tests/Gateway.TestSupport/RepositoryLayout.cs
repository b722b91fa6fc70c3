namespace Gateway.TestSupport;

/// <summary>Where things are in the repository, found from the test binaries' folder (bin/&lt;Configuration&gt;/net10.0/).</summary>
public static class RepositoryLayout
{
    /// <summary>The folder holding Gateway.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The captures/ corpus.</summary>
    public static string Captures => Path.Combine(Root, "captures");

    /// <summary>The build's gateway.dll: Gateway.Cli's output in the same configuration as the running test.</summary>
    public static string GatewayDll
    {
        get
        {
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            string dll = Path.Combine(Root, "src", "Gateway.Cli", "bin", configuration, "net10.0", "gateway.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"{dll} is missing; build Gateway.Cli first (dotnet build -c {configuration}).", dll);
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("cannot find Gateway.sln above " + AppContext.BaseDirectory);
    }
}
