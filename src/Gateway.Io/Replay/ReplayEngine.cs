using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Policing;
using Gateway.DataPlane.Translation;
using Gateway.Io.Pcap;
using Gateway.Packets;

namespace Gateway.Io.Replay;

/// <summary>What a replay did.</summary>
public sealed class ReplayResult
{
    public required CounterSnapshot Counters { get; init; }
    public required CaptureReadResult Read { get; init; }
    /// <summary>Sum of the original (wire) lengths of the frames read and of the frames written.</summary>
    public required long BytesIn { get; init; }
    public required long BytesOut { get; init; }
    public required int EventsApplied { get; init; }
    public required int EventsTotal { get; init; }
    public required TimeSpan Elapsed { get; init; }
    /// <summary>What each capped binding carried and dropped, by public address, at the end (empty when nothing was capped).</summary>
    public IReadOnlyList<(uint PublicIp, BindingMeter Meter)> Meters { get; init; } = [];
}

/// <summary>
/// Replays a capture through the translator: each frame is translated in place (direction inferred per frame,
/// <see cref="TranslateMode.Infer"/>) and written out when forwarded; binding events are applied through the
/// table when the capture time reaches them.
/// </summary>
/// <remarks>
/// When any binding or event carries a bandwidth cap, the policer runs on the capture's timestamps (nanoseconds since
/// the first frame), not on the wall clock: the same input always gives the same output and the same drops.
/// </remarks>
public sealed class ReplayEngine
{
    private readonly Translator _translator;
    private readonly BindingTable _table;
    private readonly TrafficCounters _counters;
    private readonly CaptureWriter _writer;
    private readonly string _source;
    private readonly IReadOnlyList<BindingEvent> _events;
    private readonly Policer? _policer;
    private readonly PolicerLane? _lane;
    private long _firstFrameNanoseconds = long.MinValue;
    /// <summary>The reader of the current run: its format names a frame's place in messages ("record" or "block").</summary>
    private CaptureReader? _reader;
    private int _nextEvent;
    /// <summary>Capture time (ns) of the next event; long.MaxValue when none is left, so the per-frame test is one compare.</summary>
    private long _nextEventAt = long.MaxValue;
    private long _bytesIn;
    private long _bytesOut;

    public ReplayEngine(IReadOnlyList<Binding> bindings, IReadOnlyList<BindingEvent> events, CaptureWriter writer, string source)
        : this([.. (bindings ?? throw new ArgumentNullException(nameof(bindings))).Select(b => new ReplayBinding(b.PublicAddress, b.PrivateAddress, BandwidthCaps.Unlimited))], events, writer, source)
    {
    }

    public ReplayEngine(IReadOnlyList<ReplayBinding> bindings, IReadOnlyList<BindingEvent> events, CaptureWriter writer, string source)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(writer);
        _table = new BindingTable(Math.Max(1024, bindings.Count + events.Count));
        bool capped = bindings.Any(b => !b.Caps.IsUnlimited) || events.Any(e => !e.Caps.IsUnlimited);
        if (capped)
        {
            _policer = new Policer(_table.IdLimit + bindings.Count + events.Count + 64);
            _lane = _policer.CreateLane();
        }
        foreach (var binding in bindings)
        {
            int id = _table.Bind(binding.PublicIp, binding.PrivateIp);
            _policer?.SetCaps(id, binding.Caps);
        }
        _translator = new Translator(_table);
        _counters = new TrafficCounters(_table.IdLimit + events.Count + 64);
        _writer = writer;
        _source = source;
        _events = events;
        if (events.Count > 0)
        {
            _nextEventAt = events[0].AtNanoseconds;
        }
    }

    public BindingTable Table => _table;

    /// <summary>Reads <paramref name="input"/> to its end, writing forwarded frames; the caller completes the writer.</summary>
    public async Task<ReplayResult> RunAsync(Stream input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var stopwatch = Stopwatch.StartNew();
        var reader = new CaptureReader(CaptureReader.CreatePipe(input, leaveOpen: true), _source);
        _reader = reader;
        CaptureReadResult read = await reader.ReadAllAsync(new Handler(this), cancellationToken).ConfigureAwait(false);
        stopwatch.Stop();
        return new ReplayResult
        {
            Meters = Meters(),
            Counters = CounterSnapshot.Of(_counters),
            Read = read,
            BytesIn = _bytesIn,
            BytesOut = _bytesOut,
            EventsApplied = _nextEvent,
            EventsTotal = _events.Count,
            Elapsed = stopwatch.Elapsed,
        };
    }

    private List<(uint, BindingMeter)> Meters()
    {
        var result = new List<(uint, BindingMeter)>();
        if (_policer is null)
        {
            return result;
        }
        foreach (var binding in _table.Snapshot().OrderBy(b => b.PublicAddress))
        {
            if (_table.TryGetPrivate(binding.PublicAddress, out _, out int id))
            {
                result.Add((binding.PublicAddress, _policer.MeterOf(id)));
            }
        }
        return result;
    }

    /// <summary>The reader's callback, a struct so the reader's loop is specialised for replay.</summary>
    private readonly struct Handler(ReplayEngine engine) : ICaptureHandler
    {
        public void OnInterface(CaptureInterface captureInterface) => engine._writer.AddInterface(captureInterface);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void OnFrame(in CaptureFrame frame, Span<byte> data) => engine.OnFrame(frame, data);

        public ValueTask OnBatchCompletedAsync(CancellationToken cancellationToken) => engine._writer.FlushIfNeededAsync(cancellationToken);
    }

    private void OnFrame(in CaptureFrame frame, Span<byte> data)
    {
        CaptureInterface captureInterface = frame.Interface;
        if (_nextEventAt != long.MaxValue)
        {
            ApplyDueEvents(captureInterface.ToNanoseconds(frame.Timestamp));
        }
        if (_lane is not null)
        {
            SetPolicerClock(captureInterface.ToNanoseconds(frame.Timestamp));
        }
        PolicerLane? lane = _lane;

        // Lengths are judged against the wire length, never less than what was captured.
        int wireLength = Math.Max(frame.OriginalLength, data.Length);
        DropReason verdict;
        switch (captureInterface.LinkType)
        {
            case (int)LinkType.Ethernet:
                verdict = _translator.TranslateEthernet(data, wireLength, _counters, TranslateMode.Infer, lane);
                break;
            case (int)LinkType.Ipv4:
                verdict = _translator.TranslateIpv4(data, wireLength, _counters, TranslateMode.Infer, lane);
                break;
            case (int)LinkType.Raw:
                // Raw IP may be IPv6 as well: the version nibble tells.
                verdict = data.Length > 0 && (data[0] >> 4) == 6
                    ? NotIpv4(wireLength)
                    : _translator.TranslateIpv4(data, wireLength, _counters, TranslateMode.Infer, lane);
                break;
            case (int)LinkType.LinuxSll:
                verdict = TranslateCooked(data, wireLength, LinkTypes.SllHeaderLength, LinkTypes.SllProtocolOffset);
                break;
            case (int)LinkType.LinuxSll2:
                verdict = TranslateCooked(data, wireLength, LinkTypes.Sll2HeaderLength, LinkTypes.Sll2ProtocolOffset);
                break;
            default:
                ThrowUnsupportedLinkType(frame);
                return;
        }

        _bytesIn += wireLength;
        if (verdict == DropReason.None)
        {
            _bytesOut += wireLength;
            _writer.WriteFrame(frame, data);
        }
    }

    /// <summary>Linux cooked captures: a pseudo-header naming the protocol by EtherType, then the packet.</summary>
    private DropReason TranslateCooked(Span<byte> data, int wireLength, int headerLength, int protocolOffset)
    {
        if (data.Length < headerLength)
        {
            _counters.Received(wireLength);
            _counters.Dropped(DropReason.Malformed, wireLength);
            return DropReason.Malformed;
        }
        if (BinaryPrimitives.ReadUInt16BigEndian(data.Slice(protocolOffset)) != Ethernet.TypeIpv4)
        {
            return NotIpv4(wireLength);
        }
        return _translator.TranslateIpv4(data.Slice(headerLength), wireLength - headerLength, _counters, TranslateMode.Infer, _lane);
    }

    private DropReason NotIpv4(int wireLength)
    {
        _counters.Received(wireLength);
        _counters.Dropped(DropReason.NotIpv4, wireLength);
        return DropReason.NotIpv4;
    }

    /// <summary>
    /// The policer's clock is the capture's: ticks since the first frame, plus one bucket depth so that every bucket
    /// starts full. A frame stamped earlier than one before it (captures are not always in order) is judged at its
    /// own time; the arithmetic handles time going back (it only refuses more).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetPolicerClock(long frameNanoseconds)
    {
        if (_firstFrameNanoseconds == long.MinValue)
        {
            _firstFrameNanoseconds = frameNanoseconds;
        }
        _lane!.Now = Policer.TicksFromNanoseconds(frameNanoseconds - _firstFrameNanoseconds) + Policer.DepthTicks;
    }

    /// <summary>Applies every event whose time has come: an event at time t acts on frames captured at t or later.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ApplyDueEvents(long frameTime)
    {
        while (_nextEventAt <= frameTime)
        {
            _events[_nextEvent].ApplyTo(_table, _policer);
            _nextEvent++;
            _nextEventAt = _nextEvent < _events.Count ? _events[_nextEvent].AtNanoseconds : long.MaxValue;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowUnsupportedLinkType(in CaptureFrame frame) =>
        throw new CaptureFormatException(string.Create(CultureInfo.InvariantCulture,
            $"{_source}: {(_reader?.Format == CaptureFileFormat.Pcapng ? "block" : "record")} {frame.RecordNumber} at byte offset {frame.Offset}: link type {LinkTypes.Describe(frame.Interface.LinkType)} is not supported; replay handles {LinkTypes.SupportedList}. Convert the capture first (e.g. re-capture with tcpdump -i <interface> on an Ethernet interface)."),
            frame.RecordNumber, frame.Offset);
}
