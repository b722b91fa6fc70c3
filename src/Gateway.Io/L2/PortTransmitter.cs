using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Gateway.DataPlane.Offload;
using Gateway.DataPlane.Translation;
using Gateway.Io.Ports;
using Gateway.Packets;

namespace Gateway.Io.L2;

/// <summary>
/// One worker's way out onto one segment: its queue of the segment's port, and a scratch buffer for the frames a port
/// without offloads needs made whole first (GSO super-frames segmented, partial checksums finished).
/// </summary>
/// <remarks>Owned by one worker thread: no lock; the queue's own rules say what else may share it.</remarks>
internal sealed class PortTransmitter : IPendingFrameSender
{
    private readonly PortSegment _segment;
    private readonly IPortQueue _queue;
    private readonly bool _acceptsGso;
    private readonly byte[] _scratch;
    private readonly OffloadStatistics _statistics;

    public PortTransmitter(PortSegment segment, IPortQueue queue, OffloadStatistics statistics)
    {
        _segment = segment;
        _queue = queue;
        _acceptsGso = segment.Port.AcceptsGso;
        _scratch = _acceptsGso ? [] : GC.AllocateUninitializedArray<byte>(segment.Port.MaxFrameLength);
        _statistics = statistics;
    }

    public IPortQueue Queue => _queue;

    /// <summary>Sends a frame whose MACs are written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Transmit(Span<byte> frame, in VirtioNetHeader offload)
    {
        if (_acceptsGso || offload.IsPlain)
        {
            if (!_queue.Send(frame, offload))
            {
                _segment.SendFailed();
            }
            return;
        }
        TransmitWhole(frame, offload);
    }

    /// <summary>The slow path for a port without offloads: segment a super-frame, or finish a partial checksum.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TransmitWhole(Span<byte> frame, in VirtioNetHeader offload)
    {
        if (offload.IsGso)
        {
            var kind = offload.GsoKind == VirtioNetHeader.GsoUdpL4 ? GsoKind.Udp : GsoKind.Tcp;
            if (Segmenter.TryParse(frame, kind, offload.GsoSize, out GsoLayout layout) != DropReason.None)
            {
                _segment.SendFailed(); // checked on arrival (OffloadCheck): cannot happen for a frame the data path let through
                return;
            }
            int count = layout.SegmentCount;
            for (int i = 0; i < count; i++)
            {
                int length = Segmenter.WriteSegment(frame, layout, i, _scratch);
                if (!_queue.Send(_scratch.AsSpan(0, length), VirtioNetHeader.None))
                {
                    _segment.SendFailed();
                }
            }
            _statistics.SoftwareSegmented(count);
            return;
        }
        // NEEDS_CSUM alone (checked on arrival: the range lies within the frame).
        int l3 = Translator.FindIpv4(frame, out DropReason reason);
        int end = frame.Length;
        if (reason == DropReason.None && l3 + Ipv4.MinHeaderLength <= frame.Length)
        {
            end = Math.Min(end, l3 + BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 + Ipv4.TotalLengthOffset)));
        }
        if (offload.ChecksumStart + offload.ChecksumOffset + 2 <= end)
        {
            Segmenter.FinishPartialChecksum(frame, offload.ChecksumStart, offload.ChecksumOffset, end);
        }
        _statistics.ChecksumFinished();
        if (!_queue.Send(frame, VirtioNetHeader.None))
        {
            _segment.SendFailed();
        }
    }

    /// <summary>A frame held for ARP leaves once its neighbour answered (on the worker that received the answer).</summary>
    public void SendPending(Span<byte> frame, in VirtioNetHeader offload, MacAddress destination)
    {
        destination.Write(frame.Slice(Ethernet.DestinationOffset));
        _segment.Mac.Write(frame.Slice(Ethernet.SourceOffset));
        Transmit(frame, offload);
    }
}

/// <summary>
/// What one worker did with offloads: GSO super-frames received (and the segments they stand for), super-frames cut in
/// software for a port without offloads, partial checksums finished in software. Written by its worker only (plain
/// increments), read by anyone (64-bit loads are atomic).
/// </summary>
public sealed class OffloadStatistics
{
    private long _gsoFrames;
    private long _gsoSegments;
    private long _softwareSegmented;
    private long _softwareSegments;
    private long _checksumsFinished;

    /// <summary>GSO super-frames received.</summary>
    public long GsoFrames => Volatile.Read(ref _gsoFrames);

    /// <summary>The wire segments those super-frames stand for (payload / gso_size, rounded up).</summary>
    public long GsoSegments => Volatile.Read(ref _gsoSegments);

    /// <summary>Super-frames the data path segmented itself (the port they left by takes no GSO).</summary>
    public long SoftwareSegmentedFrames => Volatile.Read(ref _softwareSegmented);

    /// <summary>Segments those became.</summary>
    public long SoftwareSegments => Volatile.Read(ref _softwareSegments);

    /// <summary>Partial checksums the data path finished itself.</summary>
    public long ChecksumsFinished => Volatile.Read(ref _checksumsFinished);

    internal void GsoReceived(int segments)
    {
        _gsoFrames++;
        _gsoSegments += segments;
    }

    internal void SoftwareSegmented(int segments)
    {
        _softwareSegmented++;
        _softwareSegments += segments;
    }

    internal void ChecksumFinished() => _checksumsFinished++;
}
