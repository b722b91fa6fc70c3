using System.Globalization;
using System.Text.Json;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Policing;
using Gateway.Packets;

namespace Gateway.Io.Replay;

/// <summary>A binding of a replay and its bandwidth caps (<see cref="BandwidthCaps.Unlimited"/> when none are given).</summary>
public sealed record ReplayBinding(uint PublicIp, uint PrivateIp, BandwidthCaps Caps)
{
    public Binding Binding => new(PublicIp, PrivateIp);
}

/// <summary>
/// The bindings a replay starts from: <c>{"bindings":[{"publicIp":"198.51.100.10","privateIp":"10.0.0.5"}, …]}</c>,
/// each optionally with <c>"bandwidthOutMbps"</c> and <c>"bandwidthInMbps"</c>.
/// </summary>
/// <remarks>
/// Validated whole before anything is written: strict dotted-quad addresses, no address bound twice on either
/// side (1:1 NAT), no unknown fields (a misspelt field name would otherwise be silently ignored), caps in range.
/// </remarks>
public static class BindingsFile
{
    public static IReadOnlyList<ReplayBinding> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReplayConfigurationException($"cannot read the bindings file {path}: {e.Message}", e);
        }
        return Parse(text, path);
    }

    public static IReadOnlyList<ReplayBinding> Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ReplayConfigurationException(string.Create(CultureInfo.InvariantCulture,
                $"{source}: not valid JSON at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}: {e.Message}"), e);
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("bindings", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new ReplayConfigurationException($"{source}: expected an object with a \"bindings\" array: {{\"bindings\":[{{\"publicIp\":\"198.51.100.10\",\"privateIp\":\"10.0.0.5\"}}]}}.");
            }
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (property.Name != "bindings")
                {
                    throw new ReplayConfigurationException($"{source}: unknown top-level field \"{property.Name}\" (only \"bindings\" is allowed).");
                }
            }

            var bindings = new List<ReplayBinding>();
            var byPublic = new Dictionary<uint, int>();
            var byPrivate = new Dictionary<uint, int>();
            int index = 0;
            foreach (JsonElement entry in list.EnumerateArray())
            {
                string name = string.Create(CultureInfo.InvariantCulture, $"{source}: bindings[{index}]");
                if (entry.ValueKind != JsonValueKind.Object)
                {
                    throw new ReplayConfigurationException($"{name}: expected an object {{\"publicIp\":…,\"privateIp\":…}}, found {entry.ValueKind}.");
                }
                foreach (JsonProperty property in entry.EnumerateObject())
                {
                    if (property.Name is not ("publicIp" or "privateIp" or "bandwidthOutMbps" or "bandwidthInMbps"))
                    {
                        throw new ReplayConfigurationException($"{name}: unknown field \"{property.Name}\" (expected publicIp, privateIp, bandwidthOutMbps, bandwidthInMbps).");
                    }
                }
                uint publicIp = ReadAddress(entry, "publicIp", name);
                uint privateIp = ReadAddress(entry, "privateIp", name);
                if (byPublic.TryGetValue(publicIp, out int other))
                {
                    throw new ReplayConfigurationException(string.Create(CultureInfo.InvariantCulture,
                        $"{name}: publicIp {Ipv4Address.Format(publicIp)} is already bound by bindings[{other}]; a public address maps to one private address."));
                }
                if (byPrivate.TryGetValue(privateIp, out other))
                {
                    throw new ReplayConfigurationException(string.Create(CultureInfo.InvariantCulture,
                        $"{name}: privateIp {Ipv4Address.Format(privateIp)} is already bound by bindings[{other}]; a private address maps to one public address."));
                }
                byPublic.Add(publicIp, index);
                byPrivate.Add(privateIp, index);
                bindings.Add(new ReplayBinding(publicIp, privateIp, ReadCaps(entry, name)));
                index++;
            }
            return bindings;
        }
    }

    /// <summary>
    /// The optional caps of an entry: <c>bandwidthOutMbps</c> and <c>bandwidthInMbps</c>, positive numbers of Mbps with
    /// at most three decimals (kbps), 0.064 to 100,000. An outbound cap alone gives the inbound cap by the cloud's rule
    /// for traffic and bandwidth billing (10 Mbps up to 10 Mbps out, else equal).
    /// </summary>
    internal static BandwidthCaps ReadCaps(JsonElement entry, string name)
    {
        long outbound = ReadKbps(entry, "bandwidthOutMbps", name);
        long inbound = ReadKbps(entry, "bandwidthInMbps", name);
        if (inbound == 0 && outbound != 0)
        {
            inbound = BandwidthCaps.InboundKbpsByRule(outbound);
        }
        return new BandwidthCaps(outbound, inbound);
    }

    private static long ReadKbps(JsonElement entry, string field, string name)
    {
        if (!entry.TryGetProperty(field, out JsonElement value))
        {
            return 0;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out decimal mbps))
        {
            throw new ReplayConfigurationException($"{name}: {field} {value.GetRawText()} is not a number of Mbps (e.g. 5 or 0.5).");
        }
        decimal kbps = mbps * 1000m;
        if (kbps != decimal.Truncate(kbps) || kbps < BandwidthCaps.MinKbps || kbps > BandwidthCaps.MaxKbps)
        {
            throw new ReplayConfigurationException(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {field} {value.GetRawText()} must be {BandwidthCaps.MinKbps / 1000m} to {BandwidthCaps.MaxKbps / 1000} Mbps with at most three decimals (whole kbps)."));
        }
        return (long)kbps;
    }

    /// <summary>Reads a strict dotted-quad host address field; the message names the entry and field.</summary>
    internal static uint ReadAddress(JsonElement entry, string field, string name)
    {
        if (!entry.TryGetProperty(field, out JsonElement value))
        {
            throw new ReplayConfigurationException($"{name}: \"{field}\" is missing.");
        }
        string? text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        if (!Ipv4Address.TryParse(text, out uint address))
        {
            throw new ReplayConfigurationException($"{name}: {field} {value.GetRawText()} is not an IPv4 address in dotted-quad form (e.g. \"198.51.100.10\").");
        }
        if (address is 0 or uint.MaxValue)
        {
            throw new ReplayConfigurationException($"{name}: {field} {text} is not a host address and cannot be bound.");
        }
        return address;
    }
}
