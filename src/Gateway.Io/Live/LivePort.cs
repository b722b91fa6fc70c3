using System.Runtime.InteropServices;
using Gateway.Io.L2;
using Gateway.Io.Ports;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Gateway.Io.Live;

/// <summary>
/// An existing interface (a veth end, a physical NIC) as a port, through libpcap live capture and injection
/// (SharpPcap's <see cref="LibPcapLiveDevice"/>).
/// </summary>
/// <remarks>
/// <para>The gateway uses a MAC of its own on the segment, not the interface's: the device is in promiscuous mode, so
/// frames to the gateway's MAC are captured, while the kernel behind the interface sees them as addressed to
/// another host and never routes them (even with forwarding on). The interface should carry no IPv4 address.</para>
/// <para>libpcap also captures what the gateway itself injects; a kernel filter (<c>not ether src GATEWAY-MAC</c>)
/// keeps those echoes out. Frames for other hosts on a shared segment arrive too; the data path ignores unicast
/// frames not addressed to the gateway.</para>
/// <para>Receive and send share one pcap handle: <c>pcap_sendpacket</c> is a <c>send(2)</c> on the capture
/// socket, safe beside the reader, and a lock keeps two senders from interleaving inside libpcap.</para>
/// <para>One queue (the port is its own <see cref="IPortQueue"/>): with several workers only worker 0 receives here,
/// and every worker may send (the lock). No offloads: frames go out whole with finished checksums, so the data path
/// segments GSO super-frames from a TAP before they leave here; frames captured on a veth whose sender left the
/// checksum to "hardware" arrive unfinished (which is why the lab turns tx checksumming off behind a live port).</para>
/// </remarks>
internal sealed partial class LivePort : IFramePort, IPortQueue
{
    /// <summary>Up to 64 KiB: GRO and TSO on a veth or NIC can hand libpcap frames above the MTU.</summary>
    public const int DefaultMaxFrameLength = 65_536 + 64;

    private readonly LibPcapLiveDevice _device;
    private readonly Lock _sendLock = new();
    private bool _disposed;

    private readonly int _selectableFd;

    private LivePort(LibPcapLiveDevice device, int selectableFd)
    {
        _device = device;
        _selectableFd = selectableFd;
    }

    public string Name => _device.Name;

    public int MaxFrameLength => DefaultMaxFrameLength;

    public int QueueCount => 1;

    public bool AcceptsGso => false;

    public int PollDescriptor => Volatile.Read(ref _disposed) ? -1 : _selectableFd;

    public IPortQueue Queue(int index) =>
        index == 0 ? this : throw new ArgumentOutOfRangeException(nameof(index), index, "a libpcap port has one queue.");

    /// <summary>libpcap's own count of frames the kernel dropped because its buffer was full (pcap_stats ps_drop).</summary>
    public PortKernelDrops KernelDrops()
    {
        lock (_sendLock)
        {
            if (_disposed)
            {
                return PortKernelDrops.Unknown;
            }
            try
            {
                return _device.Statistics is { } stats ? new PortKernelDrops(stats.DroppedPackets, Known: true) : PortKernelDrops.Unknown;
            }
            catch (PcapException)
            {
                return PortKernelDrops.Unknown;
            }
        }
    }

    /// <summary>Opens interface <paramref name="name"/> for capture and injection by a gateway whose MAC there is <paramref name="gatewayMac"/>.</summary>
    /// <exception cref="IOException">No such interface, or it cannot be opened; the message says what to do.</exception>
    public static LivePort Open(string name, MacAddress gatewayMac, int readTimeoutMilliseconds = 100)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        LibPcapLiveDevice? device;
        try
        {
            device = LibPcapLiveDeviceList.New().FirstOrDefault(d => d.Name == name);
        }
        catch (Exception e) when (e is DllNotFoundException or PcapException)
        {
            throw new IOException($"Cannot list interfaces through libpcap: {e.Message}. Install libpcap (scripts/setup.sh).", e);
        }
        if (device is null)
        {
            throw new IOException($"No interface named '{name}' in this network namespace (ip link show); create it or pick another.");
        }
        if (device.MacAddress?.GetAddressBytes() is not { Length: MacAddress.Length })
        {
            throw new IOException($"Interface '{name}' has no Ethernet MAC address; the gateway needs an Ethernet interface.");
        }
        int selectableFd;
        try
        {
            device.Open(new DeviceConfiguration
            {
                Mode = DeviceModes.Promiscuous,
                ReadTimeout = readTimeoutMilliseconds,
                Immediate = true,
                Snaplen = DefaultMaxFrameLength,
            });
            device.Filter = $"not ether src {gatewayMac}";
            device.NonBlockingMode = true;
            selectableFd = PcapGetSelectableFd(device.Handle.DangerousGetHandle());
            if (selectableFd < 0)
            {
                throw new IOException($"libpcap offers no selectable descriptor for interface '{name}'.");
            }
        }
        catch (Exception e) when (e is PcapException or DeviceNotReadyException or IOException)
        {
            device.Close();
            throw new IOException($"Cannot open interface '{name}' for capture and injection: {e.Message}. This needs root (CAP_NET_RAW).", e);
        }
        return new LivePort(device, selectableFd);
    }

    /// <summary>Takes what libpcap has ready, without waiting (non-blocking mode): 0 from libpcap means drained.</summary>
    public int Receive(FrameBatch batch)
    {
        if (Volatile.Read(ref _disposed))
        {
            return 0;
        }
        int count = 0;
        while (count < batch.Capacity && TakeReady(batch, ref count))
        {
        }
        return count;
    }

    /// <summary>Takes one frame if libpcap has one ready (non-blocking mode); false otherwise.</summary>
    private bool TakeReady(FrameBatch batch, ref int count)
    {
        IntPtr header = IntPtr.Zero, data = IntPtr.Zero;
        if (_device.GetNextPacketPointers(ref header, ref data) != 1)
        {
            return false; // 0: nothing ready; negative: an error, seen again at the next wait
        }
        // struct pcap_pkthdr on LP64: struct timeval (16 bytes), bpf_u_int32 caplen, bpf_u_int32 len.
        int captured = Marshal.ReadInt32(header, 16);
        int wire = Marshal.ReadInt32(header, 20);
        ReadOnlySpan<byte> bytes;
        unsafe
        {
            bytes = new ReadOnlySpan<byte>((void*)data, captured);
        }
        count = Take(batch, count, bytes, wire);
        return true;
    }
    /// <summary>Copies a captured frame into the batch: libpcap's buffer is reused by the next read, and the translator writes in place.</summary>
    private static int Take(FrameBatch batch, int index, ReadOnlySpan<byte> data, int wireLength)
    {
        Span<byte> slot = batch.Slot(index);
        if (data.Length > slot.Length)
        {
            data = data.Slice(0, slot.Length);
        }
        data.CopyTo(slot);
        batch.SetLength(index, data.Length, Math.Max(wireLength, data.Length));
        batch.Offload(index) = VirtioNetHeader.None;
        return index + 1;
    }

    public bool Send(ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
    {
        System.Diagnostics.Debug.Assert(offload.IsPlain, "the data path finishes offloads before a port without them");
        return SendControl(frame);
    }

    public void Flush()
    {
        // pcap_sendpacket sent each frame at once.
    }

    public bool SendControl(ReadOnlySpan<byte> frame)
    {
        lock (_sendLock)
        {
            if (_disposed)
            {
                return false;
            }
            try
            {
                _device.SendPacket(frame);
                return true;
            }
            catch (PcapException)
            {
                return false; // e.g. the link went down; counted by the caller, not a reason to stop the worker
            }
        }
    }

    /// <summary>libpcap's descriptor to wait on (pcap_get_selectable_fd(3PCAP)); Debian's libpcap0.8 soname.</summary>
    [LibraryImport("libpcap.so.0.8", EntryPoint = "pcap_get_selectable_fd")]
    private static partial int PcapGetSelectableFd(IntPtr pcap);

    public void Dispose()
    {
        lock (_sendLock)
        {
            if (_disposed)
            {
                return;
            }
            Volatile.Write(ref _disposed, true);
        }
        _device.Close();
    }
}
