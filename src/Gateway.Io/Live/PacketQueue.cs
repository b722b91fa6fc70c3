using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Io.Ports;
using static Gateway.Io.Live.PacketNative;

namespace Gateway.Io.Live;

/// <summary>
/// One queue of a <see cref="PacketPort"/>: an AF_PACKET socket with a TPACKET_V2 receive ring shared with the kernel
/// (mmap), a member of the port's fanout group, and a transmit batch pushed out with one <c>sendmmsg(2)</c>.
/// </summary>
/// <remarks>
/// <para><b>Receive ring.</b> <c>Ring</c> holds <c>FrameCount</c> slots of <c>FrameSize</c> bytes. The kernel fills a slot in
/// <c>tpacket_rcv</c> (net/packet/af_packet.c), in the softirq of whichever CPU delivered the frame, and hands it over by
/// setting <c>tp_status</c> to <c>TP_STATUS_USER</c> after the data (under the receive queue lock, then
/// <c>sk_data_ready</c>: poll(2) wakes per frame). This queue reads slots in order from <c>_head</c> while their status
/// says USER (an acquire read: the frame bytes written before it are visible), copies the frame out, and gives the slot
/// back with a release write of <c>TP_STATUS_KERNEL</c>. A full ring makes the kernel drop (counted in
/// <c>PACKET_STATISTICS</c>.tp_drops, read by <see cref="ReadKernelDrops"/>). One thread (the worker owning the queue)
/// receives; nothing else touches <c>_head</c>.</para>
/// <para>Slot layout (TPACKET_V2 with <c>PACKET_VNET_HDR</c>): <c>struct tpacket2_hdr</c> (32 bytes), <c>struct
/// sockaddr_ll</c>, padding, the 10-byte <c>virtio_net_hdr</c> ending where the frame starts, at <c>tp_mac</c>
/// (76 for an Ethernet frame), then the frame. A GSO super-frame does not fit a 2 KiB slot: with
/// <c>PACKET_COPY_THRESH</c> set the kernel puts a cut copy in the slot, marks it <c>TP_STATUS_COPY</c> and queues the
/// whole frame on the socket, where <c>recvmsg(2)</c> takes it (with its own virtio_net_hdr in front) in the same
/// order. The kernel takes the VLAN tag out of the frame before packet sockets see it (<c>skb_vlan_untag</c> in
/// <c>__netif_receive_skb_core</c>) and reports it in the slot header; the tag is put back here, as libpcap does, so
/// the translator sees the frame as it was on the wire.</para>
/// <para>Why V2 and not TPACKET_V3: a V3 ring hands over whole blocks, and a block is handed over when it is full or
/// when its retire timer (<c>tp_retire_blk_tov</c>, milliseconds) expires: <c>tpacket_rcv</c> calls
/// <c>sk_data_ready</c> only for V1/V2 frames, and <c>packet_poll</c> reports a V3 ring readable only once a block is
/// retired. At low rates every frame would wait up to the timer (a ping through the gateway would take milliseconds
/// instead of tens of microseconds); Open vSwitch's userspace datapath dropped V3 for this reason. V2 wakes per frame
/// and, with <c>PACKET_VNET_HDR</c>, carries the same virtio_net_hdr per frame as V3 does.</para>
/// <para><b>Transmit.</b> <see cref="Send"/> copies the frame, its virtio_net_hdr in front (the socket has
/// <c>PACKET_VNET_HDR</c>, so <c>packet_snd</c> reads one before every frame and builds the GSO skb from it), into a
/// native arena and queues one <c>struct mmsghdr</c>; <see cref="Flush"/> sends the batch with one <c>sendmmsg</c>.
/// Frames take the device's normal transmit path (<c>dev_queue_xmit</c>; a veth has no qdisc), so a super-frame the
/// device cannot take whole is segmented by the kernel there (see <see cref="PacketPort.Open"/> on qdisc bypass).
/// A frame the kernel refuses (a virtio_net_hdr it rejects, a link that went down, a device drop) is skipped and
/// counted in <see cref="SendFailures"/>; the rest of the batch still goes. Why not a TPACKET tx ring: its slots are
/// fixed-size (a GSO super-frame needs a 64 KiB slot), and a slot stays the kernel's until the skb built on its pages
/// is freed, which on a veth is when a socket in the peer namespace has read it.</para>
/// </remarks>
internal sealed unsafe class PacketQueue : IPortQueue, IDisposable
{
    /// <summary>Transmit messages per <c>sendmmsg</c>: a worker batch (32) with room for what a batch can turn into.</summary>
    internal const int TransmitCapacity = 256;

    private int _fd;
    private readonly byte* _ring;
    private readonly nuint _ringBytes;
    private readonly int _frameSize;
    private readonly int _frameCount;
    private int _head;

    private readonly MMsgHdr* _messages;
    private readonly IoVec* _iovecs;
    private readonly byte* _arena;
    private readonly int _arenaBytes;
    private int _pending;
    private int _arenaUsed;

    private long _sendFailures;
    private long _cutFrames;
    private long _kernelDrops;

    internal PacketQueue(int fd, byte* ring, nuint ringBytes, int frameSize, int frameCount, int maxFrameLength)
    {
        _fd = fd;
        _ring = ring;
        _ringBytes = ringBytes;
        _frameSize = frameSize;
        _frameCount = frameCount;
        // The arena takes at least one frame of the largest size, with its header, at any time.
        _arenaBytes = Math.Max(1 << 20, 2 * (maxFrameLength + 64));
        _arena = (byte*)NativeMemory.AlignedAlloc((nuint)_arenaBytes, 64);
        _messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(TransmitCapacity * sizeof(MMsgHdr)));
        _iovecs = (IoVec*)NativeMemory.AllocZeroed((nuint)(TransmitCapacity * sizeof(IoVec)));
        for (int i = 0; i < TransmitCapacity; i++)
        {
            _messages[i].Header.Iov = &_iovecs[i];
            _messages[i].Header.IovLength = 1;
        }
    }

    /// <summary>The socket: poll(2) reports POLLIN when a slot is the user's or a cut frame's whole copy waits. -1 once closed.</summary>
    public int PollDescriptor => Volatile.Read(ref _fd);

    /// <summary>Frames the kernel refused at <see cref="Flush"/>, or could not take because its buffers were full.</summary>
    public long SendFailures => Volatile.Read(ref _sendFailures);

    /// <summary>Frames that arrived cut (longer than a slot, and no room left to queue their whole copy): dropped here.</summary>
    public long CutFrames => Volatile.Read(ref _cutFrames);

    /// <summary>
    /// Takes as many frames as are ready, up to the batch's capacity, each with its virtio_net_hdr; never waits.
    /// </summary>
    public int Receive(FrameBatch batch)
    {
        int count = 0;
        int capacity = batch.Capacity;
        byte* ring = _ring;
        if (Volatile.Read(ref _fd) < 0)
        {
            return 0;
        }
        while (count < capacity)
        {
            var header = (Tpacket2Header*)(ring + (nint)_head * _frameSize);
            // Acquire: pairs with the kernel's smp_wmb/unlock before it sets TP_STATUS_USER, so the frame is visible.
            uint status = Volatile.Read(ref header->Status);
            if ((status & TpStatusUser) == 0)
            {
                break;
            }
            if (Take(header, status, batch, count))
            {
                count++;
            }
            // Release: the frame has been copied out before the kernel may write the slot again.
            Volatile.Write(ref header->Status, TpStatusKernel);
            _head = _head + 1 == _frameCount ? 0 : _head + 1;
        }
        return count;
    }

    /// <summary>Copies the slot's frame (and its virtio_net_hdr) into batch slot <paramref name="index"/>; false when it is dropped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Take(Tpacket2Header* header, uint status, FrameBatch batch, int index)
    {
        if ((status & TpStatusCopy) != 0)
        {
            return TakeCopied(header, status, batch, index);
        }
        int length = (int)header->Length;
        int captured = (int)header->SnapLength;
        byte* frame = (byte*)header + header->Mac;
        Span<byte> slot = batch.Slot(index);
        bool tagged = (status & TpStatusVlanValid) != 0;
        if (captured < length || captured + (tagged ? 4 : 0) > slot.Length)
        {
            Interlocked.Increment(ref _cutFrames);
            return false;
        }
        ref VirtioNetHeader offload = ref batch.Offload(index);
        offload = VirtioNetHeader.Read(new ReadOnlySpan<byte>(frame - VirtioNetHeader.Size, VirtioNetHeader.Size));
        if (!tagged)
        {
            new ReadOnlySpan<byte>(frame, captured).CopyTo(slot);
            batch.SetLength(index, captured, captured);
            return true;
        }
        return TakeTagged(header, status, frame, captured, slot, ref offload, batch, index);
    }

    /// <summary>A frame whose outer VLAN tag the kernel moved into the slot header: puts the tag back after the MACs.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TakeTagged(Tpacket2Header* header, uint status, byte* frame, int captured, Span<byte> slot, ref VirtioNetHeader offload, FrameBatch batch, int index)
    {
        if (captured < 12)
        {
            return false;
        }
        new ReadOnlySpan<byte>(frame, 12).CopyTo(slot);
        ushort tpid = (status & TpStatusVlanTpidValid) != 0 && header->VlanTpid != 0 ? header->VlanTpid : (ushort)0x8100;
        slot[12] = (byte)(tpid >> 8);
        slot[13] = (byte)tpid;
        slot[14] = (byte)(header->VlanTci >> 8);
        slot[15] = (byte)header->VlanTci;
        new ReadOnlySpan<byte>(frame + 12, captured - 12).CopyTo(slot.Slice(16));
        ShiftOffsets(ref offload);
        batch.SetLength(index, captured + 4, captured + 4);
        return true;
    }

    /// <summary>The kernel's virtio_net_hdr offsets count from the untagged frame; the tag put back moves them by 4.</summary>
    private static void ShiftOffsets(ref VirtioNetHeader offload)
    {
        if (offload.NeedsChecksum)
        {
            offload.ChecksumStart += 4;
        }
        if (offload.HeaderLength != 0)
        {
            offload.HeaderLength += 4;
        }
    }

    /// <summary>
    /// A frame too long for a slot (a GSO super-frame): its whole copy waits on the socket's receive queue, in slot order
    /// (only cut frames are queued there), with a virtio_net_hdr in front.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TakeCopied(Tpacket2Header* header, uint status, FrameBatch batch, int index)
    {
        Span<byte> slot = batch.Slot(index);
        byte* vnet = stackalloc byte[VirtioNetHeader.Size];
        bool tagged = (status & TpStatusVlanValid) != 0;
        int reserve = tagged ? 4 : 0;
        nint received;
        int flags;
        fixed (byte* buffer = slot)
        {
            IoVec* iov = stackalloc IoVec[2];
            iov[0] = new IoVec { Base = vnet, Length = VirtioNetHeader.Size };
            iov[1] = new IoVec { Base = buffer + reserve, Length = (nuint)(slot.Length - reserve) };
            var message = new MsgHdr { Iov = iov, IovLength = 2 };
            received = RecvMsg(_fd, &message, MsgDontWait);
            flags = message.Flags;
        }
        if (received < VirtioNetHeader.Size || (flags & MsgTrunc) != 0)
        {
            Interlocked.Increment(ref _cutFrames);
            return false;
        }
        int length = (int)received - VirtioNetHeader.Size;
        ref VirtioNetHeader offload = ref batch.Offload(index);
        offload = VirtioNetHeader.Read(new ReadOnlySpan<byte>(vnet, VirtioNetHeader.Size));
        if (tagged)
        {
            if (length < 12)
            {
                return false;
            }
            slot.Slice(4, 12).CopyTo(slot); // the MACs move forward over the reserve; the tag goes behind them
            ushort tpid = (status & TpStatusVlanTpidValid) != 0 && header->VlanTpid != 0 ? header->VlanTpid : (ushort)0x8100;
            slot[12] = (byte)(tpid >> 8);
            slot[13] = (byte)tpid;
            slot[14] = (byte)(header->VlanTci >> 8);
            slot[15] = (byte)header->VlanTci;
            ShiftOffsets(ref offload);
            length += 4;
        }
        batch.SetLength(index, length, length);
        return true;
    }

    /// <summary>
    /// Queues one frame, with its offload metadata, for the next <see cref="Flush"/> (flushing first when the batch is
    /// full). False only when the queue is closed or the frame cannot be sent at all.
    /// </summary>
    public bool Send(ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
    {
        int needed = VirtioNetHeader.Size + frame.Length;
        if (_pending == TransmitCapacity || _arenaUsed + needed > _arenaBytes)
        {
            Flush();
        }
        if (needed > _arenaBytes || Volatile.Read(ref _fd) < 0)
        {
            Interlocked.Increment(ref _sendFailures);
            return false;
        }
        byte* start = _arena + _arenaUsed;
        offload.Write(new Span<byte>(start, VirtioNetHeader.Size));
        frame.CopyTo(new Span<byte>(start + VirtioNetHeader.Size, frame.Length));
        _iovecs[_pending] = new IoVec { Base = start, Length = (nuint)needed };
        _pending++;
        // Keep the next frame 16-byte aligned: memcpy into and out of it stays on the fast path.
        _arenaUsed += (needed + 15) & ~15;
        return true;
    }

    /// <summary>Sends what <see cref="Send"/> queued, with as few <c>sendmmsg</c> calls as the kernel allows (one, normally).</summary>
    public void Flush()
    {
        int pending = _pending;
        if (pending == 0)
        {
            return;
        }
        _pending = 0;
        _arenaUsed = 0;
        int fd = Volatile.Read(ref _fd);
        if (fd < 0)
        {
            Interlocked.Add(ref _sendFailures, pending);
            return;
        }
        int sent = 0;
        while (sent < pending)
        {
            int n = SendMMsg(fd, _messages + sent, (uint)(pending - sent), MsgDontWait);
            if (n > 0)
            {
                sent += n;
                continue;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Tap.LibC.EIntr)
            {
                continue;
            }
            if (errno == EAgain)
            {
                // The socket's send buffer is full (sock_alloc_send_pskb without waiting): what is left of the batch is
                // lost, as a NIC drops when its transmit ring is full; waiting here would stall this worker's receive side.
                Interlocked.Add(ref _sendFailures, pending - sent);
                return;
            }
            // The kernel refused the frame at 'sent': EINVAL for a virtio_net_hdr it rejects, EMSGSIZE, ENETDOWN, or
            // ENOBUFS when the device dropped it (net_xmit_errno of NET_XMIT_DROP). Skip it; the next may well go.
            Interlocked.Increment(ref _sendFailures);
            sent++;
        }
    }

    /// <summary>
    /// Adds what <c>PACKET_STATISTICS</c> reports (clear-on-read, so it is summed here) to the running total of frames the
    /// kernel dropped because this queue's ring was full. Off the frame path; callers serialise it (the port's lock).
    /// </summary>
    internal long ReadKernelDrops()
    {
        int fd = Volatile.Read(ref _fd);
        if (fd >= 0)
        {
            TpacketStats stats;
            uint length = (uint)sizeof(TpacketStats);
            if (GetSockOpt(fd, SolPacket, PacketStatistics, &stats, &length) == 0)
            {
                _kernelDrops += stats.Drops;
            }
        }
        return _kernelDrops;
    }

    /// <summary>Closes the socket and unmaps the ring. Call after the owning worker has stopped.</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0)
        {
            return;
        }
        Munmap((nint)_ring, _ringBytes);
        Tap.LibC.Close(fd);
        NativeMemory.AlignedFree(_arena);
        NativeMemory.Free(_messages);
        NativeMemory.Free(_iovecs);
    }
}
