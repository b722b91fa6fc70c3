using System.Runtime.InteropServices;
using System.Text;
using Gateway.Io.L2;
using Gateway.Io.Ports;
using static Gateway.Io.Live.PacketNative;

namespace Gateway.Io.Live;

/// <summary>
/// An existing interface (a veth end, a NIC) as a port through AF_PACKET sockets: one <see cref="PacketQueue"/> per
/// worker, each with a receive ring, in one <c>PACKET_FANOUT</c> group that spreads frames over them by flow.
/// </summary>
/// <remarks>
/// <para>As with the libpcap port (<see cref="LivePort"/>), the gateway uses a MAC of its own on the segment, not the
/// interface's: the interface is in promiscuous mode (<c>PACKET_MR_PROMISC</c>, held while the port is open), frames to
/// the gateway's MAC are received, and the kernel behind the interface sees them as addressed to another host and
/// never routes them. The interface should carry no IPv4 address.</para>
/// <para>Fanout (<c>PACKET_FANOUT_HASH</c>) picks a queue by <c>skb_get_hash_symmetric</c>: both directions of a flow,
/// and every fragment of a datagram (the flow dissector stops at the addresses of a fragment), land on one queue, so
/// order within a flow is kept. The group id is chosen by the kernel (<c>PACKET_FANOUT_FLAG_UNIQUEID</c>), so two
/// gateways, or two tests, never join each other's group. <c>PACKET_FANOUT_FLAG_IGNORE_OUTGOING</c> keeps frames
/// that other senders on this host put out of the interface (its stack's IPv6 router solicitations, a replay tool) out
/// of the rings, so they are never taken for arrivals. The gateway's own transmissions the kernel keeps from its own
/// sockets anyway (<c>skb_loop_sk</c> in <c>dev_queue_xmit_nit</c>, which knows fanout groups); tcpdump sees them.</para>
/// <para>Every socket has <c>PACKET_VNET_HDR</c>: frames arrive and leave with a <c>virtio_net_hdr</c>, so GSO
/// super-frames (a veth hands over up to 64 KiB at once from a local TCP sender) pass whole, and frames whose
/// checksum the sender left to "the hardware" (CHECKSUM_PARTIAL, the normal case on a veth) say so with
/// <c>NEEDS_CSUM</c> instead of arriving with an unfinished checksum. Hosts behind the interface need no
/// <c>ethtool -K … tx off</c>.</para>
/// <para>Threads: queue <c>i</c> belongs to worker <c>i</c> (receive, send, flush, no lock); <see cref="SendControl"/>
/// goes through a socket of its own and is safe from any thread; <see cref="KernelDrops"/> takes a lock (off the frame
/// path).</para>
/// </remarks>
internal sealed unsafe class PacketPort : IFramePort, IBatchSendFailures
{
    /// <summary>A GSO super-frame: 64 KiB of IP datagram plus Ethernet and VLAN headers.</summary>
    public const int DefaultMaxFrameLength = 65_536 + 64;

    /// <summary>
    /// Slots per queue's receive ring unless told otherwise: 4,096 (8 MiB of 2 KiB slots, ~4 ms of 64-byte frames at
    /// 1 Mpps) for up to 8 queues, then fewer, down to 1,024, so that a port keeps to about 64 MiB of unswappable ring
    /// memory on a machine with many cores (one queue per worker, one worker per core).
    /// </summary>
    public static int DefaultRingFrames(int queueCount) => Math.Clamp(32_768 / Math.Max(1, queueCount), 1024, 4096);

    /// <summary>Bytes the kernel may hold for one queue's cut frames (GSO super-frames) before it drops them.</summary>
    private const int ReceiveBufferBytes = 16 << 20;

    /// <summary>Bytes of frames sent but not yet freed by the kernel, per queue, before sends fail with EAGAIN.</summary>
    private const int SendBufferBytes = 8 << 20;

    private readonly PacketQueue[] _queues;
    private readonly Lock _statsLock = new();
    private int _controlFd;
    private int _disposed;

    private PacketPort(string name, int ifIndex, MacAddress interfaceMac, PacketQueue[] queues, int controlFd, int frameSize)
    {
        Name = name;
        IfIndex = ifIndex;
        InterfaceMac = interfaceMac;
        _queues = queues;
        _controlFd = controlFd;
        RingFrameSize = frameSize;
    }

    public string Name { get; }

    /// <summary>The interface's index in the network namespace the port was opened in.</summary>
    public int IfIndex { get; }

    /// <summary>The interface's own MAC (not the gateway's: see the remarks).</summary>
    public MacAddress InterfaceMac { get; }

    /// <summary>Bytes per receive ring slot (chosen from the interface's MTU).</summary>
    public int RingFrameSize { get; }

    public int QueueCount => _queues.Length;

    public int MaxFrameLength => DefaultMaxFrameLength;

    /// <summary>Frames go out with their virtio_net_hdr: GSO super-frames and partial checksums pass as they are.</summary>
    public bool AcceptsGso => true;

    public PacketQueue Queue(int index) => _queues[index];

    IPortQueue IFramePort.Queue(int index) => _queues[index];

    /// <summary>
    /// Opens interface <paramref name="name"/> with <paramref name="queueCount"/> queues (one per worker).
    /// </summary>
    /// <exception cref="IOException">The interface cannot be used; the message says what failed, why it usually happens and what to do.</exception>
    /// <param name="name">The interface, in the caller's network namespace.</param>
    /// <param name="queueCount">Queues (sockets with rings) in the fanout group: one per worker.</param>
    /// <param name="ringFrames">Slots per receive ring; 0: <see cref="DefaultRingFrames"/>.</param>
    /// <param name="qdiscBypass">
    /// <c>PACKET_QDISC_BYPASS</c>: send straight to the driver. Off by default, because <c>__dev_direct_xmit</c> drops a frame
    /// that <c>validate_xmit_skb</c> had to segment (a GSO super-frame to a device without that offload: a NIC without
    /// USO, a veth after <c>ethtool -K … tso off</c>); through the normal path the kernel segments it in software.
    /// Measured on the veth lab it saves 5–10 % of a worker's CPU at 64-byte frames (perf/README.md).
    /// </param>
    public static PacketPort Open(string name, int queueCount, int ringFrames = 0, bool qdiscBypass = false)
    {
        ValidateName(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(queueCount, 1024);
        ringFrames = ringFrames == 0 ? DefaultRingFrames(queueCount) : ringFrames;
        ArgumentOutOfRangeException.ThrowIfLessThan(ringFrames, 64);
        var (ifIndex, mac, mtu) = Describe(name);
        int frameSize = SlotSize(mtu);
        var queues = new List<PacketQueue>(queueCount);
        int controlFd = -1;
        try
        {
            int fanoutId = -1;
            for (int i = 0; i < queueCount; i++)
            {
                queues.Add(OpenQueue(name, ifIndex, frameSize, ringFrames, queueCount, qdiscBypass, ref fanoutId));
            }
            var membership = new PacketMreq { IfIndex = ifIndex, Type = PacketMrPromisc };
            if (SetSockOpt(queues[0].PollDescriptor, SolPacket, PacketAddMembership, &membership, (uint)sizeof(PacketMreq)) < 0)
            {
                throw Failure(name, "put the interface into promiscuous mode (PACKET_ADD_MEMBERSHIP)", Marshal.GetLastPInvokeError(),
                    "The gateway receives frames sent to its own MAC on the segment only in promiscuous mode.");
            }
            controlFd = OpenControlSocket(name, ifIndex);
            var port = new PacketPort(name, ifIndex, mac, [.. queues], controlFd, frameSize);
            controlFd = -1;
            queues.Clear();
            return port;
        }
        finally
        {
            foreach (var queue in queues)
            {
                queue.Dispose();
            }
            if (controlFd >= 0)
            {
                Tap.LibC.Close(controlFd);
            }
        }
    }

    private static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or >= Tap.LibC.IfNameSize || name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c)))
        {
            throw new ArgumentException($"'{name}' is not a Linux interface name: 1 to {Tap.LibC.IfNameSize - 1} characters, no '/', ':' or spaces.", nameof(name));
        }
    }

    /// <summary>The interface's index, MAC and MTU, through the ioctls of netdevice(7) on a throwaway packet socket.</summary>
    private static (int IfIndex, MacAddress Mac, int Mtu) Describe(string name)
    {
        int fd = Socket(AfPacket, SockRaw | SockCloExec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw Failure(name, "open a packet socket (socket(AF_PACKET))", errno,
                errno is EPerm or EAcces
                    ? "Packet sockets need root or CAP_NET_RAW; run as root, or use --if-backend pcap with a capture-capable user."
                    : "The kernel may lack CONFIG_PACKET; use --if-backend pcap.");
        }
        try
        {
            byte* ifr = stackalloc byte[Tap.LibC.IfReqSize];
            WriteRequest(ifr, name);
            if (Tap.LibC.Ioctl(fd, SiocGIfIndex, ifr) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw errno == ENoDev
                    ? new IOException($"No interface named '{name}' in this network namespace (ip link show); create it or pick another.")
                    : Failure(name, "look up the interface (SIOCGIFINDEX)", errno, "");
            }
            int ifIndex = *(int*)(ifr + Tap.LibC.IfNameSize);
            WriteRequest(ifr, name);
            if (Tap.LibC.Ioctl(fd, SiocGIfHwAddr, ifr) < 0)
            {
                throw Failure(name, "read the interface's hardware address (SIOCGIFHWADDR)", Marshal.GetLastPInvokeError(), "");
            }
            ushort family = *(ushort*)(ifr + Tap.LibC.IfNameSize);
            if (family != ArpHrdEther)
            {
                throw new IOException($"Interface '{name}' is not an Ethernet interface (ARP hardware type {family}); the gateway forwards Ethernet frames: give a veth end, a TAP or a NIC.");
            }
            var mac = MacAddress.Read(new ReadOnlySpan<byte>(ifr + Tap.LibC.IfNameSize + 2, MacAddress.Length));
            WriteRequest(ifr, name);
            int mtu = 1500;
            if (Tap.LibC.Ioctl(fd, SiocGIfMtu, ifr) == 0)
            {
                mtu = *(int*)(ifr + Tap.LibC.IfNameSize);
            }
            return (ifIndex, mac, mtu);
        }
        finally
        {
            Tap.LibC.Close(fd);
        }
    }

    private static void WriteRequest(byte* ifr, string name)
    {
        new Span<byte>(ifr, Tap.LibC.IfReqSize).Clear();
        Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, Tap.LibC.IfNameSize - 1));
    }

    /// <summary>
    /// Bytes per ring slot: the slot header and virtio_net_hdr (the frame starts at 76), an MTU-sized frame with two
    /// VLAN tags, rounded up to a power of two (at least 2 KiB, at most 64 KiB). Longer frames take the copy path.
    /// </summary>
    internal static int SlotSize(int mtu)
    {
        int needed = 76 + 14 + 8 + Math.Clamp(mtu, 68, 65_536);
        int size = 2048;
        while (size < needed && size < 65_536)
        {
            size <<= 1;
        }
        return size;
    }

    private static PacketQueue OpenQueue(string name, int ifIndex, int frameSize, int ringFrames, int queueCount, bool qdiscBypass, ref int fanoutId)
    {
        // Protocol 0: the socket receives nothing until bind() names the protocol, after the ring is in place.
        int fd = Socket(AfPacket, SockRaw | SockNonBlock | SockCloExec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw Failure(name, "open a packet socket (socket(AF_PACKET))", errno,
                errno is EPerm or EAcces ? "Packet sockets need root or CAP_NET_RAW." : "");
        }
        byte* ring = null;
        nuint ringBytes = 0;
        try
        {
            // Order matters: PACKET_VERSION and PACKET_VNET_HDR are refused (EBUSY) once a ring exists.
            Require(fd, PacketVersion, TpacketV2, name, "select TPACKET_V2 (PACKET_VERSION)", "The kernel is older than 2.6.31.");
            Require(fd, PacketVnetHdr, 1, name, "enable virtio_net_hdr offload metadata (PACKET_VNET_HDR)", "The kernel is older than 3.14.");
            if (qdiscBypass)
            {
                Require(fd, PacketQdiscBypass, 1, name, "bypass the qdisc (PACKET_QDISC_BYPASS)", "The kernel is older than 3.14.");
            }
            // Older than 4.20 lacks PACKET_IGNORE_OUTGOING: harmless, the host's own frames are then counted as ignored.
            SetInt(fd, SolPacket, PacketIgnoreOutgoing, 1);
            Require(fd, PacketCopyThresh, 1, name, "allow frames longer than a ring slot (PACKET_COPY_THRESH)", "");
            SetInt(fd, SolSocket, SoRcvBufForce, ReceiveBufferBytes);
            SetInt(fd, SolSocket, SoSndBufForce, SendBufferBytes);

            const int blockSize = 1 << 17; // 128 KiB: an order-5 allocation per block, falling back to vmalloc
            int framesPerBlock = blockSize / frameSize;
            int blocks = Math.Max(1, (ringFrames + framesPerBlock - 1) / framesPerBlock);
            var request = new TpacketRequest
            {
                BlockSize = blockSize,
                BlockCount = (uint)blocks,
                FrameSize = (uint)frameSize,
                FrameCount = (uint)(blocks * framesPerBlock),
            };
            if (SetSockOpt(fd, SolPacket, PacketRxRing, &request, (uint)sizeof(TpacketRequest)) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw Failure(name, $"set up a receive ring of {request.FrameCount} slots of {frameSize} bytes ({(long)blocks * blockSize >> 20} MiB, PACKET_RX_RING)", errno,
                    errno == ENoMem ? "The kernel could not find that much memory for it; free memory or open fewer queues (--workers)." : "");
            }
            ringBytes = (nuint)((long)blocks * blockSize);
            nint mapped = Mmap(0, ringBytes, ProtRead | ProtWrite, MapShared, fd, 0);
            if (mapped == MapFailed)
            {
                throw Failure(name, "map the receive ring (mmap)", Marshal.GetLastPInvokeError(), "");
            }
            ring = (byte*)mapped;

            var address = new SockaddrLl { Family = AfPacket, Protocol = EthPAllNetworkOrder, IfIndex = ifIndex };
            if (Bind(fd, &address, (uint)sizeof(SockaddrLl)) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw errno == ENoDev
                    ? new IOException($"Interface '{name}' disappeared while the gateway was opening it.")
                    : Failure(name, "bind a packet socket to the interface", errno, "");
            }
            if (queueCount > 1)
            {
                JoinFanout(fd, name, ref fanoutId);
            }
            var queue = new PacketQueue(fd, ring, ringBytes, frameSize, (int)request.FrameCount, DefaultMaxFrameLength);
            fd = -1;
            ring = null;
            return queue;
        }
        finally
        {
            if (ring != null)
            {
                Munmap((nint)ring, ringBytes);
            }
            if (fd >= 0)
            {
                Tap.LibC.Close(fd);
            }
        }
    }

    /// <summary>
    /// The first queue creates the group with an id the kernel picks (PACKET_FANOUT_FLAG_UNIQUEID, kernel 4.19+) and reads
    /// it back; the others join it with the same type and flags (fanout_add refuses a mismatch).
    /// </summary>
    private static void JoinFanout(int fd, string name, ref int fanoutId)
    {
        int flags = PacketFanoutFlagIgnoreOutgoing;
        bool first = fanoutId < 0;
        int argument = first
            ? (PacketFanoutHash | flags | PacketFanoutFlagUniqueId) << 16
            : ((PacketFanoutHash | flags) << 16) | fanoutId;
        if (SetInt(fd, SolPacket, PacketFanout, argument) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw Failure(name, "spread frames over several queues (PACKET_FANOUT, hash)", errno,
                errno == EInval
                    ? "The kernel is older than 6.2 (PACKET_FANOUT_FLAG_IGNORE_OUTGOING); run with --workers 1 or --if-backend pcap."
                    : "");
        }
        if (first)
        {
            int value;
            uint length = sizeof(int);
            if (GetSockOpt(fd, SolPacket, PacketFanout, &value, &length) < 0)
            {
                throw Failure(name, "read back the fanout group id (PACKET_FANOUT)", Marshal.GetLastPInvokeError(), "");
            }
            fanoutId = value & 0xFFFF;
        }
    }

    /// <summary>A send-only socket for ARP and announcements: bound with protocol 0, it never receives.</summary>
    private static int OpenControlSocket(string name, int ifIndex)
    {
        int fd = Socket(AfPacket, SockRaw | SockCloExec, 0);
        if (fd < 0)
        {
            throw Failure(name, "open a packet socket for ARP (socket(AF_PACKET))", Marshal.GetLastPInvokeError(), "");
        }
        var address = new SockaddrLl { Family = AfPacket, Protocol = 0, IfIndex = ifIndex };
        if (Bind(fd, &address, (uint)sizeof(SockaddrLl)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Tap.LibC.Close(fd);
            throw Failure(name, "bind the ARP socket to the interface", errno, "");
        }
        return fd;
    }

    private static void Require(int fd, int option, int value, string name, string what, string why)
    {
        if (SetInt(fd, SolPacket, option, value) < 0)
        {
            throw Failure(name, what, Marshal.GetLastPInvokeError(), why);
        }
    }

    private static IOException Failure(string name, string what, int errno, string hint) =>
        new($"Cannot {what} on interface '{name}': {Tap.LibC.ErrorText(errno)}.{(hint.Length > 0 ? " " + hint : "")}");

    /// <summary>Sends one whole frame at once, unbuffered, from any thread (ARP, announcements); never the frame path.</summary>
    public bool SendControl(ReadOnlySpan<byte> frame)
    {
        int fd = Volatile.Read(ref _controlFd);
        if (fd < 0)
        {
            return false;
        }
        fixed (byte* p = frame)
        {
            var iov = new IoVec { Base = p, Length = (nuint)frame.Length };
            var message = new MsgHdr { Iov = &iov, IovLength = 1 };
            return SendMsg(fd, &message, MsgDontWait) == frame.Length;
        }
    }

    /// <summary>
    /// Frames the kernel dropped because a queue's ring was full (<c>PACKET_STATISTICS</c> tp_drops) or that arrived cut
    /// (longer than a slot with no room to queue their copy), cumulative since the port opened.
    /// </summary>
    public PortKernelDrops KernelDrops()
    {
        lock (_statsLock)
        {
            long total = 0;
            foreach (var queue in _queues)
            {
                total += queue.ReadKernelDrops() + queue.CutFrames;
            }
            return new PortKernelDrops(total, Known: true);
        }
    }

    /// <summary>Frames the kernel refused to send at flush time, summed over the queues.</summary>
    public long SendFailures
    {
        get
        {
            long total = 0;
            foreach (var queue in _queues)
            {
                total += queue.SendFailures;
            }
            return total;
        }
    }

    /// <summary>Closes every socket (the interface leaves promiscuous mode with the last one). Call after the workers have stopped.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        lock (_statsLock)
        {
            foreach (var queue in _queues)
            {
                queue.ReadKernelDrops();
                queue.Dispose();
            }
        }
        int fd = Interlocked.Exchange(ref _controlFd, -1);
        if (fd >= 0)
        {
            Tap.LibC.Close(fd);
        }
    }
}
