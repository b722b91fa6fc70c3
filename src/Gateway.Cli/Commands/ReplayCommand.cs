using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Policing;
using Gateway.DataPlane.Translation;
using Gateway.Cli.Infrastructure;
using Gateway.Io.Pcap;
using Gateway.Io.Replay;

namespace Gateway.Cli.Commands;

/// <summary>
/// <c>gateway replay &lt;input&gt; -o &lt;output&gt; --bindings &lt;bindings.json&gt; [--stats-json &lt;file&gt;] [--events &lt;file&gt;]</c>:
/// translates a pcap/pcapng capture through a set of bindings, as the gateway would, and writes what it forwards.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var command = new Command("replay", "translate a pcap/pcapng capture through a set of bindings").WithEpilog("""
            Direction is inferred per frame: a bound public destination is translated to its private address
            (inbound), a bound private source to its public address (outbound), both for hairpin traffic.
            Dropped frames are left out of the output and counted by reason.
            Exit codes: 0 done, 1 unreadable or corrupt input, 2 usage or configuration error (nothing written).
            """);
        var input = command.Define(CliSymbols.Positional("input", "pcap or pcapng capture (Ethernet, raw IPv4, Linux SLL/SLL2), or - for standard input",
            "input capture", "the input capture is missing (a file name, or - for standard input).", kind: ValueKind.File));
        var output = command.Define(CliSymbols.Text("-o", "file", "translated capture: pcap, or pcapng when FILE ends in .pcapng; - for standard output",
            required: true, kind: ValueKind.File, aliases: "--output"));
        var bindings = command.Define(CliSymbols.Text("--bindings", "file", """{"bindings":[{"publicIp":"198.51.100.10","privateIp":"10.0.0.5"}, ...]}; an entry may add "bandwidthOutMbps" and "bandwidthInMbps" (inbound defaults to 10, or to the outbound cap above 10): the policer then runs on the capture's timestamps""",
            required: true, kind: ValueKind.File));
        var stats = command.Define(CliSymbols.Text("--stats-json", "file", """write {"received":N,"transmitted":N,"dropped":N,"drops":{"<reason>":N,...}} (- for standard output)""",
            kind: ValueKind.File));
        var events = command.Define(CliSymbols.Text("--events", "file",
            """JSON lines {"at":<capture time, s>,"op":"bind"|"unbind"|"bandwidth","publicIp":...,"privateIp":...,"bandwidthOutMbps":...} applied when the replay reaches that capture time""",
            kind: ValueKind.File));
        command.SetRun(p => Run(p.GetValue(input)!, p.GetValue(output)!, p.GetValue(bindings)!, p.GetValue(stats), p.GetValue(events)));
        return command;
    }

    private static int Run(string input, string output, string bindingsPath, string? statsPath, string? eventsPath)
    {
        if (input != "-" && !File.Exists(input))
        {
            throw new FailureException($"cannot read {input}: no such file.");
        }
        if (statsPath == "-" && output == "-")
        {
            throw new UsageException("--stats-json - and -o - would both write to standard output; name a file for one of them.");
        }

        // Everything that can be wrong with the configuration is found before a byte is written.
        IReadOnlyList<ReplayBinding> bindings;
        IReadOnlyList<BindingEvent> events;
        try
        {
            bindings = BindingsFile.Load(bindingsPath);
            events = eventsPath == null ? [] : BindingEvents.Load(eventsPath);
        }
        catch (ReplayConfigurationException e)
        {
            throw new UsageException(e.Message);
        }

        ReplayResult result;
        try
        {
            result = ReplayRunner.RunAsync(input, output, bindings, events).GetAwaiter().GetResult();
        }
        catch (CaptureFormatException e)
        {
            throw new FailureException($"{e.Message} Nothing was written.", e);
        }

        // With the capture on standard output, the summary goes to standard error so it does not corrupt it.
        TextWriter summary = output == "-" ? Console.Error : Console.Out;
        if (result.Read.Warning != null)
        {
            Console.Error.WriteLine($"gateway replay: {result.Read.Warning}");
        }
        summary.Write(FormatSummary(input, output, result));
        if (statsPath != null)
        {
            string json = FormatStatsJson(result.Counters, result.Meters);
            if (statsPath == "-")
            {
                Console.Out.WriteLine(json);
            }
            else
            {
                OutputFile.WriteAllText(statsPath, json + "\n");
            }
        }
        return ExitCodes.Ok;
    }

    /// <summary>The summary, in the manner of tcpreplay's.</summary>
    internal static string FormatSummary(string input, string output, ReplayResult result)
    {
        CounterSnapshot c = result.Counters;
        double seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-9);
        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine(inv, $"Actual: {c.ReceivedPackets} packets ({result.BytesIn} bytes) replayed in {result.Elapsed.TotalSeconds:F6} seconds");
        text.AppendLine(inv, $"Rated: {result.BytesIn / seconds:F1} Bps, {result.BytesIn * 8 / seconds / 1e6:F2} Mbps, {c.ReceivedPackets / seconds:F2} pps");
        text.AppendLine(inv, $"Statistics for replay of {(input == "-" ? "standard input" : input)} to {(output == "-" ? "standard output" : output)}:");
        text.AppendLine(inv, $"\tPackets in:              {c.ReceivedPackets,12} ({result.BytesIn} bytes)");
        text.AppendLine(inv, $"\tPackets out:             {c.ForwardedPackets,12} ({result.BytesOut} bytes)");
        text.AppendLine(inv, $"\tDropped packets:         {c.DroppedPackets,12}");
        foreach (var (reason, count) in c.NonZeroDrops)
        {
            text.AppendLine(inv, $"\t  {reason + ":",-22} {count,12}");
        }
        if (result.EventsTotal > 0)
        {
            text.AppendLine(inv, $"\tBinding events applied:  {result.EventsApplied,12} of {result.EventsTotal}");
        }
        return text.ToString();
    }

    /// <summary><c>{"received":N,"transmitted":N,"dropped":N,"drops":{"&lt;reason&gt;":N,…}}</c>, reasons by their stable names, non-zero ones only.</summary>
    /// <remarks>With caps, <c>"bandwidth":[{"publicIp","outPackets","outBytes","inPackets","inBytes","outDroppedPackets",…}]</c>
    /// follows: each binding's IPv4 packets and bytes forwarded and dropped by its caps.</remarks>
    internal static string FormatStatsJson(CounterSnapshot counters, IReadOnlyList<(uint PublicIp, BindingMeter Meter)>? meters = null)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteNumber("received", counters.ReceivedPackets);
            json.WriteNumber("transmitted", counters.ForwardedPackets);
            json.WriteNumber("dropped", counters.DroppedPackets);
            json.WriteStartObject("drops");
            foreach (DropReason reason in DropReasons.All)
            {
                long count = counters.DropPackets(reason);
                if (count != 0)
                {
                    json.WriteNumber(DropReasons.Name(reason), count);
                }
            }
            json.WriteEndObject();
            if (meters is { Count: > 0 })
            {
                json.WriteStartArray("bandwidth");
                foreach (var (publicIp, m) in meters)
                {
                    json.WriteStartObject();
                    json.WriteString("publicIp", Gateway.Packets.Ipv4Address.Format(publicIp));
                    json.WriteNumber("outPackets", m.OutboundPackets);
                    json.WriteNumber("outBytes", m.OutboundBytes);
                    json.WriteNumber("inPackets", m.InboundPackets);
                    json.WriteNumber("inBytes", m.InboundBytes);
                    json.WriteNumber("outDroppedPackets", m.OutboundDroppedPackets);
                    json.WriteNumber("outDroppedBytes", m.OutboundDroppedBytes);
                    json.WriteNumber("inDroppedPackets", m.InboundDroppedPackets);
                    json.WriteNumber("inDroppedBytes", m.InboundDroppedBytes);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
