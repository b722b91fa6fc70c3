using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Control.Model;

namespace Gateway.Control.Store.Etcd.Tests;

/// <summary>
/// The records kept in etcd go through a generated serializer (<see cref="StateRecordsJson"/>; the Native AOT executable
/// has no reflection-based one). Every record the context lists must keep every field across a write and a read,
/// including fields added after this test was written: the samples are built by reflection, every constructor parameter
/// and every settable property given a value that is not its default. The oracle for the format is the reflection-based
/// serializer with the same options, which is what wrote the values already in etcd.
/// </summary>
public sealed class StateRecordsJsonTests
{
    private static readonly JsonSerializerOptions s_reflection = new(JsonSerializerDefaults.Web);

    /// <summary>The record types the context lists (not the collections it also carries).</summary>
    public static TheoryData<string> Records()
    {
        var data = new TheoryData<string>();
        foreach (var type in ListedTypes().Where(t => t.Namespace == typeof(Instance).Namespace))
        {
            data.Add(type.Name);
        }
        return data;
    }

    [Fact]
    public void TheContextListsTheInstanceAndTheElasticAddress()
    {
        Assert.Contains(typeof(Instance), ListedTypes());
        Assert.Contains(typeof(ElasticAddress), ListedTypes());
    }

    [Theory]
    [MemberData(nameof(Records))]
    public void EveryFieldOfAStoredRecord_RoundTrips(string recordName)
    {
        var type = RecordType(recordName);
        object sample = Sample(type);

        string json = Encode(type, sample);
        object back = Decode(type, json);

        // Records compare every field, the constructor's and the init-only properties' alike.
        Assert.Equal(sample, back);
        foreach (var property in StoredProperties(type))
        {
            Assert.Equal(property.GetValue(sample), property.GetValue(back));
        }
    }

    [Theory]
    [MemberData(nameof(Records))]
    public void TheGeneratedJson_IsWhatTheReflectionSerializerWrote_AndReadsItBack(string recordName)
    {
        var type = RecordType(recordName);
        object sample = Sample(type);
        string before = JsonSerializer.Serialize(sample, type, s_reflection);

        Assert.Equal(before, Encode(type, sample));
        Assert.Equal(sample, Decode(type, before));
    }

    [Fact]
    public void ClientTokenLists_RoundTrip()
    {
        string json = StateLayout.Encode(["ins-a", "ins-b"]);

        Assert.Equal("""["ins-a","ins-b"]""", json);
        Assert.Equal(["ins-a", "ins-b"], StateLayout.Decode<List<string>>(json, "state/client-tokens/t"));
    }

    [Fact]
    public void ARecordMissingFromTheContext_FailsWithWhatToAdd()
    {
        var e = Assert.Throws<InvalidOperationException>(() => StateLayout.EncodeRecord(new Uri("http://example.invalid/")));

        Assert.Contains("[JsonSerializable(typeof(Uri))]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnreadableValue_SaysWhichKey()
    {
        var e = Assert.Throws<InvalidDataException>(() => StateLayout.Decode<Instance>("{\"id\": 12", "state/instances/ins-x"));

        Assert.Contains("state/instances/ins-x", e.Message, StringComparison.Ordinal);
    }

    private static IEnumerable<Type> ListedTypes() =>
        typeof(StateRecordsJson).GetCustomAttributesData()
            .Where(a => a.AttributeType == typeof(JsonSerializableAttribute))
            .Select(a => (Type)a.ConstructorArguments[0].Value!);

    private static Type RecordType(string name) => ListedTypes().Single(t => t.Name == name);

    private static string Encode(Type type, object record) =>
        (string)typeof(StateLayout).GetMethod(nameof(StateLayout.EncodeRecord))!.MakeGenericMethod(type).Invoke(null, [record])!;

    private static object Decode(Type type, string json) =>
        typeof(StateLayout).GetMethod(nameof(StateLayout.Decode))!.MakeGenericMethod(type).Invoke(null, [json, "state/test"])!;

    /// <summary>Properties with a setter (init or set): what a record holds beyond its constructor.</summary>
    private static IEnumerable<PropertyInfo> StoredProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is not null && p.GetIndexParameters().Length == 0);

    /// <summary>A record with every constructor parameter and settable property different from its default.</summary>
    private static object Sample(Type type)
    {
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
        int n = 0;
        object record = constructor.Invoke([.. constructor.GetParameters().Select(p => Value(p.ParameterType, p.Name!, ++n))]);
        foreach (var property in StoredProperties(type))
        {
            if (constructor.GetParameters().Any(p => string.Equals(p.Name, property.Name, StringComparison.Ordinal)))
            {
                continue;
            }
            object value = Value(property.PropertyType, property.Name, ++n);
            Assert.NotEqual(property.GetValue(record), value); // the default must not hide a field the serializer drops
            property.SetValue(record, value);
        }
        return record;
    }

    private static object Value(Type type, string name, int n)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        return underlying switch
        {
            _ when underlying == typeof(string) => $"{name}-{n}",
            _ when underlying == typeof(bool) => true,
            _ when underlying == typeof(int) => 1000 + n,
            _ when underlying == typeof(long) => 1_000_000_000_000L + n,
            _ when underlying == typeof(uint) => 0xC6336400u + (uint)n,
            _ when underlying == typeof(double) => n + 0.25,
            _ when underlying == typeof(DateTimeOffset) => new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddMinutes(n),
            _ when underlying == typeof(TimeSpan) => TimeSpan.FromSeconds(n),
            _ when underlying.IsEnum => Enum.GetValues(underlying).GetValue(Enum.GetValues(underlying).Length - 1)!,
            _ => throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"{name} is a {type.Name}: give this test a sample value for that type (StateRecordsJsonTests.Value).")),
        };
    }
}
