using Gateway.WebConsole.Sessions;
using Gateway.WebConsole.Tests.Http;

namespace Gateway.WebConsole.Tests.Sessions;

public sealed class SessionStoreTests
{
    private static readonly SessionLimits s_limits = new(TimeSpan.FromMinutes(30), TimeSpan.FromHours(12), MaxSessions: 3);

    [Fact]
    public void ASessionIsFoundByItsIdOnlyAndEndsWhenEnded()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var store = new SessionStore(s_limits, clock);
        var a = store.Create("AKIDa");
        var b = store.Create("AKIDa");
        Assert.NotEqual(a.Id, b.Id);
        Assert.Same(a, store.Find(a.Id, out _));
        Assert.Null(store.Find(a.Id[..^1] + (a.Id[^1] == 'A' ? 'B' : 'A'), out _));
        Assert.Null(store.Find("", out _));
        Assert.Null(store.Find(null, out _));
        Assert.Null(store.Find(new string('x', 10_000), out _));
        store.End(a);
        Assert.Null(store.Find(a.Id, out bool expired));
        Assert.False(expired);
        Assert.Same(b, store.Find(b.Id, out _));
    }

    [Fact]
    public void IdleAndAbsoluteLimitsEndASession()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var store = new SessionStore(s_limits, clock);
        var session = store.Create("AKIDa");
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.NotNull(store.Find(session.Id, out _)); // touched: the idle clock starts again
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.True(store.IsLive(session));
        Assert.NotNull(store.Find(session.Id, out _));
        clock.Advance(TimeSpan.FromMinutes(30));
        Assert.False(store.IsLive(session));
        Assert.Null(store.Find(session.Id, out bool expired));
        Assert.True(expired);

        var busy = store.Create("AKIDa");
        for (int n = 0; n < 12 * 4 - 1; n++)
        {
            clock.Advance(TimeSpan.FromMinutes(15));
            Assert.NotNull(store.Find(busy.Id, out _));
        }
        clock.Advance(TimeSpan.FromMinutes(15));
        Assert.Null(store.Find(busy.Id, out expired));
        Assert.True(expired);
    }

    [Fact]
    public void BeyondTheLimitTheSessionIdleLongestEnds()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var store = new SessionStore(s_limits, clock);
        var first = store.Create("AKIDa");
        clock.Advance(TimeSpan.FromSeconds(1));
        var second = store.Create("AKIDa");
        clock.Advance(TimeSpan.FromSeconds(1));
        var third = store.Create("AKIDa");
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(store.Find(first.Id, out _)); // first is now the most recently seen
        var fourth = store.Create("AKIDa");
        Assert.Equal(3, store.Count);
        Assert.Null(store.Find(second.Id, out _));
        Assert.NotNull(store.Find(first.Id, out _));
        Assert.NotNull(store.Find(third.Id, out _));
        Assert.NotNull(store.Find(fourth.Id, out _));
    }

    [Fact]
    public void NoticesAreTakenOnceAndBounded()
    {
        var session = new SessionStore(s_limits, TimeProvider.System).Create("AKIDa");
        for (int n = 0; n < 20; n++)
        {
            session.Notify(Notice.Done($"n{n}"));
        }
        var notices = session.TakeNotices();
        Assert.Equal(8, notices.Count);
        Assert.Equal("n19", notices[^1].Text);
        Assert.Empty(session.TakeNotices());
    }
}
