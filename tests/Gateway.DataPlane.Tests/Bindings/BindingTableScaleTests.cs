using Xunit.Abstractions;

namespace Gateway.DataPlane.Bindings.Tests;

public class BindingTableScaleTests(ITestOutputHelper output)
{
    private const int FourMillion = 4 * 1024 * 1024;

    [Fact]
    public void GrowsFromTheDefaultSizeToFourMillionBindings_AllFoundBothWays_AndReportsBytesPerBinding()
    {
        var table = new BindingTable();
        long initialBytes = table.MemoryBytes;
        var ids = new int[FourMillion];
        // Publics from 100.64.0.0 upward and privates from 10.0.0.1 upward: contiguous ranges, the worst case for a weak hash.
        for (uint i = 0; i < FourMillion; i++)
        {
            ids[i] = table.Bind(0x64400000 + i, 0x0A000001 + i);
        }

        Assert.Equal(FourMillion, table.Count);
        for (uint i = 0; i < FourMillion; i++)
        {
            if (!table.TryGetPrivate(0x64400000 + i, out uint privateAddress, out int inboundId) || privateAddress != 0x0A000001 + i || inboundId != ids[i])
            {
                Assert.Fail($"public #{i} lost or wrong after growth: found={privateAddress:X8} id={inboundId} expected id={ids[i]}");
            }
            if (!table.TryGetPublic(0x0A000001 + i, out uint publicAddress, out int outboundId) || publicAddress != 0x64400000 + i || outboundId != ids[i])
            {
                Assert.Fail($"private #{i} lost or wrong after growth");
            }
        }
        Assert.Equal(FourMillion, ids.Distinct().Count());
        Assert.False(table.TryGetPrivate(0x64400000 + FourMillion, out _, out _));

        long bytes = table.MemoryBytes;
        output.WriteLine($"{table.Count:N0} bindings: {bytes:N0} bytes held ({(double)bytes / table.Count:F1} bytes per binding; empty table {initialBytes:N0} bytes)");
        // Generous bound, only to catch a runaway layout: two 12-byte slots per direction at ≤ 3/4 load plus the id map.
        Assert.InRange((double)bytes / table.Count, 16, 128);
    }

    [Fact]
    public void PresizedForFourMillion_NeedsNoRebuild_AndHoldsThemAll()
    {
        var table = new BindingTable(FourMillion);
        long bytesBefore = table.MemoryBytes;
        for (uint i = 0; i < FourMillion; i++)
        {
            table.Bind(0xC0000000 + (i * 7), 0x0A000001 + i);
        }
        Assert.Equal(FourMillion, table.Count);
        Assert.Equal(bytesBefore, table.MemoryBytes);
        output.WriteLine($"presized: {table.MemoryBytes:N0} bytes for {table.Count:N0} bindings ({(double)table.MemoryBytes / table.Count:F1} bytes per binding)");
    }
}
