using System.Globalization;
using Gateway.Packets;

namespace Gateway.WebConsole.Pages;

/// <summary>How values read on the pages (Razor encodes every one of them when it writes it).</summary>
internal static class Display
{
    public const string None = "—";

    public static string Ip(uint? ip) => ip is uint value ? Ipv4Address.Format(value) : None;

    public static string Ip(uint ip) => Ipv4Address.Format(ip);

    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    public static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    public static string Date(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static string Clock(DateTimeOffset time) => time.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>The badge colour of an instance state: running green, stopped amber, on its way somewhere grey.</summary>
    public static string StateBadge(string state) => state switch
    {
        Gateway.Control.Model.InstanceStates.Running => "badge-ok",
        Gateway.Control.Model.InstanceStates.Stopped => "badge-idle",
        _ => "badge-busy",
    };

    public static string Mbps(int bandwidth) => bandwidth.ToString(CultureInfo.InvariantCulture) + " Mbps";

    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => bytes.ToString(CultureInfo.InvariantCulture) + " B",
        < 1024 * 1024 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        < 1024L * 1024 * 1024 => (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        _ => (bytes / (1024.0 * 1024 * 1024)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
    };

    public static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
