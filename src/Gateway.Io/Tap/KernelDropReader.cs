using System.Globalization;
using Gateway.Io.Ports;

namespace Gateway.Io.Tap;

/// <summary>
/// Reads a TAP device's <c>tx_dropped</c> wherever the device lives now. The lab moves TAPs into other network
/// namespaces after creating them, where the daemon cannot see them by name; the tun descriptor still knows its device:
/// TUNGETIFF gives its current name, TUNGETDEVNETNS a descriptor of its namespace.
/// </summary>
/// <remarks>
/// A short-lived thread of its own joins that namespace (<c>setns(2)</c>, which changes only the calling thread's),
/// reads <c>/proc/thread-self/net/dev</c> there and ends, so no worker and no pooled thread ever runs in another
/// namespace. Once a second from the stats writer, never on the frame path.
/// </remarks>
internal sealed class KernelDropReader(TapPort port)
{
    public PortKernelDrops Read()
    {
        if (!port.TryLocate(out string name, out int namespaceFd))
        {
            return PortKernelDrops.Unknown;
        }
        try
        {
            long drops = -1;
            var thread = new Thread(() => drops = ReadInNamespace(namespaceFd, name)) { IsBackground = true, Name = "gw-netns-stats" };
            thread.Start();
            thread.Join();
            return drops >= 0 ? new PortKernelDrops(drops, Known: true) : PortKernelDrops.Unknown;
        }
        finally
        {
            LibC.Close(namespaceFd);
        }
    }

    private static long ReadInNamespace(int namespaceFd, string name)
    {
        int own = LibC.Open("/proc/thread-self/ns/net", LibC.ORdOnly | LibC.OCloExec);
        if (own < 0)
        {
            return -1;
        }
        try
        {
            if (LibC.SetNs(namespaceFd, LibC.CloneNewNet) != 0)
            {
                return -1;
            }
            try
            {
                return TxDropped(File.ReadAllText("/proc/thread-self/net/dev"), name);
            }
            catch (IOException)
            {
                return -1;
            }
            finally
            {
                // Should this fail, the thread stays in the device's namespace, but it ends right here.
                LibC.SetNs(own, LibC.CloneNewNet);
            }
        }
        finally
        {
            LibC.Close(own);
        }
    }

    /// <summary>
    /// The transmit "drop" column of <paramref name="device"/> in a /proc/net/dev text (net/core/net-procfs.c
    /// dev_seq_printf_stats: 8 receive columns, then bytes, packets, errs, drop, ... for transmit); -1 when absent.
    /// </summary>
    internal static long TxDropped(string procNetDev, string device)
    {
        foreach (var line in procNetDev.Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || line.AsSpan(0, colon).Trim().SequenceEqual(device) is false)
            {
                continue;
            }
            string[] fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 11 && long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : -1;
        }
        return -1;
    }
}
