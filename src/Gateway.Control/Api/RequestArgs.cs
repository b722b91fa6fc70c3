using System.Text.Json;
using Gateway.Control.Rules;

namespace Gateway.Control.Api;

/// <summary>A filter of a Describe* call: values are OR-ed, filters AND-ed.</summary>
internal sealed record Filter(string Name, IReadOnlyList<string> Values);

/// <summary>
/// Typed reads of a request's JSON object. A parameter of the wrong JSON type is an <c>InvalidParameter</c>
/// naming it (the wire format is typed: the SDKs send numbers as numbers and booleans as booleans).
/// </summary>
/// <remarks>
/// Every array is bounded before its items are read: at most <see cref="MaxArrayLength"/> values (the real service's
/// limit for ids per request), at most <see cref="MaxFilters"/> filters; a longer one is
/// <c>InvalidParameterValue.LimitExceeded</c>. Strings that are stored are bounded by <see cref="BoundedString"/>.
/// </remarks>
internal sealed class RequestArgs(JsonElement obj, string prefix = "")
{
    public const int MaxArrayLength = 100;
    public const int MaxFilters = 10;
    /// <summary>Names and other free text kept in the state (the real service allows 128 characters for EIP names).</summary>
    public const int MaxStoredStringLength = 128;

    /// <summary>The request's X-TC-Region (the default zone of new instances is its "-1").</summary>
    public string Region { get; init; } = "ap-guangzhou";

    /// <summary>The id this request is answered under (kept as an instance's LatestOperationRequestId).</summary>
    public string? RequestId { get; init; }

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
        return value.ValueKind == JsonValueKind.String ? Text(value, name) : throw TypeError(name, "a string");
    }

    /// <summary>A string parameter of at most <paramref name="maxLength"/> characters (one that the state keeps).</summary>
    public string? BoundedString(string name, int maxLength = MaxStoredStringLength)
    {
        string? value = String(name);
        return value is { Length: var n } && n > maxLength
            ? throw new ApiException(ErrorCodes.InvalidParameterValueTooLong, $"The parameter {prefix}{name} has {n} characters; at most {maxLength} are accepted.")
            : value;
    }

    private string Text(JsonElement value, string name)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate ("\ud800") parses as JSON but is not text.
            throw TypeError(name, "a string of valid Unicode text");
        }
    }

    private JsonElement.ArrayEnumerator BoundedArray(string name, JsonElement value, int max, string what)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw TypeError(name, what);
        }
        int length = value.GetArrayLength();
        return length > max
            ? throw new ApiException(ErrorCodes.InvalidParameterValueLimitExceeded, $"The parameter {prefix}{name} has {length} values; at most {max} are accepted per request.")
            : value.EnumerateArray();
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
        var result = new List<string>();
        foreach (var item in BoundedArray(name, value, MaxArrayLength, "an array of strings"))
        {
            result.Add(item.ValueKind == JsonValueKind.String ? Text(item, name) : throw TypeError(name, "an array of strings"));
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

    /// <summary>An array of objects (at most <paramref name="max"/>), each read as its own arguments named <c>Name.i.</c>.</summary>
    public IReadOnlyList<RequestArgs>? Objects(string name, int max = MaxArrayLength)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        var result = new List<RequestArgs>();
        int i = 0;
        foreach (var item in BoundedArray(name, value, max, "an array of objects"))
        {
            result.Add(item.ValueKind == JsonValueKind.Object ? new RequestArgs(item, $"{prefix}{name}.{i}.") : throw TypeError(name, "an array of objects"));
            i++;
        }
        return result;
    }

    public IReadOnlyList<Filter> Filters(string name = "Filters")
    {
        if (!TryGet(name, out var value))
        {
            return [];
        }
        var result = new List<Filter>();
        int i = 0;
        foreach (var item in BoundedArray(name, value, MaxFilters, "an array of {\"Name\": ..., \"Values\": [...]}"))
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

    /// <summary>
    /// An integer that the API declares as a String (vpc's DescribeVpcs and DescribeSubnets: <c>Offset</c>, <c>Limit</c>):
    /// the official SDKs send "20"; a JSON number is accepted too.
    /// </summary>
    public int? IntOrIntString(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n))
        {
            return n;
        }
        if (value.ValueKind == JsonValueKind.String && int.TryParse(Text(value, name), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out n))
        {
            return n;
        }
        throw value.ValueKind is JsonValueKind.String or JsonValueKind.Number
            ? new ApiException(ErrorCodes.InvalidParameterValue, $"The parameter {prefix}{name} must be a whole number, not {value.GetRawText()}.")
            : TypeError(name, "an integer (or its decimal text)");
    }

    /// <summary>Offset and Limit of a Describe* call (Limit default 20, at most 100, as the real services).</summary>
    public (int Offset, int Limit) Paging(bool numbersAsStrings = false)
    {
        int offset = (numbersAsStrings ? IntOrIntString("Offset") : Int("Offset")) ?? 0;
        int limit = (numbersAsStrings ? IntOrIntString("Limit") : Int("Limit")) ?? 20;
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
