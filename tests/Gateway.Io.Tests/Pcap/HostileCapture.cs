namespace Gateway.Io.Pcap.Tests;

/// <summary>Reads hostile captures (built by <see cref="Gateway.TestSupport.HostileCaptures"/>) and sorts the outcome.</summary>
internal static class HostileCapture
{
    /// <summary>What reading an input came to: a result, or the reader's own error. Anything else fails the test.</summary>
    public sealed record Outcome(List<ReadFrame> Frames, List<CaptureInterface> Interfaces, CaptureReadResult? Result, CaptureFormatException? Error);

    /// <summary>
    /// Reads <paramref name="bytes"/> on a worker with a generous guard, so an endless loop fails the test instead of
    /// hanging the run (no timing is asserted: a healthy read of these few bytes takes microseconds).
    /// </summary>
    public static Outcome Read(byte[] bytes, int bufferSize = 4096)
    {
        var task = Task.Run(() =>
        {
            try
            {
                var (frames, interfaces, result) = OurReader.Read(bytes, bufferSize);
                return new Outcome(frames, interfaces, result, null);
            }
            catch (CaptureFormatException e)
            {
                return new Outcome([], [], null, e);
            }
        });
        if (!task.Wait(TimeSpan.FromSeconds(60)))
        {
            throw new TimeoutException($"the reader did not finish a {bytes.Length}-byte input: it hangs");
        }
        return task.Result;
    }

    public static CaptureFormatException ReadError(byte[] bytes, int bufferSize = 4096)
    {
        Outcome outcome = Read(bytes, bufferSize);
        Assert.True(outcome.Error != null, $"expected a CaptureFormatException, got {outcome.Frames.Count} frames and warning '{outcome.Result?.Warning}'");
        return outcome.Error;
    }

    public static Outcome ReadOk(byte[] bytes, int bufferSize = 4096)
    {
        Outcome outcome = Read(bytes, bufferSize);
        Assert.True(outcome.Error == null, $"unexpected error: {outcome.Error?.Message}");
        return outcome;
    }
}
