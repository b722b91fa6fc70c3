using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Gateway.Control.Model;
using Gateway.Packets;

namespace Gateway.Control.Store.Etcd;

/// <summary>
/// Where the control state lives under the prefix, and how records become values: the records themselves as JSON,
/// so a field added to <see cref="Instance"/> or <see cref="ElasticAddress"/> is stored and read back with no code here
/// (the serializer is generated from the records at build time: <see cref="StateRecordsJson"/>).
/// </summary>
/// <remarks>
/// <code>
/// state/instances/&lt;ins-id&gt;          JSON of the Instance record
/// state/addresses/&lt;eip-id&gt;          JSON of the ElasticAddress record
/// state/pool/held/&lt;ip&gt;              exists while an instance or an EIP holds the pool address (taking it = creating this key)
/// state/pool/freed/&lt;ip&gt;             the sequence number the address was freed at (its place in the hand-out order)
/// state/index/private-ip/&lt;ip&gt;       the instance using the private address (uniqueness across nodes)
/// state/index/eip-of/&lt;ins-id&gt;       the EIP bound to the instance (at most one, across nodes)
/// state/counters/eips                the number of EIPs held (what the quota compares)
/// state/client-tokens/&lt;token&gt;       JSON array of the instance ids a RunInstances ClientToken created
/// state/tasks/&lt;id&gt;                  the action of an asynchronous-task record
/// state/last-change                  written by every change: its mod revision is the state's head revision
/// meta/&lt;key&gt;                        vpc_id, subnet_id, config, credentials
/// commit-markers/&lt;node&gt;             the id of the node's latest commit (recognises a commit whose answer was lost)
/// cluster/...                        nodes and the active-node election (see Gateway.Control.Cluster)
/// </code>
/// Everything under <c>state/</c> is what the watch follows. The index keys are derived from the records in the same
/// transaction; a change that read one compares its version, which is how two nodes never both take the last
/// address, the last quota slot or the same instance's EIP slot.
/// </remarks>
internal static class StateLayout
{
    public const string State = "state/";
    public const string Instances = "state/instances/";
    public const string Addresses = "state/addresses/";
    public const string PoolHeld = "state/pool/held/";
    public const string PoolFreed = "state/pool/freed/";
    public const string PrivateIpIndex = "state/index/private-ip/";
    public const string EipOfIndex = "state/index/eip-of/";
    public const string EipCount = "state/counters/eips";
    public const string ClientTokens = "state/client-tokens/";
    public const string Tasks = "state/tasks/";
    public const string LastChange = "state/last-change";
    public const string Meta = "meta/";
    public const string CommitMarkers = "commit-markers/";

    public static string KeyOf(StateKey key) => key.Kind switch
    {
        StateKeyKind.Instance => Instances + key.Name,
        StateKeyKind.Address => Addresses + key.Name,
        StateKeyKind.PoolAddress => PoolHeld + key.Name,
        StateKeyKind.PrivateAddress => PrivateIpIndex + key.Name,
        StateKeyKind.EipOfInstance => EipOfIndex + key.Name,
        StateKeyKind.EipCount => EipCount,
        StateKeyKind.ClientToken => ClientTokens + key.Name,
        StateKeyKind.Task => Tasks + key.Name,
        _ => throw new ArgumentOutOfRangeException(nameof(key), key.Kind, "unknown state key kind"),
    };

    public static string Ip(uint ip) => Ipv4Address.Format(ip);

    public static uint ParseIp(string text, string key) =>
        Ipv4Address.TryParse(text, out uint ip) ? ip : throw new InvalidDataException($"the etcd key {key} does not end in an IPv4 address.");

    /// <summary>A record (<see cref="Instance"/>, <see cref="ElasticAddress"/>, any type listed in <see cref="StateRecordsJson"/>) as its JSON.</summary>
    public static string EncodeRecord<T>(T record) => JsonSerializer.Serialize(record, TypeInfo<T>());

    public static string Encode(IReadOnlyList<string> ids) => EncodeRecord<List<string>>([.. ids]);

    public static string Encode(long number) => number.ToString(CultureInfo.InvariantCulture);

    public static T Decode<T>(string json, string key)
    {
        try
        {
            return JsonSerializer.Deserialize(json, TypeInfo<T>()) ?? throw new InvalidDataException($"the etcd key {key} holds null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the etcd key {key} does not hold a readable record ({e.Message}); was it written by another program or a newer gateway?", e);
        }
    }

    /// <summary>The generated contract of a stored record: a type missing from <see cref="StateRecordsJson"/> fails here, on its first use.</summary>
    private static JsonTypeInfo<T> TypeInfo<T>() =>
        StateRecordsJson.Default.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
            ?? throw new InvalidOperationException($"{typeof(T).Name} is stored in etcd but not listed in {nameof(StateRecordsJson)}: add [JsonSerializable(typeof({typeof(T).Name}))] there.");

    public static long DecodeNumber(string text, string key) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new InvalidDataException($"the etcd key {key} holds '{text}', not a number.");
}

/// <summary>
/// The JSON of every record kept in etcd, generated at build time (no reflection at run time, so the Native AOT
/// executable serializes exactly what the JIT build does). The generator reads each record's constructor and properties,
/// so a field another change adds to <see cref="Instance"/> or <see cref="ElasticAddress"/> is stored and read back
/// with no code here; a new kind of record is one more line below. Web defaults (camelCase names, case-insensitive
/// reads) are what the reflection-based serializer used before, so values already in etcd read back unchanged.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Instance))]
[JsonSerializable(typeof(ElasticAddress))]
[JsonSerializable(typeof(List<string>))]
internal sealed partial class StateRecordsJson : JsonSerializerContext;
