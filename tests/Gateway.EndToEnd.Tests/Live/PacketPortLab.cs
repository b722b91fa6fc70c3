using System.Globalization;
using Gateway.EndToEnd.Tests.Forwarding;
using Gateway.Io.L2;

namespace Gateway.EndToEnd.Tests.Live;

/// <summary>
/// A veth end in the root namespace for a <see cref="Gateway.Io.Live.PacketPort"/> under test, and two namespaces
/// behind it: a router that forwards to a host through a link with every offload off, so the host's kernel checks
/// real checksums on real segments of whatever the port sent.
/// </summary>
/// <remarks>
/// <code>
///  root: gwtXXXXXXp (no address, IPv6 off) ═ veth ═ ns …-r: eth0 10.9.0.2/24 ── ip_forward ── eth1 10.9.1.1/24
///   the port under test, "10.9.0.1" at MAC 02:…                                  (tx, tso, gso, sg off) ═ veth ═
///                                                                           ns …-h: eth0 10.9.1.2/24, default via 10.9.1.1
/// </code>
/// <para>The router knows 10.9.0.1 at <see cref="PortMac"/> (a permanent neighbour entry): frames from it to 10.9.0.1
/// arrive at the veth end, where only the port takes them (the root end has no address). Names carry this process's
/// id, as every end-to-end lab does, and the sweep removes leftovers of dead runs.</para>
/// </remarks>
public sealed class PacketPortLab : IDisposable
{
    public const string PortAddress = "10.9.0.1";
    public const string RouterAddress = "10.9.0.2";
    public const string HostAddress = "10.9.1.2";

    private readonly List<string> _namespaces = [];

    public PacketPortLab()
    {
        NamespaceLab.SweepLeftovers();
        string id = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId:x}-{Random.Shared.Next(0x10000):x4}");
        Router = $"gwt-{id}-r";
        Host = $"gwt-{id}-h";
        Interface = string.Create(CultureInfo.InvariantCulture, $"gwt{Random.Shared.Next(0x1000000):x6}p");
        PortMac = MacAddress.NewLocal();
        try
        {
            foreach (var ns in new[] { Router, Host })
            {
                Shell.Must("ip", "netns", "add", ns);
                _namespaces.Add(ns);
                Shell.Must("ip", "-n", ns, "link", "set", "lo", "up");
                Shell.Must("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
            }
            Shell.Must("ip", "link", "add", Interface, "type", "veth", "peer", "name", "eth0", "netns", Router);
            Shell.Must("sysctl", "-qw", $"net.ipv6.conf.{Interface}.disable_ipv6=1");
            Shell.Must("ip", "link", "set", Interface, "up");
            Shell.Must("ip", "-n", Router, "addr", "add", $"{RouterAddress}/24", "dev", "eth0");
            Shell.Must("ip", "-n", Router, "link", "set", "eth0", "up");
            Shell.Must("ip", "-n", Router, "neigh", "replace", PortAddress, "lladdr", PortMac.ToString(), "dev", "eth0", "nud", "permanent");
            Shell.Must("ip", "netns", "exec", Router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
            Shell.Must("ip", "-n", Router, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", Host);
            Shell.Must("ip", "-n", Router, "addr", "add", "10.9.1.1/24", "dev", "eth1");
            // No offload on the way to the host: the router's kernel segments GSO frames and finishes partial checksums
            // in software, so the host's kernel verifies every checksum of every segment.
            Shell.Must("ip", "netns", "exec", Router, "ethtool", "-K", "eth1", "tx", "off", "tso", "off", "gso", "off", "sg", "off");
            Shell.Must("ip", "-n", Router, "link", "set", "eth1", "up");
            Shell.Must("ip", "-n", Host, "addr", "add", $"{HostAddress}/24", "dev", "eth0");
            Shell.Must("ip", "-n", Host, "link", "set", "eth0", "up");
            Shell.Must("ip", "-n", Host, "route", "add", "default", "via", "10.9.1.1");
            RouterMac = MacAddress.TryParse(Shell.Must("ip", "netns", "exec", Router, "cat", "/sys/class/net/eth0/address").Trim(), out var mac)
                ? mac
                : throw new InvalidOperationException("cannot read the router's MAC");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The router namespace (its eth0 faces the port).</summary>
    public string Router { get; }

    /// <summary>The host namespace behind the router.</summary>
    public string Host { get; }

    /// <summary>The veth end in the root namespace that the port opens.</summary>
    public string Interface { get; }

    /// <summary>The MAC the router sends frames for 10.9.0.1 to (the port receives them in promiscuous mode).</summary>
    public MacAddress PortMac { get; }

    /// <summary>The router's eth0 MAC: where frames from the port go.</summary>
    public MacAddress RouterMac { get; }

    /// <summary>A counter of /proc/net/snmp in namespace <paramref name="ns"/>, e.g. ("Udp", "InDatagrams").</summary>
    public static long Snmp(string ns, string protocol, string field)
    {
        string[] lines = Shell.Must("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Split('\n');
        for (int i = 0; i + 1 < lines.Length; i++)
        {
            if (lines[i].StartsWith(protocol + ":", StringComparison.Ordinal) && lines[i + 1].StartsWith(protocol + ":", StringComparison.Ordinal))
            {
                string[] names = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                string[] values = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                int at = Array.IndexOf(names, field);
                return at > 0 ? long.Parse(values[at], CultureInfo.InvariantCulture) : throw new ArgumentException($"no {protocol} {field} in /proc/net/snmp");
            }
        }
        throw new ArgumentException($"no {protocol} line in /proc/net/snmp");
    }

    /// <summary>An interface statistic (rx_packets, tx_packets, ...) of <paramref name="device"/> in <paramref name="ns"/>.</summary>
    public static long LinkCounter(string ns, string device, string counter) =>
        long.Parse(Shell.Must("ip", "netns", "exec", ns, "cat", $"/sys/class/net/{device}/statistics/{counter}").Trim(), CultureInfo.InvariantCulture);

    /// <summary>Runs a python3 program inside <paramref name="ns"/> and returns what it printed (throws when it fails).</summary>
    public static string Python(string ns, string program)
    {
        var result = Shell.InNamespace(ns, Shell.Python, "-c", program);
        return result.ExitCode == 0 ? result.Output : throw new InvalidOperationException($"python in {ns} failed: {result}");
    }

    public void Dispose()
    {
        foreach (var ns in _namespaces)
        {
            Shell.Run("ip", "netns", "del", ns); // takes the veth pairs with it, the root end included
        }
        Shell.Run("ip", "link", "del", Interface);
    }
}
