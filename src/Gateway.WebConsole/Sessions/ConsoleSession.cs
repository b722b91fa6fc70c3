namespace Gateway.WebConsole.Sessions;

/// <summary>
/// One signed-in browser. Kept on the server only: the browser holds a random id in an HttpOnly cookie, never the
/// credentials or anything derived from them.
/// </summary>
internal sealed class ConsoleSession
{
    private readonly Lock _lock = new();
    private readonly Queue<Notice> _notices = new();
    private long _lastSeenTicks;

    public ConsoleSession(string id, string secretId, DateTimeOffset created)
    {
        Id = id;
        SecretId = secretId;
        Created = created;
        _lastSeenTicks = created.UtcTicks;
    }

    /// <summary>The cookie's value (256 random bits). Also the antiforgery tokens' additional data, so a token
    /// taken from one session is refused in another.</summary>
    public string Id { get; }

    /// <summary>The SecretId that signed in (an identifier, not a secret; shown shortened).</summary>
    public string SecretId { get; }

    public DateTimeOffset Created { get; }

    public DateTimeOffset LastSeen => new(Interlocked.Read(ref _lastSeenTicks), TimeSpan.Zero);

    public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastSeenTicks, now.UtcTicks);

    /// <summary>Keeps a message for the next page this session renders (post, redirect, get).</summary>
    public void Notify(Notice notice)
    {
        lock (_lock)
        {
            if (_notices.Count >= 8)
            {
                _notices.Dequeue();
            }
            _notices.Enqueue(notice);
        }
    }

    /// <summary>The messages kept for this page, removed as they are taken.</summary>
    public IReadOnlyList<Notice> TakeNotices()
    {
        lock (_lock)
        {
            var list = _notices.ToList();
            _notices.Clear();
            return list;
        }
    }
}

/// <summary>A message shown once at the top of a page: the outcome of the action just done.</summary>
/// <param name="Code">The cloud's error code of a refusal (null for a success).</param>
internal sealed record Notice(bool IsError, string Text, string? Code = null)
{
    public static Notice Done(string text) => new(false, text);

    public static Notice Refused(string code, string message) => new(true, message, code);
}
