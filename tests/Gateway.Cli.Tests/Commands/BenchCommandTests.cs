using System.Text.Json;
using Gateway.Cli.Infrastructure;

namespace Gateway.Cli.Commands.Tests;

public sealed class BenchCommandTests
{
    [Fact]
    public void ShortRunWithChurn_WritesTheFiguresAsJson_AndExitsOk()
    {
        string dir = Directory.CreateTempSubdirectory("gateway-bench-").FullName;
        try
        {
            string output = Path.Combine(dir, "bench.json");
            // Through CliHost: it holds the console lock, so the summary the bench prints cannot land in the output
            // another test class is capturing at the same moment.
            var (exit, _, stderr) = CliHost.Run(
                "bench", "--bindings", "2048", "--workers", "2", "--churn", "10000", "--duration", "0.5", "--warmup", "0.2",
                "--ring", "4096", "--frame-size", "imix", "--no-progress", "--output", output);

            Assert.True(exit == ExitCodes.Ok, stderr);
            using var json = JsonDocument.Parse(File.ReadAllText(output));
            var root = json.RootElement;
            Assert.Equal("imix", root.GetProperty("frameSize").GetString());
            Assert.Equal(2, root.GetProperty("workers").GetInt32());
            Assert.True(root.GetProperty("frames").GetInt64() > 0);
            Assert.True(root.GetProperty("mpps").GetDouble() > 0);
            Assert.Equal(0, root.GetProperty("impossibleBindings").GetInt64());
            Assert.Equal(0, root.GetProperty("workerAllocatedBytes").GetInt64());
            Assert.True(root.GetProperty("rebinds").GetInt64() > 0);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp-*"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("--frame-size", "128")]
    [InlineData("--bindings", "0")]
    [InlineData("--bindings", "5000000")]
    [InlineData("--workers", "0")]
    [InlineData("--ring", "1000")]
    [InlineData("--churn", "-1")]
    public void OutOfRangeOption_IsAUsageError(string option, string value)
    {
        var e = Assert.Throws<UsageException>(() => GatewayCommandLine.Execute(["bench", option, value, "--duration", "0.1"]));
        Assert.Contains(option, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownOption_IsAUsageError() =>
        Assert.Throws<UsageException>(() => GatewayCommandLine.Execute(["bench", "--frames", "10"]));
}
