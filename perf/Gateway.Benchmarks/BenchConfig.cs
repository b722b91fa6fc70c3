using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace Gateway.Benchmarks;

/// <summary>
/// The one configuration every figure in perf/README.md was taken with, stated here rather than left to defaults:
/// workstation non-concurrent GC (as the gateway runs), tiered compilation with dynamic PGO on (the .NET 10 default,
/// pinned), one launch, 3 warm-up and 6 measured iterations. That is a short job: the machines these run on have
/// 2 cores shared with other work, so the error columns are wider than a full BenchmarkDotNet run would give;
/// they are printed so a reader can judge.
/// </summary>
internal sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        Add(DefaultConfig.Instance);
        AddJob(Job.Default
            .WithId("short-fixed")
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(6)
            .WithGcServer(false)
            .WithGcConcurrent(false)
            .WithEnvironmentVariables(
                new EnvironmentVariable("DOTNET_TieredPGO", "1"),
                new EnvironmentVariable("DOTNET_TieredCompilation", "1"))
            .AsDefault());
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(StatisticColumn.OperationsPerSecond);
        HideColumns(Column.Job, Column.EnvironmentVariables);
    }
}
