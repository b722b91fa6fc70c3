using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Gateway.CaptureGenerator;

/// <summary>
/// <c>corpus [folder]</c>: writes the captures/ corpus. <c>bench --frames N --out FILE --bindings FILE --tcprewrite-map FILE</c>:
/// writes a big capture of small frames for perf/replay-vs-tcprewrite.sh.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length >= 1 && args[0] == "corpus")
        {
            string folder = args.Length > 1 ? args[1] : FindCapturesFolder();
            WriteCorpus(folder);
            return 0;
        }
        if (args.Length >= 1 && args[0] == "bench")
        {
            var options = new Dictionary<string, string>();
            for (int i = 1; i + 1 < args.Length; i += 2)
            {
                options[args[i]] = args[i + 1];
            }
            Bench.Write(long.Parse(options.GetValueOrDefault("--frames", "10000000"), CultureInfo.InvariantCulture),
                options["--out"], options["--bindings"], options["--tcprewrite-map"],
                int.Parse(options.GetValueOrDefault("--binding-count", "64"), CultureInfo.InvariantCulture));
            return 0;
        }
        Console.Error.WriteLine("usage: Gateway.CaptureGenerator corpus [folder] | bench --frames N --out FILE --bindings FILE --tcprewrite-map FILE [--binding-count N]");
        return 2;
    }

    private static string FindCapturesFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
            {
                return Path.Combine(dir.FullName, "captures");
            }
        }
        throw new InvalidOperationException("cannot find the repository (Gateway.sln) above " + AppContext.BaseDirectory);
    }

    /// <summary>Writes every file of the corpus and the manifest the golden tests read.</summary>
    public static void WriteCorpus(string folder)
    {
        Directory.CreateDirectory(folder);
        var manifest = new List<Dictionary<string, object?>>();
        var bindingFiles = new Dictionary<string, (string, string)[]>
        {
            ["corpus.bindings.json"] = Corpus.Bindings,
            ["mixed.bindings.json"] = Corpus.Bindings,
            ["rebinding.bindings.json"] = [("198.51.100.20", "10.0.0.7")],
        };
        foreach (var (name, bindings) in bindingFiles)
        {
            File.WriteAllText(Path.Combine(folder, name), BindingsJson(bindings));
        }
        foreach (var c in Corpus.Build())
        {
            File.WriteAllBytes(Path.Combine(folder, c.InputFile), c.InputBytes());
            File.WriteAllBytes(Path.Combine(folder, c.ExpectedFile), c.ExpectedBytes());
            string stats = c.Name + ".expected-stats.json";
            File.WriteAllText(Path.Combine(folder, stats), c.ExpectedStatsJson() + "\n");
            if (c.EventsFile != null)
            {
                File.WriteAllText(Path.Combine(folder, c.EventsFile), string.Join("\n", c.EventLines) + "\n");
            }
            manifest.Add(new Dictionary<string, object?>
            {
                ["name"] = c.Name,
                ["input"] = c.InputFile,
                ["bindings"] = c.BindingsFile,
                ["events"] = c.EventsFile,
                ["expected"] = c.ExpectedFile,
                ["stats"] = stats,
                ["description"] = c.Description,
                ["frames"] = c.Items.Select((item, i) => $"{i + 1}: {item.Note} -> {(item.Drop ?? "forwarded")}").ToArray(),
            });
        }
        File.WriteAllText(Path.Combine(folder, "corpus.json"),
            JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
    }

    public static string BindingsJson(IEnumerable<(string Public, string Private)> bindings)
    {
        var text = new StringBuilder("{\"bindings\":[\n");
        text.AppendJoin(",\n", bindings.Select(b => $"  {{\"publicIp\":\"{b.Public}\",\"privateIp\":\"{b.Private}\"}}"));
        text.Append("\n]}\n");
        return text.ToString();
    }
}

/// <summary>The benchmark's capture: small UDP frames over many bindings, half inbound, half outbound.</summary>
public static class Bench
{
    public static void Write(long frames, string output, string bindingsPath, string tcprewriteMapPath, int bindingCount)
    {
        if (bindingCount is < 1 or > 200)
        {
            throw new ArgumentOutOfRangeException(nameof(bindingCount), "1 to 200 bindings");
        }
        var bindings = Enumerable.Range(0, bindingCount)
            .Select(i => ($"198.51.100.{i + 10}", $"10.0.{i / 200}.{(i % 200) + 10}")).ToArray();
        File.WriteAllText(bindingsPath, Program.BindingsJson(bindings));
        // tcprewrite: --srcipmap rewrites sources (outbound: private → public), --dstipmap destinations (inbound).
        string src = string.Join(",", bindings.Select(b => $"{b.Item2}/32:{b.Item1}/32"));
        string dst = string.Join(",", bindings.Select(b => $"{b.Item1}/32:{b.Item2}/32"));
        File.WriteAllText(tcprewriteMapPath, $"--srcipmap={src} --dstipmap={dst}\n");

        // 256 distinct template frames (every binding, inbound and outbound), written round-robin.
        var templates = new List<byte[]>();
        for (int i = 0; i < 256; i++)
        {
            var (pub, priv) = bindings[i % bindingCount];
            string peer = $"203.0.113.{(i % 250) + 1}";
            byte[] ip = i % 2 == 0
                ? Frames.Udp(peer, pub, (ushort)(40000 + i), 53, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18], id: (ushort)i)
                : Frames.Udp(priv, peer, 53, (ushort)(40000 + i), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18], id: (ushort)i);
            templates.Add(Frames.Ethernet(ip));
        }

        using var file = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header.Slice(4), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header.Slice(6), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(16), 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(20), 1);
        file.Write(header);
        Span<byte> record = stackalloc byte[16];
        long start = 1_700_000_000L * 1_000_000;
        for (long n = 0; n < frames; n++)
        {
            byte[] frame = templates[(int)(n % templates.Count)];
            long us = start + n;
            BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(us / 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record.Slice(4), (uint)(us % 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record.Slice(8), (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record.Slice(12), (uint)frame.Length);
            file.Write(record);
            file.Write(frame);
        }
    }
}
