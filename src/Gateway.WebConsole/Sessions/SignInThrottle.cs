using System.Collections.Concurrent;
using System.Net;

namespace Gateway.WebConsole.Sessions;

/// <summary>
/// Failed sign-ins per client address: a token bucket of <see cref="Burst"/> failures refilled at one per
/// <see cref="RefillEvery"/>. While a client's bucket is empty its sign-ins are refused before the credentials are
/// even compared, so guessing the 32-character SecretKey stays at a few attempts a minute per address.
/// </summary>
/// <remarks>
/// Keyed by the connection's remote address (a forwarded-for header is the client's own word and is not trusted);
/// IPv6 clients by their /64, which one host usually has whole. The table is bounded: beyond
/// <see cref="MaxClients"/> addresses the ones whose buckets are full again are forgotten first.
/// </remarks>
internal sealed class SignInThrottle
{
    public const int MaxClients = 10_000;

    private readonly ConcurrentDictionary<string, Bucket> _clients = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;

    public SignInThrottle(TimeProvider clock, int burst = 5, TimeSpan? refillEvery = null)
    {
        _clock = clock;
        Burst = burst;
        RefillEvery = refillEvery ?? TimeSpan.FromSeconds(12);
    }

    /// <summary>Failures allowed in a row before the client must wait.</summary>
    public int Burst { get; }

    /// <summary>One more failure is allowed after this long.</summary>
    public TimeSpan RefillEvery { get; }

    /// <summary>Zero when the client may try now, else how long it must wait.</summary>
    public TimeSpan RetryAfter(IPAddress? client)
    {
        var bucket = _clients.GetValueOrDefault(Key(client));
        if (bucket is null)
        {
            return TimeSpan.Zero;
        }
        lock (bucket)
        {
            double tokens = bucket.TokensAt(_clock.GetUtcNow(), Burst, RefillEvery);
            return tokens >= 1 ? TimeSpan.Zero : RefillEvery * (1 - tokens);
        }
    }

    /// <summary>Counts a failed sign-in against the client.</summary>
    public void Failed(IPAddress? client)
    {
        var now = _clock.GetUtcNow();
        if (_clients.Count >= MaxClients)
        {
            Forget(now);
        }
        var bucket = _clients.GetOrAdd(Key(client), _ => new Bucket(Burst, now));
        lock (bucket)
        {
            bucket.Take(now, Burst, RefillEvery);
        }
    }

    /// <summary>A successful sign-in clears the client's failures.</summary>
    public void Succeeded(IPAddress? client) => _clients.TryRemove(Key(client), out _);

    private void Forget(DateTimeOffset now)
    {
        foreach (var (key, bucket) in _clients)
        {
            lock (bucket)
            {
                if (bucket.TokensAt(now, Burst, RefillEvery) >= Burst)
                {
                    _clients.TryRemove(key, out _);
                }
            }
        }
        // Still full of clients that are all failing: the oldest entries go (they refill first anyway).
        foreach (var key in _clients.Keys.Take(Math.Max(0, _clients.Count - (MaxClients / 2))))
        {
            _clients.TryRemove(key, out _);
        }
    }

    private static string Key(IPAddress? client)
    {
        if (client is null)
        {
            return "-";
        }
        if (client.IsIPv4MappedToIPv6)
        {
            client = client.MapToIPv4();
        }
        if (client.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            byte[] bytes = client.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new IPAddress(bytes) + "/64";
        }
        return client.ToString();
    }

    private sealed class Bucket(int tokens, DateTimeOffset at)
    {
        private double _tokens = tokens;
        private DateTimeOffset _at = at;

        public double TokensAt(DateTimeOffset now, int burst, TimeSpan refillEvery) =>
            Math.Min(burst, _tokens + (Math.Max(0, (now - _at).Ticks) / (double)refillEvery.Ticks));

        public void Take(DateTimeOffset now, int burst, TimeSpan refillEvery)
        {
            _tokens = Math.Max(0, TokensAt(now, burst, refillEvery) - 1);
            _at = now;
        }
    }
}
