namespace Gateway.DataPlane.Memory.Tests;

/// <summary>
/// Large data-plane blocks ask for 2 MiB pages and fall back quietly; what the kernel gave is read back from
/// /proc/self/smaps (the kernel is the oracle). One class: the policy is process-wide.
/// </summary>
public sealed unsafe class LargePageMemoryTests
{
    private const long Large = 8L << 20;

    [Fact]
    public void SmallBlocks_UseOrdinaryPages_AlignedToACacheLine_AndZeroed()
    {
        using var block = LargePageMemory.Allocate(4096);
        Assert.Equal(PageKind.Small, block.Kind);
        Assert.Equal(0, (long)block.Start % 64);
        Assert.True(new ReadOnlySpan<byte>(block.Start, 4096).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0, block.HugeBytesResident());
        Assert.Contains("4 KiB", block.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void LargeBlocks_GetHugePagesWhereTheKernelAllows_OrFallBackQuietly_AndPolicyOffMeansSmallPages()
    {
        HugePagePolicy saved = LargePageMemory.Policy;
        try
        {
            LargePageMemory.Policy = HugePagePolicy.Transparent;
            using (var block = LargePageMemory.Allocate(Large))
            {
                Assert.Equal(0, (long)block.Start % (2L << 20));
                var bytes = new Span<byte>(block.Start, (int)Large);
                Assert.True(bytes.IndexOfAnyExcept((byte)0) < 0);
                bytes.Fill(0xA5); // touch every page: the kernel backs them now
                string thp = File.Exists("/sys/kernel/mm/transparent_hugepage/enabled")
                    ? File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled") : "[never]";
                if (thp.Contains("[never]", StringComparison.Ordinal))
                {
                    Assert.Equal(PageKind.Small, block.Kind);
                }
                else
                {
                    Assert.Equal(PageKind.TransparentHuge, block.Kind);
                    long huge = block.HugeBytesResident();
                    Assert.InRange(huge, 0, Large); // how much the kernel could back depends on its free memory: stated, not assumed
                    Assert.Contains("2 MiB pages", block.Describe(), StringComparison.Ordinal);
                }
            }

            LargePageMemory.Policy = HugePagePolicy.Off;
            using (var block = LargePageMemory.Allocate(Large))
            {
                Assert.Equal(PageKind.Small, block.Kind);
                Assert.Equal(0, block.HugeBytesResident());
                Assert.Contains("huge pages off", block.Describe(), StringComparison.Ordinal);
                new Span<byte>(block.Start, (int)Large).Fill(1);
            }

            // Auto with no hugetlbfs pages reserved (the usual case) is the transparent path, silently.
            LargePageMemory.Policy = HugePagePolicy.Auto;
            using (var block = LargePageMemory.Allocate(Large))
            {
                Assert.NotEqual(default, (nint)block.Start);
            }
        }
        finally
        {
            LargePageMemory.Policy = saved;
        }
    }

    [Fact]
    public void Dispose_FreesOnce_AndTheFinalizerThenDoesNothing()
    {
        var block = LargePageMemory.Allocate(Large);
        block.Dispose();
        block.Dispose();
        Assert.True(block.Start == null);
    }
}
