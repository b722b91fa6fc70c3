using System.Globalization;

namespace Gateway.EndToEnd.Tests.Forwarding;

[Trait("Category", "RootNamespaces")]
public sealed class LeftoverSweepTests
{
    [Fact]
    public void ANamespaceLeftByAKilledRunIsRemovedAndALiveRunsIsKept()
    {
        // No process can have an id above pid_max: this stands for a run that was killed before its cleanup.
        int deadPid = int.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim(), CultureInfo.InvariantCulture) + 1;
        string suffix = Random.Shared.Next(0x10000).ToString("x4", CultureInfo.InvariantCulture);
        string leftover = $"gwt-{deadPid:x}-{suffix}-inet";
        string ours = $"gwt-{Environment.ProcessId:x}-{suffix}-keep";
        Shell.Must("ip", "netns", "add", leftover);
        Shell.Must("ip", "netns", "add", ours);
        try
        {
            NamespaceLab.SweepLeftovers();

            string list = Shell.Must("ip", "netns", "list");
            Assert.DoesNotContain(leftover, list, StringComparison.Ordinal);
            Assert.Contains(ours, list, StringComparison.Ordinal);
        }
        finally
        {
            Shell.Run("ip", "netns", "del", leftover);
            Shell.Run("ip", "netns", "del", ours);
        }
    }
}
