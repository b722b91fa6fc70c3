using System.Runtime.CompilerServices;
using Gateway.DataPlane.Counters;
using Gateway.Io.Ports;
using Gateway.Packets;

namespace Gateway.Io.L2;

/// <summary>
/// The gateway's presence on one port's Ethernet segment: its MAC there, which IPv4 addresses it answers ARP
/// for, its neighbour cache, and delivery of frames to a next hop.
/// </summary>
/// <remarks>
/// Shared by every worker: frames go out through the calling worker's <see cref="PortTransmitter"/> (its queue of the
/// port), ARP through <see cref="IFramePort.SendControl"/> (any thread).
/// </remarks>
internal sealed class PortSegment : IArpRequester
{
    private readonly Predicate<uint> _answersFor;
    private readonly Predicate<uint> _onLink;
    private readonly L2Statistics _stats;

    /// <param name="port">Where frames go.</param>
    /// <param name="mac">The gateway's own MAC on this segment: the source of every frame it sends there.</param>
    /// <param name="answersFor">The addresses the gateway owns on the segment (asked per ARP request, so it follows the binding table).</param>
    /// <param name="onLink">The addresses neighbours may have on the segment; ARP from elsewhere is not learned.</param>
    public PortSegment(IFramePort port, MacAddress mac, Predicate<uint> answersFor, Predicate<uint> onLink, NeighbourCacheOptions options)
    {
        Port = port;
        Mac = mac;
        _answersFor = answersFor;
        _onLink = onLink;
        _stats = new L2Statistics(port.Name, mac, port as IBatchSendFailures);
        Neighbours = new NeighbourCache(options, this, port.MaxFrameLength);
    }

    public IFramePort Port { get; }

    public MacAddress Mac { get; }

    public NeighbourCache Neighbours { get; }

    public L2Statistics Statistics => _stats;

    /// <summary>
    /// An ARP packet arrived on the segment (RFC 826 "packet reception"): learn the sender when the packet is
    /// aimed at us or updates an entry we hold, and answer requests for addresses we own.
    /// </summary>
    /// <param name="pending">The receiving worker's transmitter on this segment: frames that waited for the sender leave through it.</param>
    public void HandleArp(in ArpMessage message, long now, PortTransmitter pending)
    {
        // A probe (sender 0.0.0.0) asks without claiming anything: answer it, learn nothing (RFC 5227 §2.1.1).
        bool ours = _answersFor(message.TargetIp);
        if (!message.IsProbe && _onLink(message.SenderIp) && !message.SenderMac.IsGroup)
        {
            Neighbours.Learn(message.SenderIp, message.SenderMac, create: ours && message.IsRequest, now, pending);
        }
        if (message.IsRequest && ours && message.SenderIp != message.TargetIp)
        {
            Span<byte> frame = stackalloc byte[Arp.MinimumFrameLength];
            Arp.WriteReply(frame, Mac, message.TargetIp, message);
            Count(Port.SendControl(frame), ref _stats.RepliesSent);
        }
        else if (message.IsRequest)
        {
            Interlocked.Increment(ref _stats.RequestsIgnored);
        }
    }

    /// <summary>
    /// Sends a translated frame to <paramref name="nextHop"/>: destination MAC from the neighbour cache, source MAC
    /// ours, out through <paramref name="tx"/>. An unresolved next hop holds the frame (with its offload metadata) and
    /// asks for it with an ARP request from <paramref name="arpSenderIp"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Deliver(Span<byte> frame, in VirtioNetHeader offload, int wireLength, uint nextHop, uint arpSenderIp, long now, TrafficCounters counters, PortTransmitter tx)
    {
        if (!Neighbours.TryGetFresh(nextHop, now, arpSenderIp, out MacAddress destination))
        {
            if (Neighbours.Enqueue(frame, offload, wireLength, nextHop, arpSenderIp, now, counters) is not { } resolved)
            {
                return; // held until the answer comes (or dropped and counted)
            }
            destination = resolved;
        }
        destination.Write(frame.Slice(Ethernet.DestinationOffset));
        Mac.Write(frame.Slice(Ethernet.SourceOffset));
        tx.Transmit(frame, offload);
    }

    /// <summary>A frame the port refused (link down, device gone).</summary>
    public void SendFailed() => Interlocked.Increment(ref _stats.SendErrors);

    public void SendRequest(uint senderIp, uint targetIp)
    {
        Span<byte> frame = stackalloc byte[Arp.MinimumFrameLength];
        Arp.WriteRequest(frame, Mac, senderIp, targetIp);
        Count(Port.SendControl(frame), ref _stats.RequestsSent);
    }

    /// <summary>A gratuitous ARP for <paramref name="ip"/> at our MAC (RFC 5227 §3).</summary>
    public void Announce(uint ip)
    {
        Span<byte> frame = stackalloc byte[Arp.MinimumFrameLength];
        Arp.WriteAnnouncement(frame, Mac, ip);
        Count(Port.SendControl(frame), ref _stats.AnnouncementsSent);
    }

    /// <summary>A frame on the segment that was not for us (unicast to another MAC, or a group frame other than ARP).</summary>
    public void Ignored() => Interlocked.Increment(ref _stats.FramesIgnored);

    private void Count(bool sent, ref long counter)
    {
        if (sent)
        {
            Interlocked.Increment(ref counter);
        }
        else
        {
            Interlocked.Increment(ref _stats.SendErrors);
        }
    }
}

/// <summary>What the gateway did on one segment at L2 (ARP and frames that were not its to translate).</summary>
/// <remarks>Rare events from several threads: interlocked increments, read with volatile loads.</remarks>
public sealed class L2Statistics
{
    internal long RepliesSent;
    internal long RequestsSent;
    internal long RequestsIgnored;
    internal long AnnouncementsSent;
    internal long FramesIgnored;
    internal long SendErrors;
    private readonly IBatchSendFailures? _batchFailures;

    internal L2Statistics(string port, MacAddress mac, IBatchSendFailures? batchFailures = null)
    {
        Port = port;
        Mac = mac;
        _batchFailures = batchFailures;
    }

    /// <summary>The port's interface name.</summary>
    public string Port { get; }

    /// <summary>The gateway's MAC on the segment.</summary>
    public MacAddress Mac { get; }

    /// <summary>ARP replies sent for addresses the gateway owns on the segment.</summary>
    public long ArpRepliesSent => Volatile.Read(ref RepliesSent);

    /// <summary>ARP requests sent to resolve next hops (first tries, retries and refreshes).</summary>
    public long ArpRequestsSent => Volatile.Read(ref RequestsSent);

    /// <summary>ARP requests seen for addresses the gateway does not own there (unbound public IPs, other hosts).</summary>
    public long ArpRequestsIgnored => Volatile.Read(ref RequestsIgnored);

    /// <summary>Gratuitous ARPs sent (a public IP became bound).</summary>
    public long GratuitousArpsSent => Volatile.Read(ref AnnouncementsSent);

    /// <summary>Frames not for the gateway: unicast to another MAC, broadcast or multicast other than ARP.</summary>
    public long FramesNotForUs => Volatile.Read(ref FramesIgnored);

    /// <summary>Frames the port refused to send (link down, device gone), at once or when its batch was flushed.</summary>
    public long SendFailures => Volatile.Read(ref SendErrors) + (_batchFailures?.SendFailures ?? 0);
}
