using System.Buffers.Binary;
using System.Globalization;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;
using Xunit.Abstractions;

namespace Gateway.Fuzz.Tests;

/// <summary>
/// A mutation fuzzer for the translator: valid frames of every kind are mutated (bit flips, interesting
/// bytes, truncation, length fields, addresses swapped for bound ones, IP checksum repaired so mutants
/// get past the first check) and each mutant must satisfy the translator's invariants:
/// <list type="bullet">
/// <item>no exception, and nothing written outside the frame (guard bytes on both sides stay intact);</item>
/// <item>every frame is counted once: forwarded, or dropped under exactly one reason;</item>
/// <item>a dropped frame leaves unchanged;</item>
/// <item>a forwarded frame has a valid IPv4 header checksum, and translating it back through the inverse
/// bindings restores it byte for byte (a checksum may come back as the other one's-complement zero).</item>
/// </list>
/// CI runs a bounded number of inputs; <c>FUZZ_ITERATIONS=10000000</c> runs the long campaign (see README).
/// </summary>
public sealed class TranslatorFuzzTests(ITestOutputHelper output)
{
    private const int Guard = 32;
    private static readonly uint[] s_addresses = [SeedFrames.PublicA, SeedFrames.PrivateA, SeedFrames.PublicB, SeedFrames.PrivateB, SeedFrames.Internet];
    private static readonly byte[] s_interesting = [0x00, 0x01, 0x05, 0x06, 0x08, 0x0B, 0x11, 0x3F, 0x40, 0x45, 0x4F, 0x7F, 0x80, 0x81, 0xA8, 0xFE, 0xFF];

    [Fact]
    public void MutatedFrames_KeepEveryTranslatorInvariant()
    {
        long iterations = long.TryParse(Environment.GetEnvironmentVariable("FUZZ_ITERATIONS"), CultureInfo.InvariantCulture, out long n) ? n : 300_000;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), CultureInfo.InvariantCulture, out int s) ? s : 20261129;
        var random = new Random(seed);

        var forward = new BindingTable();
        forward.Bind(SeedFrames.PublicA, SeedFrames.PrivateA);
        forward.Bind(SeedFrames.PublicB, SeedFrames.PrivateB);
        var inverse = new BindingTable();
        inverse.Bind(SeedFrames.PrivateA, SeedFrames.PublicA);
        inverse.Bind(SeedFrames.PrivateB, SeedFrames.PublicB);
        var translator = new Translator(forward);
        var back = new Translator(inverse);
        var counters = new TrafficCounters();
        var backCounters = new TrafficCounters();

        var buffer = new byte[Guard + 2048 + Guard];
        var original = new byte[2048];
        var guardPattern = new byte[buffer.Length];
        random.NextBytes(guardPattern);
        var outcomes = new long[DropReasons.Count];
        long roundTrips = 0;

        for (long i = 0; i < iterations; i++)
        {
            byte[] seedFrame = SeedFrames.All[random.Next(SeedFrames.All.Count)];
            int length = seedFrame.Length;
            seedFrame.CopyTo(original, 0);
            int wireLength = Mutate(random, original, ref length);
            var frame = original.AsSpan(0, length);

            guardPattern.CopyTo(buffer, 0);
            frame.CopyTo(buffer.AsSpan(Guard));
            long receivedBefore = counters.ReceivedPacketCount;
            long forwardedBefore = counters.ForwardedPacketCount;
            long dropsBefore = TotalDrops(counters);

            DropReason reason;
            try
            {
                reason = translator.TranslateEthernet(buffer.AsSpan(Guard, length), wireLength, counters);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"translator threw on input {Describe(frame, wireLength, seed, i)}", e);
            }
            outcomes[(int)reason]++;

            long iteration = i;
            int wire = wireLength;
            string Where() => Describe(original.AsSpan(0, length), wire, seed, iteration);
            Assert.True(buffer.AsSpan(0, Guard).SequenceEqual(guardPattern.AsSpan(0, Guard)), $"wrote before the frame: {Where()}");
            Assert.True(buffer.AsSpan(Guard + length).SequenceEqual(guardPattern.AsSpan(Guard + length)), $"wrote after the frame: {Where()}");
            Assert.Equal(receivedBefore + 1, counters.ReceivedPacketCount);
            bool forwarded = reason == DropReason.None;
            Assert.Equal(forwardedBefore + (forwarded ? 1 : 0), counters.ForwardedPacketCount);
            Assert.Equal(dropsBefore + (forwarded ? 0 : 1), TotalDrops(counters));

            var translated = buffer.AsSpan(Guard, length);
            if (!forwarded)
            {
                Assert.True(translated.SequenceEqual(frame), $"a dropped frame ({DropReasons.Name(reason)}) was modified: {Where()}");
                continue;
            }

            int ip = IpOffset(translated);
            int headerLength = (translated[ip] & 0x0F) * 4;
            Assert.True(OnesComplement.Sum(translated.Slice(ip, headerLength)) == 0xFFFF, $"forwarded with a bad IP checksum: {Where()}");

            if (IsReversible(frame, ip))
            {
                var copy = translated.ToArray();
                DropReason backReason = back.TranslateEthernet(copy, wireLength, backCounters);
                Assert.True(backReason == DropReason.None, $"inverse translation dropped ({DropReasons.Name(backReason)}): {Where()}");
                AssertEqualUpToOnesComplementZero(original.AsSpan(0, length), copy, Where);
                roundTrips++;
            }
        }

        output.WriteLine($"{iterations:N0} inputs (seed {seed}), {roundTrips:N0} round trips checked");
        for (int r = 0; r < outcomes.Length; r++)
        {
            output.WriteLine($"  {DropReasons.Name((DropReason)r),-22} {outcomes[r]:N0}");
        }
        // The mutator must reach every verdict the translator has, or it is not exploring.
        Assert.All(new[] { DropReason.None, DropReason.NotIpv4, DropReason.Malformed, DropReason.BadIpChecksum, DropReason.NoBinding, DropReason.IcmpInnerMismatch },
            r => Assert.True(outcomes[(int)r] > 0, $"no input ended as {DropReasons.Name(r)}"));
    }

    private static long TotalDrops(TrafficCounters counters) => DropReasons.All.Sum(counters.DropPacketCount);

    /// <summary>Applies 1–4 mutations in place; returns the wire length to present.</summary>
    private static int Mutate(Random random, byte[] frame, ref int length)
    {
        int wireLength = length;
        int mutations = random.Next(1, 5);
        for (int m = 0; m < mutations; m++)
        {
            int ip = IpOffsetGuess(frame, length);
            switch (random.Next(10))
            {
                case 0:
                case 1:
                    frame[random.Next(length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 2:
                    frame[random.Next(length)] = s_interesting[random.Next(s_interesting.Length)];
                    break;
                case 3:
                    // Snap-length cut: fewer bytes captured than were on the wire.
                    int cut = random.Next(0, length + 1);
                    wireLength = Math.Max(wireLength, length);
                    length = cut;
                    break;
                case 4:
                    wireLength = length + random.Next(0, 64);
                    break;
                case 5:
                    if (ip + 20 <= length)
                    {
                        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(ip + (random.Next(2) == 0 ? 12 : 16)), s_addresses[random.Next(s_addresses.Length)]);
                    }
                    break;
                case 6:
                    if (ip + 4 <= length)
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(ip + 2), (ushort)random.Next(0, length - ip + 24));
                    }
                    break;
                case 7:
                    // Mutate inside the transport or quoted header, where the interesting fields are.
                    if (ip + 28 < length)
                    {
                        int at = random.Next(ip + 20, length);
                        frame[at] = random.Next(2) == 0 ? s_interesting[random.Next(s_interesting.Length)] : (byte)random.Next(256);
                    }
                    break;
                default:
                    break;
            }
            // Most of the time repair the IPv4 header checksum so the mutant reaches the deeper checks.
            if (random.Next(4) != 0)
            {
                RepairIpChecksum(frame, length, IpOffsetGuess(frame, length));
            }
        }
        wireLength = Math.Max(wireLength, length);
        if (random.Next(200) == 0)
        {
            wireLength = random.Next(0, length + 1); // a lying caller: must still be safe
        }
        return wireLength;
    }

    private static int IpOffsetGuess(byte[] frame, int length)
    {
        int at = 12;
        for (int tags = 0; tags < 4 && at + 2 <= length; tags++)
        {
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(at));
            if (type is not (0x8100 or 0x88A8 or 0x9100))
            {
                break;
            }
            at += 4;
        }
        return at + 2;
    }

    private static int IpOffset(ReadOnlySpan<byte> frame)
    {
        int at = 12;
        while (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(at)) is 0x8100 or 0x88A8 or 0x9100)
        {
            at += 4;
        }
        return at + 2;
    }

    private static void RepairIpChecksum(byte[] frame, int length, int ip)
    {
        if (ip + 20 > length)
        {
            return;
        }
        int headerLength = (frame[ip] & 0x0F) * 4;
        if (headerLength < 20 || ip + headerLength > length)
        {
            return;
        }
        frame[ip + 10] = 0;
        frame[ip + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(ip + 10), OnesComplement.Checksum(frame.AsSpan(ip, headerLength)));
    }

    /// <summary>
    /// The inverse table undoes exactly the rewrites the forward table made, unless an address the forward
    /// pass left alone happens to be a key of the inverse table (e.g. an internet source that is also a bound
    /// public address): then the inverse pass rightly rewrites more, and no byte-for-byte identity is owed.
    /// </summary>
    private static bool IsReversible(ReadOnlySpan<byte> original, int ip)
    {
        uint src = BinaryPrimitives.ReadUInt32BigEndian(original.Slice(ip + 12));
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(original.Slice(ip + 16));
        bool snat = src is SeedFrames.PrivateA or SeedFrames.PrivateB;
        bool dnat = dst is SeedFrames.PublicA or SeedFrames.PublicB;
        return (snat || src is not (SeedFrames.PublicA or SeedFrames.PublicB))
            && (dnat || dst is not (SeedFrames.PrivateA or SeedFrames.PrivateB));
    }

    private static void AssertEqualUpToOnesComplementZero(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, Func<string> where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] == actual[i])
            {
                continue;
            }
            // Every checksum field sits at an even offset (the IPv4 header starts at 14 + 4k).
            int word = i & ~1;
            Assert.True(word + 1 < expected.Length, $"round trip changed byte {i}: {where()}");
            ushort a = BinaryPrimitives.ReadUInt16BigEndian(expected.Slice(word));
            ushort b = BinaryPrimitives.ReadUInt16BigEndian(actual.Slice(word));
            Assert.True((a, b) is (0x0000, 0xFFFF) or (0xFFFF, 0x0000), $"round trip changed byte {i} ({a:X4} -> {b:X4}): {where()}");
        }
    }

    private static string Describe(ReadOnlySpan<byte> frame, int wireLength, int seed, long iteration) =>
        $"seed {seed} iteration {iteration}, wire length {wireLength}, frame [{frame.Length}] {Convert.ToHexString(frame)}";
}
