using System.Runtime.InteropServices;

namespace Gateway.Io.Live;

/// <summary>
/// The AF_PACKET socket API the packet port uses: constants from include/uapi/linux/if_packet.h, if_ether.h,
/// socket.h and asm-generic/mman-common.h, the structs it shares with the kernel, and the libc calls.
/// Linux x86-64 and arm64 share every value here.
/// </summary>
internal static unsafe partial class PacketNative
{
    public const int AfPacket = 17;
    public const int SockRaw = 3;
    public const int SockNonBlock = 0x800;
    public const int SockCloExec = 0x80000;

    /// <summary>ETH_P_ALL in network byte order, as socket(2) and bind(2) take it: every protocol.</summary>
    public const ushort EthPAllNetworkOrder = 0x0300;

    public const int SolSocket = 1;
    public const int SoSndBufForce = 32;
    public const int SoRcvBufForce = 33;

    public const int SolPacket = 263;
    public const int PacketAddMembership = 1;
    public const int PacketRxRing = 5;
    public const int PacketStatistics = 6;
    public const int PacketCopyThresh = 7;
    public const int PacketVersion = 10;
    public const int PacketVnetHdr = 15;
    public const int PacketFanout = 18;
    public const int PacketQdiscBypass = 20;
    public const int PacketIgnoreOutgoing = 23;

    public const ushort PacketMrPromisc = 1;
    public const int TpacketV2 = 1;

    public const int PacketFanoutHash = 0;
    public const int PacketFanoutFlagUniqueId = 0x2000;
    public const int PacketFanoutFlagIgnoreOutgoing = 0x4000;

    // tp_status bits (if_packet.h).
    public const uint TpStatusKernel = 0;
    public const uint TpStatusUser = 1;
    public const uint TpStatusCopy = 2;
    public const uint TpStatusVlanValid = 0x10;
    public const uint TpStatusVlanTpidValid = 0x40;

    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int MapShared = 1;
    public const int MapLocked = 0x2000;
    public static readonly nint MapFailed = -1;

    public const int MsgDontWait = 0x40;
    public const int MsgTrunc = 0x20;

    public const int EAgain = 11;
    public const int ENoBufs = 105;
    public const int EPerm = 1;
    public const int EAcces = 13;
    public const int ENoMem = 12;
    public const int EInval = 22;
    public const int ENoDev = 19;
    public const int ENetDown = 100;
    public const int EMsgSize = 90;

    /// <summary>struct ifreq ioctls (linux/sockios.h).</summary>
    public const nuint SiocGIfHwAddr = 0x8927;
    public const nuint SiocGIfMtu = 0x8921;
    public const nuint SiocGIfIndex = 0x8933;
    public const ushort ArpHrdEther = 1;

    /// <summary>struct tpacket2_hdr (32 bytes): the per-frame header at the start of every rx ring slot.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Tpacket2Header
    {
        public uint Status;
        public uint Length;
        public uint SnapLength;
        public ushort Mac;
        public ushort Net;
        public uint Seconds;
        public uint Nanoseconds;
        public ushort VlanTci;
        public ushort VlanTpid;
        public uint Padding;
    }

    /// <summary>struct tpacket_req: the ring's geometry (PACKET_RX_RING).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TpacketRequest
    {
        public uint BlockSize;
        public uint BlockCount;
        public uint FrameSize;
        public uint FrameCount;
    }

    /// <summary>struct tpacket_stats (PACKET_STATISTICS for TPACKET_V1/V2): cleared by every read.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TpacketStats
    {
        public uint Packets;
        public uint Drops;
    }

    /// <summary>struct sockaddr_ll (20 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int IfIndex;
        public ushort HaType;
        public byte PacketType;
        public byte HaLength;
        public ulong Address;
    }

    /// <summary>struct packet_mreq (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PacketMreq
    {
        public int IfIndex;
        public ushort Type;
        public ushort AddressLength;
        public ulong Address;
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (LP64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct mmsghdr: a msghdr and what the kernel sent of it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, void* address, uint length);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMMsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* message, int flags);

    /// <summary>An int-valued socket option; 0 or -1 with errno, as setsockopt(2).</summary>
    public static int SetInt(int fd, int level, int name, int value) => SetSockOpt(fd, level, name, &value, sizeof(int));
}
