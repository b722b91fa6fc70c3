namespace Gateway.Bench;

/// <summary>
/// The address plan of the synthetic bench: which binding an address belongs to can be read off the
/// address itself, so a worker can tell a real binding from an impossible one without a lock or a lookup.
/// </summary>
/// <remarks>
/// <code>
/// public  P(i)    = 100.64.0.0/10 + i                      (i &lt; 2^22: up to 4,194,304 bindings)
/// private Q(i, g) = 10.0.0.0/8 | g &lt;&lt; 22 | i              (g = 0: the binding's home, g = 1: where churn moves it)
/// remote          = 198.51.100.0/24 and 203.0.113.0/24      (never bound)
/// </code>
/// Nothing is ever sent anywhere: these frames live in memory only.
/// </remarks>
public static class BenchAddresses
{
    public const int MaxBindings = 1 << IndexBits;

    private const int IndexBits = 22;
    private const uint IndexMask = (1u << IndexBits) - 1;
    private const uint PublicBase = 0x64400000; // 100.64.0.0
    private const uint PrivateBase = 0x0A000000; // 10.0.0.0

    public static uint Public(int index) => PublicBase + (uint)index;

    public static uint Private(int index, int generation) => PrivateBase | ((uint)generation << IndexBits) | (uint)index;

    /// <summary>A remote internet host: 198.51.100.1-254 or 203.0.113.1-254 (RFC 5737), never bound.</summary>
    public static uint Remote(uint random) =>
        ((random & 0x100) == 0 ? 0xC6336400u : 0xCB007100u) | (1 + ((random & 0xFF) % 254));

    public static bool IsPublic(uint address) => (address & ~IndexMask) == PublicBase;

    /// <summary>The binding index and generation of a private address of this plan, or false.</summary>
    public static bool TryDecodePrivate(uint address, out int index, out int generation)
    {
        index = (int)(address & IndexMask);
        generation = (int)((address >> IndexBits) & 3);
        return (address & 0xFF000000) == PrivateBase;
    }

    public static int IndexOf(uint address) => (int)(address & IndexMask);
}
