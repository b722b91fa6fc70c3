using System.Globalization;
using System.Runtime.InteropServices;

namespace Gateway.DataPlane.Memory;

/// <summary>Which pages back a block of data-plane memory.</summary>
public enum PageKind : byte
{
    /// <summary>Ordinary 4 KiB pages (small blocks, huge pages turned off, or the kernel refused both kinds below).</summary>
    Small,
    /// <summary>Transparent huge pages asked for with <c>madvise(MADV_HUGEPAGE)</c> on a 2 MiB-aligned mapping.</summary>
    TransparentHuge,
    /// <summary>Explicit 2 MiB pages from the hugetlbfs pool (<c>mmap(MAP_HUGETLB)</c>), when the administrator reserved some.</summary>
    HugeTlb,
}

/// <summary>What the data plane may ask the kernel for; process-wide, set before the tables are built.</summary>
public enum HugePagePolicy : byte
{
    /// <summary>hugetlbfs pages when enough are reserved (<c>HugePages_Free</c>), else transparent huge pages, else small pages.</summary>
    Auto,
    /// <summary>Transparent huge pages only (never the hugetlbfs pool).</summary>
    Transparent,
    /// <summary>Small pages only: the A/B switch for measuring what huge pages give.</summary>
    Off,
}

/// <summary>
/// Zeroed, cache-line-aligned native memory for the large per-binding structures (the binding index, per-worker
/// counters), on 2 MiB pages where the kernel allows it, falling back quietly to ordinary pages.
/// </summary>
/// <remarks>
/// <para>Why: at a million bindings the index and counters span tens of megabytes read at random; with 4 KiB pages
/// nearly every access also misses the TLB (a page walk, nested under virtualisation). 2 MiB pages cover 512 times
/// as much per TLB entry. Measured with <c>gateway bench --huge-pages off|auto</c> (perf/README.md).</para>
/// <para>Lifetime: the block is unmapped by its finalizer (or <see cref="Dispose"/>). Lock-free readers hold the owning
/// object while they read (<see cref="GC.KeepAlive"/>), so an index replaced by a rebuild is freed only once no
/// reader can still be probing it: the garbage collector is the grace period. The mapping's size is reported to the
/// collector (<see cref="GC.AddMemoryPressure"/>) so that replaced blocks do not pile up unseen.</para>
/// </remarks>
public sealed unsafe partial class LargePageMemory : IDisposable
{
    /// <summary>Blocks smaller than this use ordinary aligned memory: a huge page would be mostly empty.</summary>
    public const long HugePageThreshold = 1L << 20;

    private const long HugePageSize = 2L << 20;
    private const int ProtRead = 0x1;
    private const int ProtWrite = 0x2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;
    private const int MapNoReserve = 0x4000;
    private const int MapHugeTlb = 0x40000;
    private const int MapPopulate = 0x8000;
    private const int MadvHugePage = 14;
    private const int MadvPopulateWrite = 23;
    private static readonly nint s_mapFailed = -1;

    private static HugePagePolicy s_policy = HugePagePolicy.Auto;

    private byte* _pointer;
    private readonly byte* _mapping;
    private readonly nuint _mappingLength;
    private readonly bool _native;

    /// <summary>The policy for blocks allocated from now on (<c>gateway bench --huge-pages</c>).</summary>
    public static HugePagePolicy Policy
    {
        get => s_policy;
        set => s_policy = value;
    }

    private LargePageMemory(byte* pointer, long length, PageKind kind, byte* mapping, nuint mappingLength, bool native)
    {
        _pointer = pointer;
        Length = length;
        Kind = kind;
        _mapping = mapping;
        _mappingLength = mappingLength;
        _native = native;
        GC.AddMemoryPressure(Math.Max(1, length));
    }

    /// <summary>The first byte (64-byte aligned; 2 MiB aligned for huge pages).</summary>
    public byte* Start => _pointer;

    public long Length { get; }

    /// <summary>What the kernel was asked for and agreed to (see <see cref="HugeBytesResident"/> for what it delivered).</summary>
    public PageKind Kind { get; }

    /// <summary>Allocates <paramref name="length"/> zeroed bytes.</summary>
    public static LargePageMemory Allocate(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        if (length >= HugePageThreshold && OperatingSystem.IsLinux() && s_policy != HugePagePolicy.Off)
        {
            long rounded = (length + HugePageSize - 1) & ~(HugePageSize - 1);
            if (s_policy == HugePagePolicy.Auto && FreeHugeTlbBytes() >= rounded)
            {
                nint hugetlb = MemoryMap(0, (nuint)rounded, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapHugeTlb | MapPopulate, -1, 0);
                if (hugetlb != s_mapFailed)
                {
                    return new LargePageMemory((byte*)hugetlb, length, PageKind.HugeTlb, (byte*)hugetlb, (nuint)rounded, native: true);
                }
            }
            // Transparent huge pages: over-map by one huge page so a 2 MiB-aligned start exists, ask for huge pages on it.
            nuint mappingLength = (nuint)(rounded + HugePageSize);
            nint mapping = MemoryMap(0, mappingLength, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
            if (mapping != s_mapFailed)
            {
                byte* aligned = (byte*)(((long)mapping + HugePageSize - 1) & ~(HugePageSize - 1));
                bool huge = MemoryAdvise((nint)aligned, (nuint)rounded, MadvHugePage) == 0;
                Populate(aligned, rounded);
                return new LargePageMemory(aligned, length, huge ? PageKind.TransparentHuge : PageKind.Small, (byte*)mapping, mappingLength, native: true);
            }
        }
        void* block = NativeMemory.AlignedAlloc((nuint)length, 64);
        NativeMemory.Clear(block, (nuint)length);
        return new LargePageMemory((byte*)block, length, PageKind.Small, null, 0, native: false);
    }

    /// <summary>
    /// Faults every page in now, while the tables are built, instead of on the frame path: with transparent huge pages
    /// the first touch of each 2 MiB page can stall for the kernel's compaction (a worker once missed a whole measured
    /// second that way at 4M bindings). <c>MADV_POPULATE_WRITE</c> (Linux 5.14) does it in one call; else one write a page.
    /// </summary>
    private static void Populate(byte* start, long length)
    {
        if (MemoryAdvise((nint)start, (nuint)length, MadvPopulateWrite) == 0)
        {
            return;
        }
        for (long offset = 0; offset < length; offset += 4096)
        {
            start[offset] = 0;
        }
    }

    /// <summary>
    /// Bytes of this block the kernel actually backs with huge pages right now (from <c>/proc/self/smaps</c>:
    /// <c>AnonHugePages</c> for transparent ones, the whole block for hugetlbfs), or -1 where that cannot be read.
    /// </summary>
    public long HugeBytesResident()
    {
        if (Kind == PageKind.HugeTlb)
        {
            return Length;
        }
        if (Kind == PageKind.Small)
        {
            return 0;
        }
        try
        {
            long start = (long)_pointer, end = start + Length, huge = 0;
            bool inside = false;
            foreach (string line in File.ReadLines("/proc/self/smaps"))
            {
                int dash = line.IndexOf('-', StringComparison.Ordinal);
                int space = line.IndexOf(' ', StringComparison.Ordinal);
                if (dash > 0 && space > dash && IsHex(line.AsSpan(0, dash)))
                {
                    long from = long.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    long to = long.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    inside = from < end && to > start;
                }
                else if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                {
                    huge += long.Parse(line.AsSpan(14).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                }
            }
            return Math.Min(huge, Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return -1;
        }
    }

    private static bool IsHex(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }
        return text.Length > 0;
    }

    /// <summary>Free pages in the hugetlbfs pool (<c>HugePages_Free × Hugepagesize</c>), 0 when none are reserved.</summary>
    private static long FreeHugeTlbBytes()
    {
        try
        {
            long free = 0, size = 0;
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("HugePages_Free:", StringComparison.Ordinal))
                {
                    free = long.Parse(line.AsSpan(15).Trim(), CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("Hugepagesize:", StringComparison.Ordinal))
                {
                    size = long.Parse(line.AsSpan(13).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                }
            }
            return size == HugePageSize ? free * size : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }

    /// <summary>A short description for reports: "2 MiB pages (transparent, 30 of 32 MiB resident)".</summary>
    public string Describe()
    {
        return Kind switch
        {
            PageKind.HugeTlb => "2 MiB pages (hugetlbfs)",
            PageKind.TransparentHuge => HugeBytesResident() is long huge and >= 0
                ? string.Create(CultureInfo.InvariantCulture, $"2 MiB pages (transparent; {huge >> 20} of {Length >> 20} MiB on huge pages)")
                : "2 MiB pages (transparent, asked for)",
            _ => Length >= HugePageThreshold ? "4 KiB pages (huge pages off or refused)" : "4 KiB pages (small block)",
        };
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~LargePageMemory() => Free();

    private void Free()
    {
        byte* pointer = _pointer;
        if (pointer == null)
        {
            return;
        }
        _pointer = null;
        if (_native)
        {
            _ = MemoryUnmap((nint)_mapping, _mappingLength);
        }
        else
        {
            NativeMemory.AlignedFree(pointer);
        }
        GC.RemoveMemoryPressure(Math.Max(1, Length));
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial nint MemoryMap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int MemoryUnmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int MemoryAdvise(nint address, nuint length, int advice);
}
