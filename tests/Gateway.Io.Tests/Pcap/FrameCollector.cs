using System.IO.Pipelines;

namespace Gateway.Io.Pcap.Tests;

/// <summary>One frame as the tests compare it: bytes, original length, time (ns since the epoch), interface.</summary>
internal sealed record ReadFrame(byte[] Data, int OriginalLength, long TimeNs, int Interface, int LinkType, long RecordNumber, long Offset);

/// <summary>Reads a capture with the project's reader into a list.</summary>
internal static class OurReader
{
    private sealed class Sink
    {
        public List<ReadFrame> Frames { get; } = [];
        public List<CaptureInterface> Interfaces { get; } = [];
    }

    private readonly struct Collector(Sink sink) : ICaptureHandler
    {
        public void OnInterface(CaptureInterface captureInterface) => sink.Interfaces.Add(captureInterface);

        public void OnFrame(in CaptureFrame frame, Span<byte> data) =>
            sink.Frames.Add(new ReadFrame(data.ToArray(), frame.OriginalLength, frame.Interface.ToNanoseconds(frame.Timestamp),
                frame.Interface.Index, frame.Interface.LinkType, frame.RecordNumber, frame.Offset));

        public ValueTask OnBatchCompletedAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    public static (List<ReadFrame> Frames, List<CaptureInterface> Interfaces, CaptureReadResult Result) Read(byte[] bytes, int bufferSize = 4096)
    {
        var sink = new Sink();
        var pipe = PipeReader.Create(new MemoryStream(bytes), new StreamPipeReaderOptions(bufferSize: bufferSize, minimumReadSize: Math.Min(bufferSize, 1024)));
        var reader = new CaptureReader(pipe, "test input");
        CaptureReadResult result = reader.ReadAllAsync(new Collector(sink)).GetAwaiter().GetResult();
        return (sink.Frames, sink.Interfaces, result);
    }

    public static (List<ReadFrame> Frames, List<CaptureInterface> Interfaces, CaptureReadResult Result) ReadFile(string path, int bufferSize = 1 << 20) =>
        Read(File.ReadAllBytes(path), bufferSize);
}
