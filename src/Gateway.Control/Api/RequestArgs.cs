using System.Text.Json;
using Gateway.Control.Rules;

namespace Gateway.Control.Api;

/// <summary>A filter of a Describe* call: values are OR-ed, filters AND-ed.</summary>
internal sealed record Filter(string Name, IReadOnlyList<string> Values);

/// <summary>
/// Typed reads of a request's JSON object. A parameter of the wrong JSON type is an <c>InvalidParameter</c>
/// naming it (the wire format is typed: the SDKs send numbers as numbers and booleans as booleans).
/// </summary>
internal sealed class RequestArgs(JsonElement obj, string prefix = "")
{
    /// <summary>The request's X-TC-Region (the default zone of new instances is its "-1").</summary>
    public string Region { get; init; } = "ap-guangzhou";

    private bool TryGet(string name, out JsonElement value)
    {
        if (obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }
        value = default;
        return false;
    }

    private ApiException TypeError(string name, string what) =>
        new(ErrorCodes.InvalidParameter, $"The parameter {prefix}{name} must be {what}.");

    public bool Has(string name) => TryGet(name, out _);

    public string? String(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw TypeError(name, "a string");
    }

    public string RequiredString(string name) =>
        String(name) is { Length: > 0 } s ? s : throw new ApiException(ErrorCodes.MissingParameter, $"The request is missing the required parameter {prefix}{name}.");

    public int? Int(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n) ? n : throw TypeError(name, "an integer");
    }

    public long? Long(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n))
        {
            return n;
        }
        // Task ids come back to clients as strings (AllocateAddresses.TaskId); accept them in that form too.
        if (value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out n))
        {
            return n;
        }
        throw TypeError(name, "an integer");
    }

    public bool? Bool(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw TypeError(name, "true or false"),
        };
    }

    public IReadOnlyList<string>? Strings(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw TypeError(name, "an array of strings");
        }
        var result = new List<string>();
        foreach (var item in value.EnumerateArray())
        {
            result.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw TypeError(name, "an array of strings"));
        }
        return result;
    }

    public RequestArgs? Object(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Object ? new RequestArgs(value, $"{prefix}{name}.") : throw TypeError(name, "an object");
    }

    public IReadOnlyList<Filter> Filters(string name = "Filters")
    {
        if (!TryGet(name, out var value))
        {
            return [];
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw TypeError(name, "an array of {\"Name\": ..., \"Values\": [...]}");
        }
        var result = new List<Filter>();
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            var filter = new RequestArgs(item, $"{prefix}{name}.{i++}.");
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw TypeError(name, "an array of {\"Name\": ..., \"Values\": [...]}");
            }
            result.Add(new Filter(filter.RequiredString("Name"), filter.Strings("Values") ?? []));
        }
        return result;
    }

    /// <summary>Offset and Limit of a Describe* call (Limit default 20, at most 100, as the real services).</summary>
    public (int Offset, int Limit) Paging()
    {
        int offset = Int("Offset") ?? 0;
        int limit = Int("Limit") ?? 20;
        if (offset < 0)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValueRange, $"Offset must be 0 or more, not {offset}.");
        }
        if (limit is < 1 or > 100)
        {
            throw new ApiException(ErrorCodes.InvalidParameterValueRange, $"Limit must be 1 to 100, not {limit}.");
        }
        return (offset, limit);
    }
}
