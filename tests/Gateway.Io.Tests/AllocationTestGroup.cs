namespace Gateway.Io.Tests;

/// <summary>
/// Tests that count the process's allocated bytes: they run alone, after the parallel tests, so no other test's
/// allocations are counted as theirs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationTestGroup
{
    public const string Name = "allocation";
}
