using System.Diagnostics;
using Gateway.Io.Tap;

namespace Gateway.Io.Forwarding;

/// <summary>How the data path's worker threads are scheduled (<c>gateway run --worker-priority</c>).</summary>
public enum WorkerPriority
{
    /// <summary>As any thread of the process (nice 0, SCHED_OTHER).</summary>
    Normal,

    /// <summary>Nice -10: an ordinary thread that gets about ten times the CPU share of a nice-0 one when it wants it.</summary>
    High,

    /// <summary>
    /// SCHED_FIFO priority 10 while the worker keeps up, with a budget as the kernel's own receive processing has one:
    /// after 2 ms of full batches back to back it drops to nice -10 until it next waits (see <see cref="WorkerScheduling"/>).
    /// Falls back to <see cref="High"/> quietly where realtime scheduling is not permitted.
    /// </summary>
    Realtime,
}

/// <summary>
/// The scheduling of one worker thread, chosen and changed by the worker itself.
/// </summary>
/// <remarks>
/// <para>Why realtime: the kernel forwards in softirq context, which runs before any task. A worker that sleeps in
/// poll(2) must first be scheduled when a frame arrives; on a busy machine an ordinary thread, even at nice -10, waits
/// behind the running tasks for milliseconds (measured in the lab at a load average of ~30: ping p99 4 ms at nice -10,
/// 0.14 ms with SCHED_FIFO; perf/README.md, "TAP ports").</para>
/// <para>Why a budget: a realtime thread that never sleeps starves every ordinary task on its CPU, the senders whose
/// frames it forwards included. The kernel bounds softirq work the same way (net.core.netdev_budget_usecs, 2 ms, then
/// ksoftirqd, an ordinary thread, takes over): a worker that has found frames waiting every time it looked, for 2 ms,
/// drops to SCHED_OTHER (nice -10) and takes SCHED_FIFO back the next time it finds its queues empty, i.e. once it
/// has caught up.</para>
/// <para>Owned by its worker thread; the counters are read by the stats writer (64-bit loads).</para>
/// </remarks>
internal sealed unsafe class WorkerScheduling
{
    private const int RealtimePriority = 10;
    private const int HighNice = -10;
    private static readonly long s_budget = Stopwatch.Frequency / 500; // 2 ms

    private readonly int _tid;
    private readonly bool _realtimeAllowed;
    private bool _realtime;
    private long _busySince;
    private long _budgetExhausted;

    private WorkerScheduling(int tid, bool realtimeAllowed, string policy)
    {
        _tid = tid;
        _realtimeAllowed = realtimeAllowed;
        _realtime = realtimeAllowed;
        Policy = policy;
    }

    public string Policy { get; }

    public long BudgetExhausted => Volatile.Read(ref _budgetExhausted);

    /// <summary>Sets the calling thread's scheduling for <paramref name="priority"/>, as far as the process may.</summary>
    public static WorkerScheduling ForCurrentThread(WorkerPriority priority)
    {
        int tid = LibC.GetTid();
        if (priority == WorkerPriority.Normal)
        {
            return new WorkerScheduling(tid, false, "normal");
        }
        // Best effort: without CAP_SYS_NICE a negative nice is refused and the worker stays at 0.
        bool nice = LibC.SetPriority(LibC.PrioProcess, (uint)tid, HighNice) == 0;
        if (priority == WorkerPriority.Realtime && SetPolicy(tid, LibC.SchedFifo, RealtimePriority))
        {
            return new WorkerScheduling(tid, true, $"realtime (SCHED_FIFO {RealtimePriority}, 2 ms budget)");
        }
        return new WorkerScheduling(tid, false, nice ? $"nice {HighNice}" : "normal");
    }

    /// <summary>The worker is about to wait for frames: it has caught up, so it may be realtime again.</summary>
    public void Idle()
    {
        _busySince = 0;
        if (_realtimeAllowed && !_realtime)
        {
            _realtime = SetPolicy(_tid, LibC.SchedFifo, RealtimePriority);
        }
    }

    /// <summary>The worker found frames waiting without having to wait for them; past the budget it stops being realtime.</summary>
    public void Busy()
    {
        long now = Stopwatch.GetTimestamp();
        if (_busySince == 0)
        {
            _busySince = now;
        }
        else if (_realtime && now - _busySince > s_budget)
        {
            _realtime = !SetPolicy(_tid, LibC.SchedOther, 0);
            Volatile.Write(ref _budgetExhausted, _budgetExhausted + 1);
        }
    }

    private static bool SetPolicy(int tid, int policy, int priority)
    {
        int param = priority; // struct sched_param { int sched_priority; }
        return LibC.SchedSetScheduler(tid, policy, &param) == 0;
    }
}
