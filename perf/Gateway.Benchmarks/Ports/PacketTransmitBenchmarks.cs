using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Gateway.Io.Live;
using Gateway.Io.Ports;
using static Gateway.Io.Live.PacketNative;

namespace Gateway.Benchmarks.Ports;

/// <summary>
/// The AF_PACKET transmit paths side by side, per 64-byte frame, on a real veth pair (needs root): what
/// <see cref="PacketQueue"/> does (a batch through one <c>sendmmsg</c>), a TPACKET_V2 transmit ring (frames written
/// into mmap'ed slots, one <c>send(2)</c> kick per batch), and one <c>send(2)</c> per frame (libpcap's way). Every
/// socket has <c>PACKET_VNET_HDR</c>, as the port's do. The peer end sits in a namespace of its own with no address,
/// so the receiving kernel drops each frame early (another host's MAC) and the figure is the sender's cost.
/// </summary>
/// <remarks>Run: <c>cd perf/Gateway.Benchmarks &amp;&amp; dotnet run -c Release -- --filter '*PacketTransmit*'</c> (as root).</remarks>
[Config(typeof(BenchConfig))]
public unsafe class PacketTransmitBenchmarks
{
    private const int Batch = 64;
    private const int RingFrames = 4096;
    private const int RingFrameSize = 2048;
    private const int TpacketV2DataOffset = 32; // TPACKET2_HDRLEN - sizeof(struct sockaddr_ll): where tpacket_snd reads the data
    private const uint TpStatusSendRequest = 1;
    private const int PacketTxRing = 13;

    private readonly byte[] _frame = new byte[60];
    private string _namespace = "";
    private string _device = "";
    private PacketPort? _port;
    private int _ringFd = -1;
    private int _sendFd = -1;
    private byte* _ring;
    private nuint _ringBytes;
    private int _ringHead;

    [GlobalSetup]
    public void Setup()
    {
        string id = Environment.ProcessId.ToString("x", CultureInfo.InvariantCulture);
        _namespace = $"gwb-{id}";
        _device = $"gwb{id}a";
        Run("ip", "netns", "add", _namespace);
        Run("ip", "link", "add", _device, "type", "veth", "peer", "name", "eth0", "netns", _namespace);
        Run("sysctl", "-qw", $"net.ipv6.conf.{_device}.disable_ipv6=1");
        Run("ip", "netns", "exec", _namespace, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
        Run("ip", "link", "set", _device, "up");
        Run("ip", "-n", _namespace, "link", "set", "eth0", "up");
        // A UDP frame to a MAC nobody has: the peer kernel drops it in ip_rcv (PACKET_OTHERHOST).
        byte[] frame = Convert.FromHexString(
            "02000000000202000000000108004500002e1c46000040116d8ec0000201c00002029c40003500" + "1a0000" + "000000000000000000000000000000000000");
        frame.AsSpan(0, Math.Min(frame.Length, _frame.Length)).CopyTo(_frame);

        _port = PacketPort.Open(_device, queueCount: 1);
        _ringFd = OpenRingSocket(_device, out _ring, out _ringBytes);
        _sendFd = OpenPlainSocket(_device);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _port?.Dispose();
        if (_ring != null)
        {
            Munmap((nint)_ring, _ringBytes);
        }
        if (_ringFd >= 0)
        {
            Gateway.Io.Tap.LibC.Close(_ringFd);
        }
        if (_sendFd >= 0)
        {
            Gateway.Io.Tap.LibC.Close(_sendFd);
        }
        Run("ip", "netns", "del", _namespace);
    }

    /// <summary>What the port does: a batch buffered by Send, out with one sendmmsg at Flush.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public void Sendmmsg()
    {
        var queue = _port!.Queue(0);
        for (int i = 0; i < Batch; i++)
        {
            queue.Send(_frame, VirtioNetHeader.None);
        }
        queue.Flush();
    }

    /// <summary>A TPACKET_V2 transmit ring: each frame written into its slot after a virtio_net_hdr, one kick per batch.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void TransmitRing()
    {
        for (int i = 0; i < Batch; i++)
        {
            var header = (Tpacket2Header*)(_ring + (nint)_ringHead * RingFrameSize);
            // A slot is free again once the kernel freed the skb built on it (TP_STATUS_AVAILABLE = 0).
            while (Volatile.Read(ref header->Status) != 0)
            {
                Kick();
                Thread.Yield();
            }
            byte* data = (byte*)header + TpacketV2DataOffset;
            new Span<byte>(data, VirtioNetHeader.Size).Clear();
            _frame.CopyTo(new Span<byte>(data + VirtioNetHeader.Size, _frame.Length));
            header->Length = (uint)(VirtioNetHeader.Size + _frame.Length);
            Volatile.Write(ref header->Status, TpStatusSendRequest);
            _ringHead = _ringHead + 1 == RingFrames ? 0 : _ringHead + 1;
        }
        Kick();
    }

    /// <summary>One send(2) per frame, as libpcap's pcap_sendpacket does.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void SendPerFrame()
    {
        byte* buffer = stackalloc byte[VirtioNetHeader.Size + 60];
        new Span<byte>(buffer, VirtioNetHeader.Size).Clear();
        _frame.CopyTo(new Span<byte>(buffer + VirtioNetHeader.Size, _frame.Length));
        for (int i = 0; i < Batch; i++)
        {
            var iov = new IoVec { Base = buffer, Length = (nuint)(VirtioNetHeader.Size + _frame.Length) };
            var message = new MsgHdr { Iov = &iov, IovLength = 1 };
            SendMsg(_sendFd, &message, MsgDontWait);
        }
    }

    private void Kick()
    {
        var message = new MsgHdr();
        SendMsg(_ringFd, &message, MsgDontWait);
    }

    private static int OpenRingSocket(string device, out byte* ring, out nuint bytes)
    {
        int fd = OpenPlainSocket(device, bind: false);
        var request = new TpacketRequest { BlockSize = 1 << 17, FrameSize = RingFrameSize, FrameCount = RingFrames };
        request.BlockCount = (uint)(RingFrames * RingFrameSize / (int)request.BlockSize);
        Check(SetSockOpt(fd, SolPacket, PacketTxRing, &request, (uint)sizeof(TpacketRequest)), "PACKET_TX_RING");
        bytes = (nuint)(RingFrames * RingFrameSize);
        nint mapped = Mmap(0, bytes, ProtRead | ProtWrite, MapShared, fd, 0);
        if (mapped == MapFailed)
        {
            throw new IOException("mmap of the transmit ring failed");
        }
        ring = (byte*)mapped;
        Bind(fd, device);
        return fd;
    }

    /// <summary>A packet socket with TPACKET_V2 and PACKET_VNET_HDR, bound to the device with protocol 0 (it sends, never receives).</summary>
    private static int OpenPlainSocket(string device, bool bind = true)
    {
        int fd = Socket(AfPacket, SockRaw | SockCloExec, 0);
        Check(fd, "socket(AF_PACKET)");
        Check(SetInt(fd, SolPacket, PacketVersion, TpacketV2), "PACKET_VERSION");
        Check(SetInt(fd, SolPacket, PacketVnetHdr, 1), "PACKET_VNET_HDR");
        Check(SetInt(fd, SolSocket, SoSndBufForce, 8 << 20), "SO_SNDBUFFORCE");
        if (bind)
        {
            Bind(fd, device);
        }
        return fd;
    }

    private static void Bind(int fd, string device)
    {
        var address = new SockaddrLl { Family = AfPacket, IfIndex = IfIndex(device) };
        Check(PacketNative.Bind(fd, &address, (uint)sizeof(SockaddrLl)), "bind");
    }

    private static int IfIndex(string device) =>
        int.Parse(File.ReadAllText($"/sys/class/net/{device}/ifindex").Trim(), CultureInfo.InvariantCulture);

    private static void Check(int result, string what)
    {
        if (result < 0)
        {
            throw new IOException($"{what}: errno {Marshal.GetLastPInvokeError()} (run as root)");
        }
    }

    private static void Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (string a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        process.WaitForExit();
    }
}
