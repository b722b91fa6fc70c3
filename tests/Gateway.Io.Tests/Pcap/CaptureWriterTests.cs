using System.Diagnostics;
using System.IO.Pipelines;
using Gateway.CaptureGenerator;

namespace Gateway.Io.Pcap.Tests;

public sealed class CaptureWriterTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gateway-writer-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Copies a capture through the project's reader and writer, frame by frame.</summary>
    private readonly struct Copier(CaptureWriter writer) : ICaptureHandler
    {
        public void OnInterface(CaptureInterface captureInterface) => writer.AddInterface(captureInterface);

        public void OnFrame(in CaptureFrame frame, Span<byte> data) => writer.WriteFrame(frame, data);

        public ValueTask OnBatchCompletedAsync(CancellationToken cancellationToken) => writer.FlushIfNeededAsync(cancellationToken);
    }

    private string Copy(string input, string outputName)
    {
        string output = Path.Combine(_folder, outputName);
        using (var file = OutputFile.Open(output))
        {
            var writer = new CaptureWriter(CaptureWriter.CreatePipe(file.Stream, leaveOpen: true), CaptureWriter.FormatForPath(output), output);
            var reader = new CaptureReader(CaptureReader.CreatePipe(File.OpenRead(input)), input);
            reader.ReadAllAsync(new Copier(writer)).GetAwaiter().GetResult();
            writer.CompleteAsync().AsTask().GetAwaiter().GetResult();
            file.Commit();
        }
        return output;
    }

    public static IEnumerable<object[]> CopyCases() =>
        Repository.CaptureFiles().SelectMany(f => new[] { new object[] { f[0], ".pcap" }, new object[] { f[0], ".pcapng" } });

    [Theory]
    [MemberData(nameof(CopyCases))]
    public void WrittenCapture_SharpPcapReadsTheSameFramesBack(string file, string extension)
    {
        string input = Path.Combine(Repository.Captures, file);
        string output = Copy(input, Path.GetFileNameWithoutExtension(file) + ".copy" + extension);

        var expected = SharpPcapOracle.Read(input);
        var actual = SharpPcapOracle.Read(output);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Data, actual[i].Data);
            Assert.Equal(expected[i].OriginalLength, actual[i].OriginalLength);
            Assert.Equal(expected[i].TimeUs, actual[i].TimeUs);
        }
        // And our own reader sees the same nanoseconds it read from the input.
        Assert.Equal(OurReader.ReadFile(input).Frames.Select(f => (f.TimeNs, f.OriginalLength)), OurReader.ReadFile(output).Frames.Select(f => (f.TimeNs, f.OriginalLength)));
    }

    [Theory]
    [MemberData(nameof(CopyCases))]
    public void WrittenCapture_CapinfosAndTsharkReadItWithoutComplaint(string file, string extension)
    {
        string input = Path.Combine(Repository.Captures, file);
        string output = Copy(input, Path.GetFileNameWithoutExtension(file) + ".tools" + extension);
        int frames = OurReader.ReadFile(input).Frames.Count;

        var (code, stdout, stderr) = Run("capinfos", "-M", "-c", "-T", output);
        Assert.True(code == 0, $"capinfos exit {code}: {stderr}");
        Assert.EndsWith("\t" + frames, stdout.Trim(), StringComparison.Ordinal);

        (code, stdout, stderr) = Run("tshark", "-r", output);
        Assert.True(code == 0, $"tshark exit {code}: {stderr}");
        Assert.Equal("", WithoutRootWarning(stderr));
        Assert.Equal(frames, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void PcapngWithSeveralLinkTypes_ToPcap_IsRefusedNamingBoth()
    {
        byte[] bytes = CaptureFiles.Pcapng([new CaptureRecord(1, [1], 1, 0), new CaptureRecord(2, [2], 1, 1)], [new InterfaceSpec(1, 0), new InterfaceSpec(276, 0)], false, true);
        string input = Path.Combine(_folder, "two-link-types.pcapng");
        File.WriteAllBytes(input, bytes);
        var e = Assert.Throws<CaptureFormatException>(() => Copy(input, "two-link-types.pcap"));
        Assert.Contains("1 (Ethernet)", e.Message, StringComparison.Ordinal);
        Assert.Contains("276 (Linux cooked SLL2)", e.Message, StringComparison.Ordinal);
        Assert.Contains(".pcapng", e.Message, StringComparison.Ordinal);
        // The failed output was never renamed into place, and its temporary file is gone.
        Assert.Equal(["two-link-types.pcapng"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }

    [Fact]
    public void PcapngWithSeveralLinkTypes_ToPcapng_KeepsEveryInterface()
    {
        var interfaces = new[] { new InterfaceSpec(1, 0), new InterfaceSpec(276, 0, 9) };
        byte[] bytes = CaptureFiles.Pcapng([new CaptureRecord(1_000, [1, 2], 2, 0), new CaptureRecord(2_000_000_001, [3], 1, 1)], interfaces, true, false);
        string input = Path.Combine(_folder, "two-link-types.pcapng");
        File.WriteAllBytes(input, bytes);
        string output = Copy(input, "copy.pcapng");
        var (frames, declared, _) = OurReader.ReadFile(output);
        Assert.Equal([1, 276], declared.Select(i => i.LinkType));
        Assert.Equal([(0, 1_000L), (1, 2_000_000_001L)], frames.Select(f => (f.Interface, f.TimeNs)));
        var (code, _, stderr) = Run("tshark", "-r", output);
        Assert.True(code == 0, stderr);
    }

    [Fact]
    public void EmptyCapture_StillGetsAFileHeader()
    {
        string input = Path.Combine(_folder, "empty.pcap");
        File.WriteAllBytes(input, CaptureFiles.Pcap([], 276, 65535, nanoseconds: true, bigEndian: false));
        string output = Copy(input, "empty.copy.pcap");
        Assert.Equal(File.ReadAllBytes(input), File.ReadAllBytes(output));
        Assert.Empty(SharpPcapOracle.Read(output));
    }

    private static string WithoutRootWarning(string stderr) =>
        string.Join('\n', stderr.Split('\n').Where(l => l.Length > 0 && !l.Contains("Running as user \"root\"", StringComparison.Ordinal)));

    internal static (int Code, string Stdout, string Stderr) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }
}
