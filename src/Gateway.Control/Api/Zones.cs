using System.Globalization;

namespace Gateway.Control.Api;

/// <summary>
/// The one availability zone the emulator offers per region: <c>&lt;region&gt;-1</c>, where the VPC's subnet lives and
/// where instances go unless Placement.Zone names another. The gateway answers for any region a client addresses.
/// </summary>
internal static class Zones
{
    /// <summary>Tencent's numeric zone ids start with a number per region (ap-guangzhou-3 is 100003).</summary>
    private static readonly Dictionary<string, int> s_regionNumbers = new(StringComparer.Ordinal)
    {
        ["ap-guangzhou"] = 100,
        ["ap-shanghai"] = 200,
        ["ap-hongkong"] = 300,
        ["ap-beijing"] = 800,
        ["ap-singapore"] = 900,
    };

    public static string Default(string region) => region + "-1";

    /// <summary>"ap-guangzhou-1" reads "Guangzhou Zone 1".</summary>
    public static string Name(string zone)
    {
        var (region, number) = Split(zone);
        string city = region.Contains('-', StringComparison.Ordinal) ? region[(region.IndexOf('-', StringComparison.Ordinal) + 1)..] : region;
        city = city.Length == 0 ? region : char.ToUpperInvariant(city[0]) + city[1..];
        return $"{city} Zone {number}";
    }

    /// <summary>The region's number and the zone's (100001 for ap-guangzhou-1); other regions get a stable number of their own.</summary>
    public static string Id(string zone)
    {
        var (region, number) = Split(zone);
        int regionNumber = s_regionNumbers.TryGetValue(region, out int known) ? known
            : 500 + (int)(Fnv1a(region) % 400);
        return (regionNumber * 1000 + number).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>FNV-1a: stable across runs and processes, unlike string.GetHashCode.</summary>
    private static uint Fnv1a(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text)
        {
            hash = (hash ^ c) * 16777619;
        }
        return hash;
    }

    private static (string Region, int Number) Split(string zone)
    {
        int dash = zone.LastIndexOf('-');
        return dash > 0 && int.TryParse(zone.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n < 1000
            ? (zone[..dash], n)
            : (zone, 1);
    }
}
