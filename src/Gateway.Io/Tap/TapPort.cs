using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Gateway.Io.L2;
using Gateway.Io.Ports;

namespace Gateway.Io.Tap;

/// <summary>What a TAP port asks of the kernel beyond a plain TAP.</summary>
internal sealed record TapOptions
{
    /// <summary>Queues (one descriptor each, <c>IFF_MULTI_QUEUE</c>); one per worker.</summary>
    public int Queues { get; init; } = 1;

    /// <summary>
    /// <c>IFF_VNET_HDR</c> with checksum, TSO and USO offloads (<c>TUNSETOFFLOAD</c>): the kernel hands over GSO
    /// super-frames and partial checksums, and takes them back. False: plain MTU-sized frames, finished checksums.
    /// </summary>
    public bool Offloads { get; init; } = true;

    /// <summary>
    /// The device's txqueuelen: the frames tun holds per queue for the gateway to read (its <c>tx_ring</c>, a
    /// ptr_ring of this size) before it drops (<c>tx_dropped</c>). tun's default is 500; a burst of 64-byte frames
    /// fills that in well under a millisecond at 1 Mpps (perf/README.md, "TAP ports").
    /// </summary>
    public int TxQueueLength { get; init; } = DefaultTxQueueLength;

    public const int DefaultTxQueueLength = 4096;

    /// <summary>The MAC of the kernel side of the wire (the host at the far end); null: the kernel's choice.</summary>
    public MacAddress? InterfaceMac { get; init; }
}

/// <summary>
/// A Linux TAP device (<c>/dev/net/tun</c>, <c>IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE</c>): frames the
/// kernel sends out of the interface are read here, frames written here arrive at the interface as if from a wire.
/// </summary>
/// <remarks>
/// <para>Queues: one descriptor per queue, all attached to the same device (TUNSETIFF with the same name). For frames
/// towards us the kernel picks the queue by flow (drivers/net/tun.c <c>tun_automq_select_queue</c>): a flow goes to the
/// queue on which we last wrote a frame of the same flow (symmetric hash, entries age out after 3 s), else by hash.
/// The gateway writes a flow's translated frames on the queue it read them from, so both directions of a flow and its
/// hairpin meet on one queue, and so on one worker.</para>
/// <para>Offloads (drivers/net/tun.c <c>set_offload</c>): TUN_F_CSUM | TSO4 | TSO6 | TSO_ECN, and USO4 | USO6 where the
/// kernel has them (6.2+; an older kernel answers EINVAL and the port quietly goes without). Every frame then carries a
/// <see cref="VirtioNetHeader"/>, in both directions; one <c>readv</c> takes header and frame into their places, one
/// <c>writev</c> sends both (tun's character device takes one frame per write, no batching call exists).</para>
/// <para>The device is not persistent (no <c>TUNSETPERSIST</c>): it exists while a descriptor is open, so
/// <see cref="Dispose"/> (or the process dying, however it dies) removes it. It may be moved to another network
/// namespace after creation (<c>ip link set NAME netns NS</c>): the descriptors stay bound to the device and keep
/// working; the move takes the link down, so whoever moves it brings it up there. <see cref="KernelDrops"/> finds it
/// wherever it went (TUNGETDEVNETNS).</para>
/// <para>Descriptors are non-blocking: a worker waits in <c>poll(2)</c> on the queue's descriptor, then reads until
/// <c>EAGAIN</c> or a full batch.</para>
/// </remarks>
internal sealed unsafe class TapPort : IFramePort
{
    // linux/if_tun.h, linux/sockios.h, linux/if.h
    private const nuint TunSetIff = 0x400454CA; // _IOW('T', 202, int)
    private const nuint TunSetOffload = 0x400454D0; // _IOW('T', 208, unsigned int); the argument by value
    private const nuint TunGetIff = 0x800454D2; // _IOR('T', 210, unsigned int)
    private const nuint TunSetVnetHdrSz = 0x400454D8; // _IOW('T', 216, int)
    private const nuint TunGetDevNetNs = 0x54E3; // _IO('T', 227): a new descriptor of the device's network namespace
    private const nuint SiocGIfFlags = 0x8913;
    private const nuint SiocSIfFlags = 0x8914;
    private const nuint SiocSIfHwAddr = 0x8924;
    private const nuint SiocSIfTxQLen = 0x8943;
    private const short IffTap = 0x0002;
    private const short IffMultiQueue = 0x0100;
    private const short IffNoPi = 0x1000;
    private const short IffVnetHdr = 0x4000;
    private const ushort IffTunExcl = 0x8000; // create, never attach to someone else's device of that name
    private const short IffUp = 0x0001;
    private const ushort ArpHrdEther = 1;

    private const uint TunFCsum = 0x01;
    private const uint TunFTso4 = 0x02;
    private const uint TunFTso6 = 0x04;
    private const uint TunFTsoEcn = 0x08;
    private const uint TunFUso4 = 0x20;
    private const uint TunFUso6 = 0x40;

    /// <summary>
    /// Without offloads: jumbo frames plus four VLAN tags fit (the kernel never hands over more than the MTU).
    /// With offloads: a GSO super-frame of up to 64 KiB of IPv4 (its total length is 16 bits) plus Ethernet and tags.
    /// </summary>
    public const int PlainMaxFrameLength = 16 * 1024;
    public const int GsoMaxFrameLength = 65_535 + 64;

    private readonly TapQueue[] _queues;
    private readonly KernelDropReader _drops;

    private TapPort(string name, TapQueue[] queues, bool offloads, bool udpSegmentation)
    {
        Name = name;
        _queues = queues;
        Offloads = offloads;
        UdpSegmentationOffload = udpSegmentation;
        _drops = new KernelDropReader(this);
    }

    public string Name { get; }

    public int QueueCount => _queues.Length;

    /// <summary>True when frames carry a <see cref="VirtioNetHeader"/> (IFF_VNET_HDR).</summary>
    public bool Offloads { get; }

    /// <summary>True when the kernel took TUN_F_USO4|USO6 (UDP GSO super-frames reach us whole).</summary>
    public bool UdpSegmentationOffload { get; }

    public int MaxFrameLength => Offloads ? GsoMaxFrameLength : PlainMaxFrameLength;

    /// <summary>tun takes any GSO frame with a header it accepts (<c>virtio_net_hdr_to_skb</c>), whatever its own offload settings.</summary>
    public bool AcceptsGso => Offloads;

    public IPortQueue Queue(int index) => _queues[index];

    /// <summary>
    /// Creates TAP device <paramref name="name"/> in the caller's network namespace with the queues and offloads of
    /// <paramref name="options"/>, sets its MAC and txqueuelen, and brings the link up.
    /// </summary>
    /// <exception cref="IOException">The device could not be created or configured; the message says why and what to do.</exception>
    public static TapPort Create(string name, TapOptions? options = null)
    {
        options ??= new TapOptions();
        ValidateName(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Queues, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Queues, 256); // MAX_TAP_QUEUES
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TxQueueLength, 1);
        if (options.Offloads && (!BitConverter.IsLittleEndian || Unsafe.SizeOf<VirtioNetHeader>() != VirtioNetHeader.Size))
        {
            throw new PlatformNotSupportedException("TAP offloads read struct virtio_net_hdr in place, which needs a little-endian host.");
        }
        var queues = new TapQueue[options.Queues];
        int opened = 0;
        try
        {
            for (; opened < queues.Length; opened++)
            {
                queues[opened] = new TapQueue(OpenQueue(name, options.Offloads, first: opened == 0), options.Offloads);
            }
            bool uso = false;
            if (options.Offloads)
            {
                uso = EnableOffloads(name, queues[0].Descriptor);
            }
            var port = new TapPort(name, queues, options.Offloads, uso);
            opened = 0; // owned by the port from here on
            try
            {
                port.Configure(options.InterfaceMac, options.TxQueueLength);
            }
            catch
            {
                port.Dispose();
                throw;
            }
            return port;
        }
        finally
        {
            for (int i = 0; i < opened; i++)
            {
                queues[i].Dispose();
            }
        }
    }

    /// <summary>Opens one queue: the first creates the device (IFF_TUN_EXCL), the others attach to it.</summary>
    private static int OpenQueue(string name, bool offloads, bool first)
    {
        int fd = LibC.Open("/dev/net/tun", LibC.ORdWr | LibC.ONonBlock | LibC.OCloExec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(
                $"Cannot open /dev/net/tun to create TAP device '{name}': {LibC.ErrorText(errno)}. "
                + "TAP devices need root (CAP_NET_ADMIN) and the tun module (modprobe tun).");
        }
        byte* ifr = stackalloc byte[LibC.IfReqSize];
        WriteRequest(ifr, name);
        ushort flags = (ushort)(IffTap | IffNoPi | IffMultiQueue | (offloads ? IffVnetHdr : 0) | (first ? IffTunExcl : 0));
        *(ushort*)(ifr + LibC.IfNameSize) = flags;
        if (LibC.Ioctl(fd, TunSetIff, ifr) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            LibC.Close(fd);
            throw new IOException(first
                ? $"Cannot create TAP device '{name}' (TUNSETIFF): {LibC.ErrorText(errno)}. "
                  + $"If an interface of that name exists already (ip link show {name}), pick another name or delete it."
                : $"Cannot attach a queue to TAP device '{name}' (TUNSETIFF, IFF_MULTI_QUEUE): {LibC.ErrorText(errno)}. "
                  + "A kernel allows at most 256 queues per device; use fewer workers.");
        }
        if (offloads)
        {
            int size = VirtioNetHeader.Size;
            if (LibC.Ioctl(fd, TunSetVnetHdrSz, &size) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                LibC.Close(fd);
                throw new IOException($"Cannot set the virtio_net_hdr size of TAP device '{name}' (TUNSETVNETHDRSZ): {LibC.ErrorText(errno)}.");
            }
        }
        return fd;
    }

    /// <summary>
    /// TUNSETOFFLOAD: checksum, TSO (v4, v6, ECN) and, where the kernel has it, USO. Returns whether USO was taken.
    /// set_offload answers EINVAL for any bit it does not know, which is how an older kernel says "no USO".
    /// </summary>
    private static bool EnableOffloads(string name, int fd)
    {
        const uint Tcp = TunFCsum | TunFTso4 | TunFTso6 | TunFTsoEcn;
        if (LibC.IoctlValue(fd, TunSetOffload, Tcp | TunFUso4 | TunFUso6) == 0)
        {
            return true;
        }
        if (LibC.IoctlValue(fd, TunSetOffload, Tcp) == 0)
        {
            return false;
        }
        int errno = Marshal.GetLastPInvokeError();
        throw new IOException($"Cannot enable checksum and segmentation offloads on TAP device '{name}' (TUNSETOFFLOAD): {LibC.ErrorText(errno)}.");
    }

    private static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or >= LibC.IfNameSize || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException(
                $"'{name}' is not a usable interface name: 1 to {LibC.IfNameSize - 1} characters of letters, digits, '-', '_' or '.'.",
                nameof(name));
        }
    }

    private static void WriteRequest(byte* ifr, string name)
    {
        new Span<byte>(ifr, LibC.IfReqSize).Clear();
        Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, LibC.IfNameSize - 1));
    }

    /// <summary>Interface ioctls go through any socket of the namespace the device lives in (netdevice(7)).</summary>
    private void Configure(MacAddress? interfaceMac, int txQueueLength)
    {
        int socket = LibC.Socket(LibC.AfInet, LibC.SockDgram | LibC.SockCloExec, 0);
        if (socket < 0)
        {
            throw Failure("open a configuration socket for", Marshal.GetLastPInvokeError());
        }
        try
        {
            byte* ifr = stackalloc byte[LibC.IfReqSize];
            if (interfaceMac is { } mac)
            {
                WriteRequest(ifr, Name);
                *(ushort*)(ifr + LibC.IfNameSize) = ArpHrdEther; // struct sockaddr: sa_family, then sa_data
                mac.Write(new Span<byte>(ifr + LibC.IfNameSize + 2, MacAddress.Length));
                if (LibC.Ioctl(socket, SiocSIfHwAddr, ifr) < 0)
                {
                    throw Failure("set the MAC address of", Marshal.GetLastPInvokeError());
                }
            }
            // tun resizes every queue's ring when txqueuelen changes (tun_device_event, NETDEV_CHANGE_TX_QUEUE_LEN).
            WriteRequest(ifr, Name);
            *(int*)(ifr + LibC.IfNameSize) = txQueueLength; // ifr_qlen
            if (LibC.Ioctl(socket, SiocSIfTxQLen, ifr) < 0)
            {
                throw Failure("set the transmit queue length of", Marshal.GetLastPInvokeError());
            }
            WriteRequest(ifr, Name);
            if (LibC.Ioctl(socket, SiocGIfFlags, ifr) < 0)
            {
                throw Failure("read the flags of", Marshal.GetLastPInvokeError());
            }
            *(short*)(ifr + LibC.IfNameSize) |= IffUp;
            if (LibC.Ioctl(socket, SiocSIfFlags, ifr) < 0)
            {
                throw Failure("bring up", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            LibC.Close(socket);
        }
    }

    private IOException Failure(string what, int errno) =>
        new($"Cannot {what} TAP device '{Name}': {LibC.ErrorText(errno)}. This needs root (CAP_NET_ADMIN).");

    public bool SendControl(ReadOnlySpan<byte> frame) => _queues[0].Send(frame, VirtioNetHeader.None);

    /// <summary>tun's <c>tx_dropped</c>: frames its per-queue ring had no room for (tun_net_xmit, SKB_DROP_REASON_FULL_RING).</summary>
    public PortKernelDrops KernelDrops() => _drops.Read();

    /// <summary>The device's current name and a new descriptor of its network namespace (the caller closes it); false when the device is gone.</summary>
    internal bool TryLocate(out string name, out int namespaceFd)
    {
        name = Name;
        namespaceFd = -1;
        int fd = _queues[0].Descriptor;
        if (fd < 0)
        {
            return false;
        }
        byte* ifr = stackalloc byte[LibC.IfReqSize];
        new Span<byte>(ifr, LibC.IfReqSize).Clear();
        if (LibC.Ioctl(fd, TunGetIff, ifr) == 0)
        {
            name = Marshal.PtrToStringUTF8((nint)ifr) ?? Name;
        }
        namespaceFd = LibC.IoctlValue(fd, TunGetDevNetNs, 0);
        return namespaceFd >= 0;
    }

    /// <summary>
    /// Closes every queue's descriptor, which removes the device. Call after the workers have stopped. (Descriptors are
    /// close-on-exec; a child forked at this very moment holds a copy until its exec, and the device goes then.)
    /// </summary>
    public void Dispose()
    {
        foreach (var queue in _queues)
        {
            queue.Dispose();
        }
    }

    /// <summary>One queue: its descriptor, read with <c>readv</c> (header, frame), written with <c>writev</c>.</summary>
    private sealed class TapQueue(int fd, bool offloads) : IPortQueue
    {
        private int _fd = fd;

        public int Descriptor => Volatile.Read(ref _fd);

        public int PollDescriptor => Volatile.Read(ref _fd);

        public int Receive(FrameBatch batch)
        {
            int fd = Volatile.Read(ref _fd);
            if (fd < 0)
            {
                return 0;
            }
            int count = 0;
            int header = offloads ? VirtioNetHeader.Size : 0;
            var vectors = stackalloc LibC.IoVec[2];
            while (count < batch.Capacity)
            {
                Span<byte> slot = batch.Slot(count);
                ref VirtioNetHeader offload = ref batch.Offload(count);
                offload = default;
                nint n;
                // Both the slot and the offload array are pinned (FrameBatch allocates them so).
                fixed (byte* frame = slot)
                fixed (VirtioNetHeader* h = &offload)
                {
                    vectors[0] = new LibC.IoVec { Base = h, Length = (nuint)header };
                    vectors[1] = new LibC.IoVec { Base = frame, Length = (nuint)slot.Length };
                    n = offloads ? LibC.ReadV(fd, vectors, 2) : LibC.Read(fd, frame, (nuint)slot.Length);
                }
                if (n <= header)
                {
                    break; // EAGAIN: the queue is drained; anything else shows up again at the next poll
                }
                int length = (int)n - header;
                batch.SetLength(count, length, length);
                count++;
            }
            return count;
        }

        public bool Send(ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
        {
            int fd = Volatile.Read(ref _fd);
            if (fd < 0)
            {
                return false;
            }
            fixed (byte* p = frame)
            {
                if (!offloads)
                {
                    // One write is one frame (tun's chardev semantics); concurrent writers never interleave.
                    return LibC.Write(fd, p, (nuint)frame.Length) == frame.Length;
                }
                VirtioNetHeader header = offload; // a stack copy: the caller's may live in a movable object
                var vectors = stackalloc LibC.IoVec[2];
                vectors[0] = new LibC.IoVec { Base = &header, Length = VirtioNetHeader.Size };
                vectors[1] = new LibC.IoVec { Base = p, Length = (nuint)frame.Length };
                return LibC.WriteV(fd, vectors, 2) == VirtioNetHeader.Size + frame.Length;
            }
        }

        public void Flush()
        {
            // Every Send went out at once: tun has no multi-frame write.
        }

        public void Dispose()
        {
            int fd = Interlocked.Exchange(ref _fd, -1);
            if (fd >= 0)
            {
                LibC.Close(fd);
            }
        }
    }
}
