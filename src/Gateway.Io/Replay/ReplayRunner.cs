using Gateway.DataPlane.Bindings;
using Gateway.Io.Pcap;

namespace Gateway.Io.Replay;

/// <summary>
/// A whole replay from names: opens the input (a file or <c>-</c> for standard input), writes the output to a
/// temporary file renamed into place only when the whole input was read (or to standard output for <c>-</c>).
/// </summary>
public static class ReplayRunner
{
    public static async Task<ReplayResult> RunAsync(
        string inputPath, string outputPath, IReadOnlyList<ReplayBinding> bindings, IReadOnlyList<BindingEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputPath);
        ArgumentNullException.ThrowIfNull(outputPath);
        string source = inputPath == "-" ? "standard input" : inputPath;
        Stream input = inputPath == "-"
            ? Console.OpenStandardInput()
            : new FileStream(inputPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        await using (input.ConfigureAwait(false))
        {
            using OutputFile output = OutputFile.Open(outputPath, input.CanSeek ? input.Length : 0);
            var writer = new CaptureWriter(CaptureWriter.CreatePipe(output.Stream, leaveOpen: true), CaptureWriter.FormatForPath(outputPath), outputPath);
            await using (writer.ConfigureAwait(false))
            {
                var engine = new ReplayEngine(bindings, events, writer, source);
                ReplayResult result = await engine.RunAsync(input, cancellationToken).ConfigureAwait(false);
                await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
                output.Commit();
                return result;
            }
        }
    }
}
