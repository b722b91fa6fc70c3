using Gateway.DataPlane.Cluster;

namespace Gateway.Control.Cluster.Tests;

/// <summary>
/// The self-fencing rule on a clock of our own (timestamps are plain numbers: 1 tick = 1 ms here): when the active node
/// may forward (<see cref="ActiveAuthority"/>) and when a standby may ask for the role and which advertisements it
/// acknowledges (<see cref="StandbyWatch"/>). The last test runs both against each other over random delays, stalls and
/// losses and checks the property that matters: a standby never starts a takeover before the old active's permission ended.
/// </summary>
public sealed class SelfFencingRuleTests
{
    private const long Silence = 350;
    private const long Margin = 50;
    private const long Window = Silence - Margin;

    private static (ForwardingAuthority Deadline, ActiveAuthority Rule) Active()
    {
        var deadline = ForwardingAuthority.None();
        return (deadline, new ActiveAuthority(deadline, Silence, Margin));
    }

    [Fact]
    public void ANewClusterNode_MayNotForward_UntilItTakesTheRole()
    {
        var (deadline, rule) = Active();
        Assert.False(deadline.Permits(0));
        Assert.Equal(0, rule.StartRound(0, ["b"])); // no rounds while not holding
        Assert.False(rule.Acknowledged("b", 0, Silence));
        rule.Bumped(0);
        Assert.False(deadline.Permits(1));
        Assert.True(ForwardingAuthority.Unlimited().Permits(long.MaxValue - 1));
    }

    [Fact]
    public void TakingTheRole_GrantsFromTheTransactionsSendTime_AndItExpiresOnTheClock()
    {
        var (deadline, rule) = Active();
        rule.Acquired(sentAt: 1000);
        Assert.True(deadline.Permits(1000 + Window - 1));
        Assert.False(deadline.Permits(1000 + Window)); // a stalled worker that runs again past it forwards nothing
    }

    [Fact]
    public void ARoundAcknowledgedByEveryStandby_ExtendsFromItsSendTime_APartialOneDoesNot()
    {
        var (deadline, rule) = Active();
        rule.Acquired(0);
        long round = rule.StartRound(100, ["b", "c"]);
        Assert.False(rule.Acknowledged("b", round, Silence));
        Assert.Equal(Window, deadline.Until);
        Assert.False(rule.Acknowledged("b", round, Silence)); // the same standby twice is still one
        Assert.True(rule.Acknowledged("c", round, Silence));
        Assert.Equal(100 + Window, deadline.Until);
        Assert.False(rule.Acknowledged("c", round, Silence)); // the round is spent
    }

    [Fact]
    public void ARoundWithNoStandby_GrantsNothing_OnlyABumpKeepsALoneNodeForwarding()
    {
        var (deadline, rule) = Active();
        rule.Acquired(0);
        long round = rule.StartRound(100, []);
        Assert.False(rule.Acknowledged("stranger", round, Silence));
        Assert.Equal(Window, deadline.Until);
        Assert.True(rule.NeedsBump(Window / 2 + 1));
        Assert.False(rule.NeedsBump(Window / 2 - 1));
        rule.Bumped(sentAt: 200);
        Assert.Equal(200 + Window, deadline.Until);
    }

    [Fact]
    public void LateAcknowledgements_NeverMoveTheDeadlineBack_NorReviveAReleasedRole()
    {
        var (deadline, rule) = Active();
        rule.Acquired(0);
        long first = rule.StartRound(100, ["b"]);
        long second = rule.StartRound(200, ["b"]);
        Assert.True(rule.Acknowledged("b", second, Silence));
        Assert.False(rule.Acknowledged("b", first, Silence)); // older round: its grant is earlier, the deadline stays
        Assert.Equal(200 + Window, deadline.Until);
        Assert.False(rule.Acknowledged("b", 9999, Silence)); // never sent

        long third = rule.StartRound(300, ["b"]);
        rule.Released();
        Assert.False(deadline.Permits(301));
        Assert.False(rule.Acknowledged("b", third, Silence));
        rule.Bumped(400);
        Assert.False(deadline.Permits(401));
    }

    [Fact]
    public void AStandbyWithAShorterSilence_ShortensEveryGrant()
    {
        var (deadline, rule) = Active();
        rule.Acquired(0);
        long round = rule.StartRound(400, ["b"]);
        Assert.True(rule.Acknowledged("b", round, nodeSilenceTicks: 200));
        Assert.Equal(400 + 200 - Margin, deadline.Until);
        Assert.Equal(200 - Margin, rule.Window);
    }

    [Fact]
    public void AStandby_AcknowledgesOnlyTheHolderEtcdNames_AndNothingWhileItTakesOver()
    {
        var watch = new StandbyWatch(Silence, now: 0);
        Assert.False(watch.OnAdvertisement("a", 10)); // the key was never read: no promise to anyone
        watch.OnKeyRead("a", modRevision: 7, now: 20);
        Assert.False(watch.OnAdvertisement("x", 30));
        Assert.True(watch.OnAdvertisement("a", 30));
        Assert.False(watch.TryBeginTakeover(30 + Silence - 1));
        Assert.True(watch.TryBeginTakeover(30 + Silence));
        Assert.False(watch.OnAdvertisement("a", 400)); // a takeover is in flight: its outcome must not be contradicted
        watch.EndTakeover(won: false, now: 500);
        Assert.True(watch.OnAdvertisement("a", 510));
    }

    [Fact]
    public void AStandby_TakesOverByFailedAdvertsOnlyAfterHearingTheHolder_AndAKeyChangeRestartsTheTimer()
    {
        var watch = new StandbyWatch(Silence, now: 0);
        watch.OnKeyRead("a", 7, 0);
        Assert.False(watch.TryBeginTakeover(10_000)); // never heard "a": its silence means nothing
        Assert.True(watch.OnAdvertisement("a", 100));
        watch.OnKeyRead("a", 9, 300); // a bump: the holder is alive
        Assert.False(watch.TryBeginTakeover(100 + Silence));
        Assert.True(watch.TryBeginTakeover(300 + Silence));
        watch.EndTakeover(won: false, 700);

        watch.OnRegistered(800); // a new lease: what was heard before does not count
        Assert.False(watch.TryBeginTakeover(10_000));
    }

    [Fact]
    public void AStandby_TakesAnAbsentKeyOnlyASilenceAfterSeeingItGone()
    {
        var watch = new StandbyWatch(Silence, now: 0);
        Assert.False(watch.TryBeginTakeover(10_000)); // not read yet
        watch.OnKeyRead(null, 0, 10_000);
        Assert.False(watch.TryBeginTakeover(10_000 + Silence - 1));
        Assert.True(watch.TryBeginTakeover(10_000 + Silence));
        Assert.True(watch.TakingOver);
        watch.EndTakeover(won: true, 10_400);
        Assert.False(watch.TakingOver);
    }

    /// <summary>
    /// The property the rule exists for, over 2,000 random runs: adverts every 100 ticks with random delivery delays and
    /// losses (both ways), bumps that sometimes fail, and the active stalled at a random moment for a random time (its
    /// threads do nothing, its clock runs). Whenever the standby is allowed to start a takeover, the active's deadline is
    /// at least the margin behind it — so the new active forwards only after the old one stopped.
    /// </summary>
    [Fact]
    public void NeverTwoForwarders_UnderRandomDelaysLossesAndStalls()
    {
        var random = new Random(12);
        int takeovers = 0;
        for (int run = 0; run < 2000; run++)
        {
            var (deadline, rule) = Active();
            var watch = new StandbyWatch(Silence, now: 0);
            rule.Acquired(0);
            watch.OnKeyRead("a", 1, 0);
            long stallFrom = random.Next(200, 3000), stallFor = random.Next(0, 1500);
            bool Stalled(long t) => t >= stallFrom && t < stallFrom + stallFor;
            var inFlight = new List<(long At, bool ToStandby, long Round)>();
            long revision = 1;
            for (long t = 0; t < 4000; t++)
            {
                if (!Stalled(t) && t % 100 == 0)
                {
                    long round = rule.StartRound(t, ["b"]);
                    if (random.NextDouble() > 0.2)
                    {
                        inFlight.Add((t + random.Next(0, 120), true, round));
                    }
                }
                if (!Stalled(t) && t % 50 == 25 && rule.NeedsBump(t) && random.NextDouble() > 0.5)
                {
                    // A bump commits after a random delay, unless the standby took the key first (compare fails).
                    long commitAt = t + random.Next(1, 60);
                    if (!watch.TakingOver)
                    {
                        rule.Bumped(t);
                        revision++;
                        watch.OnKeyRead("a", revision, commitAt);
                    }
                }
                foreach (var message in inFlight.Where(m => m.At == t).ToList())
                {
                    inFlight.Remove(message);
                    if (message.ToStandby)
                    {
                        if (watch.OnAdvertisement("a", t) && random.NextDouble() > 0.2)
                        {
                            inFlight.Add((t + random.Next(0, 120), false, message.Round));
                        }
                    }
                    else if (!Stalled(t))
                    {
                        rule.Acknowledged("b", message.Round, Silence);
                    }
                    else
                    {
                        inFlight.Add((stallFrom + stallFor, false, message.Round)); // read once the active runs again
                    }
                }
                if (watch.TryBeginTakeover(t))
                {
                    Assert.True(deadline.Until + Margin <= t, $"run {run}: the standby may take over at {t} while the active may forward until {deadline.Until}");
                    takeovers++;
                    break;
                }
            }
        }
        Assert.True(takeovers > 100, $"only {takeovers} runs reached a takeover: the simulation does not exercise the rule");
    }
}
