using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.WebConsole.Sessions;

/// <summary>How long a console session lives.</summary>
/// <param name="Idle">Without a request for this long, the session ends (OWASP's guidance: 15–30 minutes for most applications).</param>
/// <param name="Absolute">A session ends this long after sign-in, however busy.</param>
/// <param name="MaxSessions">At most this many sessions at once; a new sign-in beyond it ends the one idle longest.</param>
internal sealed record SessionLimits(TimeSpan Idle, TimeSpan Absolute, int MaxSessions = 1000)
{
    public static SessionLimits Default { get; } = new(TimeSpan.FromMinutes(30), TimeSpan.FromHours(12));
}

/// <summary>
/// The console's sessions, in memory: a restart of the daemon signs everyone out.
/// </summary>
/// <remarks>
/// Sessions are found by the SHA-256 of the cookie's value, so the lookup never compares the secret value itself
/// and a dump of this table holds nothing a browser could present.
/// </remarks>
internal sealed class SessionStore
{
    private readonly ConcurrentDictionary<string, ConsoleSession> _sessions = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;

    public SessionStore(SessionLimits limits, TimeProvider clock)
    {
        Limits = limits;
        _clock = clock;
    }

    public SessionLimits Limits { get; }

    public int Count => _sessions.Count;

    public ConsoleSession Create(string secretId)
    {
        var now = _clock.GetUtcNow();
        RemoveExpired(now);
        while (_sessions.Count >= Limits.MaxSessions && _sessions.Values.MinBy(s => s.LastSeen) is { } oldest)
        {
            _sessions.TryRemove(Key(oldest.Id), out _);
        }
        string id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var session = new ConsoleSession(id, secretId, now);
        _sessions[Key(id)] = session;
        return session;
    }

    /// <summary>The live session with this cookie value, touched; null (and forgotten) when unknown or expired.</summary>
    public ConsoleSession? Find(string? id, out bool expired)
    {
        expired = false;
        if (string.IsNullOrEmpty(id) || id.Length > 128)
        {
            return null;
        }
        string key = Key(id);
        if (!_sessions.TryGetValue(key, out var session))
        {
            return null;
        }
        var now = _clock.GetUtcNow();
        if (IsExpired(session, now))
        {
            _sessions.TryRemove(key, out _);
            expired = true;
            return null;
        }
        session.Touch(now);
        return session;
    }

    /// <summary>True while the session has not ended or expired (without counting this as activity).</summary>
    public bool IsLive(ConsoleSession session) =>
        _sessions.ContainsKey(Key(session.Id)) && !IsExpired(session, _clock.GetUtcNow());

    /// <summary>Ends the session (sign-out): its cookie value opens nothing from now on.</summary>
    public void End(ConsoleSession session) => _sessions.TryRemove(Key(session.Id), out _);

    private bool IsExpired(ConsoleSession session, DateTimeOffset now) =>
        now - session.LastSeen >= Limits.Idle || now - session.Created >= Limits.Absolute;

    private void RemoveExpired(DateTimeOffset now)
    {
        foreach (var (key, session) in _sessions)
        {
            if (IsExpired(session, now))
            {
                _sessions.TryRemove(key, out _);
            }
        }
    }

    private static string Key(string id) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(id)));
}
