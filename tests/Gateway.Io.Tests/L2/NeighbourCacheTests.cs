using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;
using Gateway.Io.Ports;

namespace Gateway.Io.L2.Tests;

public sealed class NeighbourCacheTests
{
    private const uint Neighbour = 0x0A00000A; // 10.0.0.10
    private const uint Gateway = 0x0A000001;
    private static readonly MacAddress s_mac = MacAddress.Read([0x02, 1, 2, 3, 4, 5]);

    /// <summary>Records what the cache asks its segment to send.</summary>
    private sealed class Segment : IArpRequester, IPendingFrameSender
    {
        public List<(uint Sender, uint Target)> Requests { get; } = [];
        public List<(byte[] Frame, MacAddress Destination)> Sent { get; } = [];

        public void SendRequest(uint senderIp, uint targetIp) => Requests.Add((senderIp, targetIp));

        public void SendPending(Span<byte> frame, in VirtioNetHeader offload, MacAddress destination) => Sent.Add((frame.ToArray(), destination));
    }

    private static readonly NeighbourCacheOptions s_options = new()
    {
        ReachableMilliseconds = 10_000,
        RetryMilliseconds = 1_000,
        MaxProbes = 3,
        PendingFramesPerNeighbour = 2,
        PendingFramesTotal = 4,
        PendingFrameBytes = 100,
    };

    private static TrafficCounters Forwarded(int frames)
    {
        var counters = new TrafficCounters();
        for (int i = 0; i < frames; i++)
        {
            counters.Received(60);
            counters.Forwarded(60);
        }
        return counters;
    }

    [Fact]
    public void AMissHoldsTheFrameAsksOnceAndSendsItWhenTheAnswerComes()
    {
        var segment = new Segment();
        var cache = new NeighbourCache(s_options, segment);
        var counters = Forwarded(2);
        byte[] first = [1, 2, 3];
        byte[] second = [4, 5, 6];

        Assert.Null(cache.Enqueue(first, 60, Neighbour, Gateway, now: 0, counters));
        Assert.Null(cache.Enqueue(second, 60, Neighbour, Gateway, now: 10, counters));
        Assert.Equal([(Gateway, Neighbour)], segment.Requests);
        Assert.False(cache.TryGetFresh(Neighbour, 20, Gateway, out _));
        Assert.Equal(2, cache.PendingFrames);

        cache.Learn(Neighbour, s_mac, create: false, now: 30, segment);

        Assert.Equal([first, second], segment.Sent.Select(s => s.Frame));
        Assert.All(segment.Sent, s => Assert.Equal(s_mac, s.Destination));
        Assert.Equal(0, cache.PendingFrames);
        Assert.True(cache.TryGetFresh(Neighbour, 40, Gateway, out var mac));
        Assert.Equal(s_mac, mac);
        Assert.Equal(2, counters.ForwardedPacketCount);
    }

    /// <summary>Looks at the cache from inside the flush, as another worker's fast path would at that moment.</summary>
    private sealed class Observer(Func<bool> fastPathSeesTheNeighbour) : IPendingFrameSender
    {
        public List<bool> SeenDuringFlush { get; } = [];

        public void SendPending(Span<byte> frame, in VirtioNetHeader offload, MacAddress destination) => SeenDuringFlush.Add(fastPathSeesTheNeighbour());
    }

    [Fact]
    public void TheFramesThatWaitedLeaveBeforeTheMacIsPublished_SoLaterFramesCannotOvertakeThem()
    {
        var cache = new NeighbourCache(s_options, new Segment());
        var counters = Forwarded(2);
        cache.Enqueue([1], 60, Neighbour, Gateway, now: 0, counters);
        cache.Enqueue([2], 60, Neighbour, Gateway, now: 1, counters);
        var observer = new Observer(() => cache.TryGetFresh(Neighbour, 2, Gateway, out _));

        cache.Learn(Neighbour, s_mac, create: false, now: 2, observer);

        Assert.Equal([false, false], observer.SeenDuringFlush); // another worker takes the slow path meanwhile
        Assert.True(cache.TryGetFresh(Neighbour, 3, Gateway, out _));
    }

    [Fact]
    public void AFullQueueDropsTheFrameAsQueueFull()
    {
        var segment = new Segment();
        var cache = new NeighbourCache(s_options, segment);
        var counters = Forwarded(3);

        for (int i = 0; i < 3; i++)
        {
            cache.Enqueue(new byte[10], 60, Neighbour, Gateway, now: i, counters);
        }

        Assert.Equal(1, counters.DropPacketCount(DropReason.QueueFull));
        Assert.Equal(2, counters.ForwardedPacketCount);
        Assert.Equal(2, cache.PendingFrames);
    }

    [Fact]
    public void AFrameLargerThanAPoolBufferIsDroppedAsQueueFull()
    {
        var cache = new NeighbourCache(s_options, new Segment());
        var counters = Forwarded(1);
        cache.Enqueue(new byte[101], 200, Neighbour, Gateway, now: 0, counters);
        Assert.Equal(1, counters.DropPacketCount(DropReason.QueueFull));
    }

    [Fact]
    public void AnUnansweredResolutionRetriesThenDropsItsFramesAsNeighbourUnresolved()
    {
        var segment = new Segment();
        var cache = new NeighbourCache(s_options, segment);
        var worker = Forwarded(2);
        var maintenance = new TrafficCounters();
        cache.Enqueue(new byte[10], 60, Neighbour, Gateway, now: 0, worker);
        cache.Enqueue(new byte[10], 60, Neighbour, Gateway, now: 0, worker);

        cache.Maintain(500, maintenance); // too early to retry
        Assert.Single(segment.Requests);
        cache.Maintain(1_000, maintenance);
        cache.Maintain(2_000, maintenance);
        Assert.Equal(3, segment.Requests.Count);
        Assert.Equal(0, maintenance.DropPacketCount(DropReason.NeighbourUnresolved));

        cache.Maintain(3_000, maintenance);

        Assert.Equal(2, maintenance.DropPacketCount(DropReason.NeighbourUnresolved));
        Assert.Equal(0, CounterSnapshot.Of(worker, maintenance).ForwardedPackets);
        Assert.Equal(0, cache.Count);
        Assert.Equal(0, cache.PendingFrames);
    }

    [Fact]
    public void AnEntryExpiresAfterTheReachableTime()
    {
        var segment = new Segment();
        var cache = new NeighbourCache(s_options, segment);
        cache.Learn(Neighbour, s_mac, create: true, now: 0, segment);
        Assert.True(cache.TryGetFresh(Neighbour, 9_999, Gateway, out _));
        Assert.False(cache.TryGetFresh(Neighbour, 10_000, Gateway, out _));

        cache.Maintain(10_000, new TrafficCounters());

        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void AnEntryNearExpiryInUseIsRefreshedWhileStillUsed()
    {
        var segment = new Segment();
        var cache = new NeighbourCache(s_options, segment);
        cache.Learn(Neighbour, s_mac, create: true, now: 0, segment);

        Assert.True(cache.TryGetFresh(Neighbour, 8_000, Gateway, out _));
        Assert.True(cache.TryGetFresh(Neighbour, 8_100, Gateway, out _)); // within the retry interval: no second request

        Assert.Equal([(Gateway, Neighbour)], segment.Requests);
    }

    [Fact]
    public void LearnWithoutCreateOnlyUpdatesExistingEntries()
    {
        var segment = new Segment();
        var cache = new NeighbourCache(s_options, segment);
        cache.Learn(Neighbour, s_mac, create: false, now: 0, segment);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void HoldingAFrameAllocatesNothingOnceTheEntryExists()
    {
        var segment = new Segment();
        var cache = new NeighbourCache(s_options with { PendingFramesPerNeighbour = 64, PendingFramesTotal = 64 }, segment);
        var counters = Forwarded(64);
        byte[] frame = new byte[60];
        cache.Enqueue(frame, 60, Neighbour, Gateway, 0, counters);
        cache.Learn(Neighbour, s_mac, create: false, now: 0, segment);
        segment.Sent.Clear();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            cache.TryGetFresh(Neighbour, 1, Gateway, out _);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
