namespace Gateway.Bench;

/// <summary>Frame sizes of the synthetic traffic, as sizes on the wire (FCS included).</summary>
public enum FrameSizeProfile : byte
{
    /// <summary>64-byte frames: the packet-rate worst case (60 bytes in memory, the NIC adds the FCS).</summary>
    Min64,
    /// <summary>Simple IMIX: 64, 594 and 1518 bytes in the ratio 7:4:1 (average 361.8 bytes on the wire).</summary>
    Imix,
    /// <summary>1518-byte frames: a full 1500-byte IPv4 packet.</summary>
    Max1518,
}

/// <summary>What <see cref="ThroughputBench"/> runs.</summary>
public sealed record ThroughputBenchOptions
{
    /// <summary>The bytes of a frame on the wire that the FCS adds to what sits in memory.</summary>
    public const int FcsLength = 4;

    public FrameSizeProfile FrameSize { get; init; } = FrameSizeProfile.Min64;

    /// <summary>Bindings in the table; every frame's binding is drawn uniformly from all of them.</summary>
    public int Bindings { get; init; } = 1_000_000;

    /// <summary>Worker threads, each with its own frames and counters.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>Rebinds per second made by a writer thread while the workers translate (0 = none).</summary>
    public int ChurnPerSecond { get; init; }

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Translation before the clock starts, so the figures are of jitted, steady-state code.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Frames translated between two looks at the stop flag; also the batch handed to the translator.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>
    /// Translate each batch with <c>Translator.TranslateEthernetBatch</c> (table slots prefetched for the whole batch
    /// first); false translates frame by frame with <c>TranslateEthernet</c>.
    /// </summary>
    public bool Prefetch { get; init; } = true;

    /// <summary>Pre-built frames per worker (a power of two), cycled through.</summary>
    public int RingFrames { get; init; } = 1 << 18;

    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// When positive, every binding is capped at this many Mbps each way and every frame passes through the policer
    /// (<c>--cap-mbps</c>): what caps cost when they are set but not exceeded. 0: no policer.
    /// </summary>
    public int CapMbps { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that is out of range.</summary>
    public void Validate()
    {
        if (Bindings < 1 || Bindings > BenchAddresses.MaxBindings)
        {
            throw new ArgumentException($"bindings must be from 1 to {BenchAddresses.MaxBindings}, not {Bindings}.");
        }
        if (Workers < 1 || Workers > 256)
        {
            throw new ArgumentException($"workers must be from 1 to 256, not {Workers}.");
        }
        if (ChurnPerSecond < 0)
        {
            throw new ArgumentException($"churn must be zero or more rebinds per second, not {ChurnPerSecond}.");
        }
        if (Duration <= TimeSpan.Zero || Warmup < TimeSpan.Zero)
        {
            throw new ArgumentException("duration must be positive and warm-up not negative.");
        }
        if (CapMbps < 0 || CapMbps > 100_000)
        {
            throw new ArgumentException($"cap must be 0 (none) to 100000 Mbps, not {CapMbps}.");
        }
        if (BatchSize < 1 || BatchSize > 1024)
        {
            throw new ArgumentException($"batch size must be from 1 to 1024, not {BatchSize}.");
        }
        if (RingFrames < BatchSize || !int.IsPow2(RingFrames) || RingFrames > 1 << 22)
        {
            throw new ArgumentException($"ring frames must be a power of two from the batch size to 4194304, not {RingFrames}.");
        }
    }
}
