using System.Net;
using Gateway.WebConsole.Sessions;
using Gateway.WebConsole.Tests.Http;

namespace Gateway.WebConsole.Tests.Sessions;

public sealed class SignInThrottleTests
{
    private static readonly IPAddress s_a = IPAddress.Parse("192.0.2.1");
    private static readonly IPAddress s_b = IPAddress.Parse("192.0.2.2");

    [Fact]
    public void FiveFailuresInARowThenOneMoreEveryTwelveSeconds()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var throttle = new SignInThrottle(clock);
        for (int n = 0; n < 5; n++)
        {
            Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(s_a));
            throttle.Failed(s_a);
        }
        Assert.Equal(TimeSpan.FromSeconds(12), throttle.RetryAfter(s_a));
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(s_b));
        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(TimeSpan.FromSeconds(6), throttle.RetryAfter(s_a));
        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(s_a));
        throttle.Failed(s_a);
        Assert.Equal(TimeSpan.FromSeconds(12), throttle.RetryAfter(s_a));
        // A minute of quiet gives the full burst back; a success clears at once.
        clock.Advance(TimeSpan.FromMinutes(1));
        for (int n = 0; n < 5; n++)
        {
            Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(s_a));
            throttle.Failed(s_a);
        }
        Assert.NotEqual(TimeSpan.Zero, throttle.RetryAfter(s_a));
        throttle.Succeeded(s_a);
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(s_a));
    }

    [Fact]
    public void AnIpv6ClientIsCountedByItsSlash64AndMappedIpv4AsIpv4()
    {
        var throttle = new SignInThrottle(new ManualClock(DateTimeOffset.UnixEpoch), burst: 1);
        throttle.Failed(IPAddress.Parse("2001:db8:1:2::1"));
        Assert.NotEqual(TimeSpan.Zero, throttle.RetryAfter(IPAddress.Parse("2001:db8:1:2:ffff::9")));
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(IPAddress.Parse("2001:db8:1:3::1")));
        throttle.Failed(s_a);
        Assert.NotEqual(TimeSpan.Zero, throttle.RetryAfter(s_a.MapToIPv6()));
    }

    [Fact]
    public void TheTableStaysBoundedUnderManyAddresses()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var throttle = new SignInThrottle(clock);
        for (int n = 0; n < SignInThrottle.MaxClients * 3; n++)
        {
            throttle.Failed(new IPAddress(BitConverter.GetBytes(0x0A000000 + n)));
        }
        // Still answers, and the latest client is still held back.
        throttle.Failed(s_a);
        for (int n = 0; n < 5; n++)
        {
            throttle.Failed(s_a);
        }
        Assert.NotEqual(TimeSpan.Zero, throttle.RetryAfter(s_a));
    }
}
