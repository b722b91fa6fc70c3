using System.Runtime.InteropServices;

namespace Gateway.Io.Tap;

/// <summary>The few libc calls the TAP port needs (Linux, x86-64 and arm64 share these constants).</summary>
internal static unsafe partial class LibC
{
    public const int ORdOnly = 0x0;
    public const int ORdWr = 0x2;
    public const int ONonBlock = 0x800;
    public const int OCloExec = 0x80000;

    public const int AfInet = 2;
    public const int SockDgram = 2;
    public const int SockCloExec = 0x80000;

    public const short PollIn = 0x1;
    public const short PollErr = 0x8;
    public const short PollHup = 0x10;
    public const short PollNval = 0x20;

    public const int EIntr = 4;
    public const int EAgain = 11;
    public const int EBusy = 16;
    public const int EInval = 22;

    /// <summary>setns(2) nstype for a network namespace (linux/sched.h).</summary>
    public const int CloneNewNet = 0x40000000;

    /// <summary>struct ifreq: IFNAMSIZ name, then a union of at most 24 bytes (linux/if.h).</summary>
    public const int IfReqSize = 40;
    public const int IfNameSize = 16;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* argument);

    /// <summary>ioctl(2) with an integer argument passed by value (TUNSETOFFLOAD, TUNGETDEVNETNS).</summary>
    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int IoctlValue(int fd, nuint request, nuint argument);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "readv", SetLastError = true)]
    public static partial nint ReadV(int fd, IoVec* vectors, int count);

    [LibraryImport("libc", EntryPoint = "writev", SetLastError = true)]
    public static partial nint WriteV(int fd, IoVec* vectors, int count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nstype);

    /// <summary>eventfd(2) flags.</summary>
    public const int EfdNonBlock = 0x800;
    public const int EfdCloExec = 0x80000;

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport("libc", EntryPoint = "gettid")]
    public static partial int GetTid();

    /// <summary>setpriority(2) on one thread (PRIO_PROCESS with a thread id: Linux's nice values are per thread).</summary>
    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    public static partial int SetPriority(int which, uint who, int priority);

    public const int PrioProcess = 0;

    public const int SchedOther = 0;
    public const int SchedFifo = 1;

    /// <summary>sched_setscheduler(2) on one thread (a thread id: Linux schedules threads).</summary>
    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    public static partial int SchedSetScheduler(int tid, int policy, int* param);

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial nint StrError(int errno);

    /// <summary>The C library's text for an errno, for messages.</summary>
    public static string ErrorText(int errno) => Marshal.PtrToStringUTF8(StrError(errno)) ?? $"errno {errno}";

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }
}
