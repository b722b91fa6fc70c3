using System.Globalization;
using System.Text.Json;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Policing;
using Gateway.Packets;

namespace Gateway.Io.Replay;

public enum BindingEventOp
{
    Bind,
    Unbind,
    /// <summary>The caps of a bound public address change (ResetInstancesInternetMaxBandwidth in the cloud).</summary>
    Bandwidth,
}

/// <summary>One line of an events file: a binding or cap change applied when the replay reaches a capture time.</summary>
public readonly record struct BindingEvent(long AtNanoseconds, BindingEventOp Op, uint PublicIp, uint PrivateIp, int Line)
{
    /// <summary>The caps a <c>bind</c> gives the binding, or a <c>bandwidth</c> event sets.</summary>
    public BandwidthCaps Caps { get; init; }

    /// <summary>Applies the change through the same table path the control plane uses (and the caps to the policer, if any).</summary>
    /// <exception cref="ReplayConfigurationException">A bandwidth event names an address that is not bound at its time.</exception>
    public void ApplyTo(BindingTable table, Policer? policer = null, string source = "the events file")
    {
        ArgumentNullException.ThrowIfNull(table);
        switch (Op)
        {
            case BindingEventOp.Bind:
                int id = table.Bind(PublicIp, PrivateIp);
                policer?.SetCaps(id, Caps);
                break;
            case BindingEventOp.Unbind:
                table.UnbindPublic(PublicIp);
                break;
            default:
                if (!table.TryGetPrivate(PublicIp, out _, out int bound))
                {
                    throw new ReplayConfigurationException(string.Create(CultureInfo.InvariantCulture,
                        $"{source}: line {Line}: bandwidth for {Ipv4Address.Format(PublicIp)}, which is not bound at that capture time; bind it first (or drop the line)."));
                }
                policer?.SetCaps(bound, Caps);
                break;
        }
    }

    public override string ToString() => Op switch
    {
        BindingEventOp.Bind => $"bind {Ipv4Address.Format(PublicIp)} -> {Ipv4Address.Format(PrivateIp)}",
        BindingEventOp.Unbind => $"unbind {Ipv4Address.Format(PublicIp)}",
        _ => $"bandwidth {Ipv4Address.Format(PublicIp)}: {Caps}",
    };
}

/// <summary>
/// The events file: JSON lines <c>{"at":&lt;seconds&gt;,"op":"bind"|"unbind"|"bandwidth","publicIp":…,"privateIp":…}</c>,
/// where <c>at</c> is a capture time in seconds since the epoch, as the capture's timestamps are. A <c>bind</c> may and a
/// <c>bandwidth</c> must carry <c>bandwidthOutMbps</c> and/or <c>bandwidthInMbps</c> (as in the bindings file). Blank
/// lines are allowed.
/// </summary>
public static class BindingEvents
{
    public static IReadOnlyList<BindingEvent> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReplayConfigurationException($"cannot read the events file {path}: {e.Message}", e);
        }
        return Parse(lines, path);
    }

    /// <summary>Parses and validates every line; the result is ordered by time (lines with equal times keep their order).</summary>
    public static IReadOnlyList<BindingEvent> Parse(IReadOnlyList<string> lines, string source)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var events = new List<BindingEvent>();
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0)
            {
                continue;
            }
            string name = string.Create(CultureInfo.InvariantCulture, $"{source}: line {i + 1}");
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new ReplayConfigurationException($"{name}: not valid JSON: {e.Message}", e);
            }
            using (document)
            {
                events.Add(ParseOne(document.RootElement, name, i + 1));
            }
        }
        // Stable: OrderBy keeps equal keys in input order.
        return [.. events.OrderBy(e => e.AtNanoseconds)];
    }

    private static BindingEvent ParseOne(JsonElement root, string name, int line)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ReplayConfigurationException($"{name}: expected an object {{\"at\":…,\"op\":\"bind\"|\"unbind\"|\"bandwidth\",\"publicIp\":…,\"privateIp\":…}}.");
        }
        foreach (JsonProperty property in root.EnumerateObject())
        {
            if (property.Name is not ("at" or "op" or "publicIp" or "privateIp" or "bandwidthOutMbps" or "bandwidthInMbps"))
            {
                throw new ReplayConfigurationException($"{name}: unknown field \"{property.Name}\" (expected at, op, publicIp, privateIp, bandwidthOutMbps, bandwidthInMbps).");
            }
        }
        if (!root.TryGetProperty("at", out JsonElement at) || at.ValueKind != JsonValueKind.Number || !at.TryGetDecimal(out decimal seconds) || seconds < 0 || seconds > 9_000_000_000m)
        {
            throw new ReplayConfigurationException($"{name}: \"at\" must be a capture time in seconds (a non-negative number, e.g. 1700000000.25).");
        }
        if (!root.TryGetProperty("op", out JsonElement op) || op.ValueKind != JsonValueKind.String || op.GetString() is not ("bind" or "unbind" or "bandwidth"))
        {
            throw new ReplayConfigurationException($"{name}: \"op\" must be \"bind\", \"unbind\" or \"bandwidth\".");
        }
        var kind = op.GetString() switch
        {
            "bind" => BindingEventOp.Bind,
            "unbind" => BindingEventOp.Unbind,
            _ => BindingEventOp.Bandwidth,
        };
        uint publicIp = BindingsFile.ReadAddress(root, "publicIp", name);
        uint privateIp = 0;
        if (kind == BindingEventOp.Bind || root.TryGetProperty("privateIp", out _))
        {
            privateIp = BindingsFile.ReadAddress(root, "privateIp", name);
        }
        var caps = BindingsFile.ReadCaps(root, name);
        if (kind == BindingEventOp.Bandwidth && caps.IsUnlimited)
        {
            throw new ReplayConfigurationException($"{name}: a \"bandwidth\" event needs bandwidthOutMbps and/or bandwidthInMbps.");
        }
        if (kind == BindingEventOp.Unbind && !caps.IsUnlimited)
        {
            throw new ReplayConfigurationException($"{name}: an \"unbind\" event takes no bandwidth.");
        }
        // Decimal keeps "1700000000.000001" exact; nanoseconds are what frames are compared in.
        long nanoseconds = (long)decimal.Truncate(seconds * 1_000_000_000m);
        return new BindingEvent(nanoseconds, kind, publicIp, privateIp, line) { Caps = caps };
    }
}
