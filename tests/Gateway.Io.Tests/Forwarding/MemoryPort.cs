using System.Collections.Concurrent;
using Gateway.Io.Ports;
using Gateway.Io.Tap;

namespace Gateway.Io.Forwarding.Tests;

/// <summary>
/// A port in memory, for what no kernel can be made to hand the data path: headers with contradicting fields, GSO
/// super-frames of a chosen shape. Each queue has a real eventfd the worker polls; frames injected into a queue are
/// taken by its worker; what the data path sends is recorded with its header and the queue it went out on.
/// </summary>
internal sealed unsafe class MemoryPort : IFramePort
{
    private readonly MemoryQueue[] _queues;

    public MemoryPort(string name, int queues = 1, bool acceptsGso = true, int maxFrameLength = 65_535 + 64)
    {
        Name = name;
        AcceptsGso = acceptsGso;
        MaxFrameLength = maxFrameLength;
        _queues = [.. Enumerable.Range(0, queues).Select(i => new MemoryQueue(this, i))];
    }

    public string Name { get; }

    public int QueueCount => _queues.Length;

    public int MaxFrameLength { get; }

    public bool AcceptsGso { get; }

    /// <summary>Frames sent, in order: the frame, its header, the queue (-1: SendControl).</summary>
    public BlockingCollection<(byte[] Frame, VirtioNetHeader Header, int Queue)> Sent { get; } = [];

    public IPortQueue Queue(int index) => _queues[index];

    public void Inject(byte[] frame, VirtioNetHeader header = default, int queue = 0) => _queues[queue].Inject(frame, header);

    /// <summary>The next frame sent that matches, within a few seconds; null when none came.</summary>
    public (byte[] Frame, VirtioNetHeader Header, int Queue)? Next(Func<byte[], bool>? match = null, int milliseconds = 5000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(milliseconds);
        while (DateTime.UtcNow < deadline)
        {
            if (Sent.TryTake(out var sent, 100) && (match is null || match(sent.Frame)))
            {
                return sent;
            }
        }
        return null;
    }

    public bool SendControl(ReadOnlySpan<byte> frame)
    {
        Sent.Add((frame.ToArray(), VirtioNetHeader.None, -1));
        return true;
    }

    public PortKernelDrops KernelDrops() => new(Frames: 7, Known: true);

    public void Dispose()
    {
        foreach (var queue in _queues)
        {
            queue.Dispose();
        }
    }

    private sealed class MemoryQueue(MemoryPort port, int index) : IPortQueue, IDisposable
    {
        private readonly ConcurrentQueue<(byte[] Frame, VirtioNetHeader Header)> _frames = new();
        private int _fd = LibC.EventFd(0, LibC.EfdNonBlock | LibC.EfdCloExec);

        public int PollDescriptor => Volatile.Read(ref _fd);

        public void Inject(byte[] frame, VirtioNetHeader header)
        {
            _frames.Enqueue((frame, header));
            Signal();
        }

        private void Signal()
        {
            ulong one = 1;
            LibC.Write(_fd, (byte*)&one, sizeof(ulong));
        }

        public int Receive(FrameBatch batch)
        {
            ulong value;
            LibC.Read(_fd, (byte*)&value, sizeof(ulong)); // clear the signal; frames are in the queue
            int count = 0;
            while (count < batch.Capacity && _frames.TryDequeue(out var item))
            {
                item.Frame.CopyTo(batch.Slot(count));
                batch.SetLength(count, item.Frame.Length, item.Frame.Length);
                batch.Offload(count) = item.Header;
                count++;
            }
            if (!_frames.IsEmpty)
            {
                Signal(); // more than a batch: keep the descriptor readable
            }
            return count;
        }

        public bool Send(ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
        {
            port.Sent.Add((frame.ToArray(), offload, index));
            return true;
        }

        public void Flush()
        {
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
