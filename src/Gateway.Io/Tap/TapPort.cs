using System.Runtime.InteropServices;
using System.Text;
using Gateway.Io.L2;
using Gateway.Io.Ports;

namespace Gateway.Io.Tap;

/// <summary>
/// A Linux TAP device (<c>/dev/net/tun</c>, <c>IFF_TAP | IFF_NO_PI</c>): frames the kernel sends out of the
/// interface are read here, frames written here arrive at the interface as if from a wire.
/// </summary>
/// <remarks>
/// <para>The device is not persistent (no <c>TUNSETPERSIST</c>): it exists while the descriptor is open, so
/// <see cref="Dispose"/> (or the process dying, however it dies) removes it.</para>
/// <para>The interface may be moved to another network namespace after creation
/// (<c>ip link set NAME netns NS</c>): the descriptor stays bound to the device and keeps working; the move
/// takes the link down, so whoever moves it brings it up there.</para>
/// <para>The descriptor is non-blocking: <see cref="Receive"/> waits in <c>poll(2)</c> with a timeout, so a worker
/// notices shutdown within one timeout, then reads until <c>EAGAIN</c> to fill a batch.</para>
/// </remarks>
internal sealed unsafe class TapPort : IFramePort
{
    // linux/if_tun.h, linux/sockios.h, linux/if.h
    private const nuint TunSetIff = 0x400454CA; // _IOW('T', 202, int)
    private const nuint SiocGIfFlags = 0x8913;
    private const nuint SiocSIfFlags = 0x8914;
    private const nuint SiocSIfHwAddr = 0x8924;
    private const short IffTap = 0x0002;
    private const short IffNoPi = 0x1000;
    private const short IffUp = 0x0001;
    private const ushort ArpHrdEther = 1;

    /// <summary>Jumbo frames plus four VLAN tags fit; without <c>IFF_VNET_HDR</c> the kernel never hands over more than the MTU.</summary>
    public const int DefaultMaxFrameLength = 16 * 1024;

    private int _fd;

    private TapPort(string name, int fd)
    {
        Name = name;
        _fd = fd;
    }

    public string Name { get; }

    public int MaxFrameLength => DefaultMaxFrameLength;

    /// <summary>
    /// Creates TAP device <paramref name="name"/> in the caller's network namespace, sets the kernel side's MAC
    /// to <paramref name="interfaceMac"/> when given, and brings the link up.
    /// </summary>
    /// <exception cref="IOException">The device could not be created or configured; the message says why and what to do.</exception>
    public static TapPort Create(string name, MacAddress? interfaceMac = null)
    {
        ValidateName(name);
        int fd = LibC.Open("/dev/net/tun", LibC.ORdWr | LibC.ONonBlock | LibC.OCloExec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(
                $"Cannot open /dev/net/tun to create TAP device '{name}': {LibC.ErrorText(errno)}. "
                + "TAP devices need root (CAP_NET_ADMIN) and the tun module (modprobe tun).");
        }
        try
        {
            byte* ifr = stackalloc byte[LibC.IfReqSize];
            WriteRequest(ifr, name);
            *(short*)(ifr + LibC.IfNameSize) = IffTap | IffNoPi;
            if (LibC.Ioctl(fd, TunSetIff, ifr) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException(
                    $"Cannot create TAP device '{name}' (TUNSETIFF): {LibC.ErrorText(errno)}. "
                    + $"If an interface of that name exists already (ip link show {name}), pick another name or delete it.");
            }
            var port = new TapPort(name, fd);
            fd = -1; // owned by the port from here on
            try
            {
                port.Configure(interfaceMac);
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
            if (fd >= 0)
            {
                LibC.Close(fd);
            }
        }
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
    private void Configure(MacAddress? interfaceMac)
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

    public int Receive(FrameBatch batch, int timeoutMilliseconds)
    {
        int fd = Volatile.Read(ref _fd);
        if (fd < 0)
        {
            return 0;
        }
        var pollFd = new LibC.PollFd { Fd = fd, Events = LibC.PollIn };
        int ready = LibC.Poll(&pollFd, 1, timeoutMilliseconds);
        if (ready <= 0)
        {
            return 0; // timeout or EINTR: the worker checks for shutdown and comes back
        }
        if ((pollFd.ReturnedEvents & LibC.PollIn) == 0)
        {
            // POLLERR/POLLHUP: the device went away under us (its namespace was deleted). Do not spin.
            Thread.Sleep(timeoutMilliseconds);
            return 0;
        }
        int count = 0;
        while (count < batch.Capacity)
        {
            Span<byte> slot = batch.Slot(count);
            nint n;
            fixed (byte* p = slot)
            {
                n = LibC.Read(fd, p, (nuint)slot.Length);
            }
            if (n <= 0)
            {
                break; // EAGAIN: the queue is drained; anything else shows up again at the next poll
            }
            batch.SetLength(count, (int)n, (int)n);
            count++;
        }
        return count;
    }

    public bool Send(ReadOnlySpan<byte> frame)
    {
        int fd = Volatile.Read(ref _fd);
        if (fd < 0)
        {
            return false;
        }
        fixed (byte* p = frame)
        {
            // One write is one frame (tun's chardev semantics); concurrent writers never interleave.
            return LibC.Write(fd, p, (nuint)frame.Length) == frame.Length;
        }
    }

    /// <summary>
    /// Closes the descriptor, which removes the device. Call after the worker has stopped receiving. (The descriptor is
    /// close-on-exec; a child forked at this very moment holds a copy until its exec, and the device goes then.)
    /// </summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            LibC.Close(fd);
        }
    }
}
