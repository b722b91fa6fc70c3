using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Cli.Lab;

/// <summary>A process the lab started: pid (also its process group: started with setsid) and start time (pids are reused).</summary>
internal sealed record LabProcess(string Role, int Pid, long StartTime);

internal sealed record LabHostRecord(string Node, string Namespace, string Address);

internal sealed record LabInstanceRecord(string Node, string Namespace, string InstanceId, string PrivateIp, string? PublicIp, string? EipId);

/// <summary>
/// What <c>lab up</c> made, written (atomically) after every step into <c>/run/gateway-lab/NAME/lab.json</c>, so
/// <c>lab down</c> — or the clean-up of a failed <c>lab up</c> — removes exactly that, even after a crash.
/// </summary>
internal sealed class LabState
{
    public const string RunRoot = "/run/gateway-lab";
    public const string FileName = "lab.json";

    public required string Name { get; init; }
    public string? Topology { get; set; }
    public string Mode { get; set; } = "tap";
    public string InternetPort { get; set; } = "";
    public string VpcPort { get; set; } = "";
    public string? Api { get; set; }
    public List<string> Namespaces { get; init; } = [];
    public List<string> RootLinks { get; init; } = [];
    public List<LabProcess> Processes { get; init; } = [];
    public List<LabHostRecord> Hosts { get; init; } = [];
    public List<LabInstanceRecord> Instances { get; init; } = [];

    /// <summary>A cluster lab's gateway nodes (empty for a one-node lab, whose daemon is <see cref="DaemonStateDirectory"/>).</summary>
    public List<LabGatewayNode> GatewayNodes { get; init; } = [];

    /// <summary>A cluster lab's etcd client URLs and key prefix.</summary>
    public string? EtcdEndpoints { get; set; }

    public string? EtcdPrefix { get; set; }

    public static string Directory(string name) => Path.Combine(RunRoot, name);

    [JsonIgnore]
    public string Dir => Directory(Name);

    [JsonIgnore]
    public string DaemonStateDirectory => Path.Combine(Dir, "daemon");

    [JsonIgnore]
    public string DaemonLog => Path.Combine(Dir, "gateway.log");

    /// <summary>Namespace names: <c>gwl-NAME-NODE</c>; the segments are <c>gwl-NAME-inet</c> and <c>gwl-NAME-vpc</c>.</summary>
    public static string NamespacePrefix(string name) => $"gwl-{name}-";

    public static LabState? Load(string name)
    {
        string path = Path.Combine(Directory(name), FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), LabStateJson.Default.LabState);
        }
        catch (JsonException e)
        {
            throw new LabException($"{path} is damaged ({e.Message}); lab down still removes the gwl-{name}-* namespaces, then delete the file.");
        }
    }

    public void Save()
    {
        System.IO.Directory.CreateDirectory(Dir);
        Gateway.Io.Pcap.OutputFile.WriteAllText(Path.Combine(Dir, FileName), JsonSerializer.Serialize(this, LabStateJson.Default.LabState));
    }
}

/// <summary>lab.json's serializer, generated at compile time (no reflection: the Native AOT build of the CLI needs that).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LabState))]
internal sealed partial class LabStateJson : JsonSerializerContext;
/// <summary>One gateway node of a cluster lab: its name, state folder, log, TAP devices and API.</summary>
internal sealed record LabGatewayNode(string Name, string StateDirectory, string Log, string InternetPort, string VpcPort, string? Api);
