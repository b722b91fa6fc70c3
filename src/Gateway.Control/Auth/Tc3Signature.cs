using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Control.Auth;

/// <summary>
/// TC3-HMAC-SHA256, the request signature of Tencent Cloud API 3.0: a canonical request (method, path, query,
/// signed headers, hash of the raw body) hashed into a string to sign, keyed by a chain of HMACs over the
/// credential scope <c>date/service/tc3_request</c>.
/// </summary>
public static class Tc3Signature
{
    public const string Algorithm = "TC3-HMAC-SHA256";
    public const string ScopeTerminator = "tc3_request";

    /// <summary>The <c>Authorization</c> header for a POST / with <c>content-type</c> and <c>host</c> signed, as the SDKs send it.</summary>
    public static string Authorization(Credentials credentials, string service, long timestamp, string contentType, string host, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        const string signedHeaders = "content-type;host";
        string canonical = CanonicalRequest("POST", "/", "", $"content-type:{contentType}\nhost:{host}\n", signedHeaders, HashHex(body));
        string date = DateOf(timestamp);
        string signature = Signature(credentials.SecretKey, date, service, timestamp, canonical);
        return $"{Algorithm} Credential={credentials.SecretId}/{date}/{service}/{ScopeTerminator}, SignedHeaders={signedHeaders}, Signature={signature}";
    }

    /// <summary>
    /// The <c>Authorization</c> header for a POST / with <c>content-type</c>, <c>host</c> and <c>x-tc-action</c> signed
    /// (the form of the specification's own example). Signing the action means a captured request cannot be replayed
    /// as another action with the same body (DescribeAddresses as ReleaseAddresses) within the timestamp window.
    /// </summary>
    public static string Authorization(Credentials credentials, string service, long timestamp, string contentType, string host, string action, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentNullException.ThrowIfNull(action);
        const string signedHeaders = "content-type;host;x-tc-action";
        // The specification lower-cases header values in the canonical form.
        string canonical = CanonicalRequest("POST", "/", "", $"content-type:{contentType}\nhost:{host}\nx-tc-action:{action.ToLowerInvariant()}\n", signedHeaders, HashHex(body));
        string date = DateOf(timestamp);
        string signature = Signature(credentials.SecretKey, date, service, timestamp, canonical);
        return $"{Algorithm} Credential={credentials.SecretId}/{date}/{service}/{ScopeTerminator}, SignedHeaders={signedHeaders}, Signature={signature}";
    }

    public static string CanonicalRequest(string method, string path, string query, string canonicalHeaders, string signedHeaders, string bodyHashHex) =>
        $"{method}\n{path}\n{query}\n{canonicalHeaders}\n{signedHeaders}\n{bodyHashHex}";

    public static string Signature(string secretKey, string date, string service, long timestamp, string canonicalRequest)
    {
        string stringToSign = $"{Algorithm}\n{timestamp.ToString(CultureInfo.InvariantCulture)}\n{date}/{service}/{ScopeTerminator}\n{HashHex(Encoding.UTF8.GetBytes(canonicalRequest))}";
        byte[] secretDate = HMACSHA256.HashData(Encoding.UTF8.GetBytes("TC3" + secretKey), Encoding.UTF8.GetBytes(date));
        byte[] secretService = HMACSHA256.HashData(secretDate, Encoding.UTF8.GetBytes(service));
        byte[] secretSigning = HMACSHA256.HashData(secretService, Encoding.UTF8.GetBytes(ScopeTerminator));
        return Convert.ToHexStringLower(HMACSHA256.HashData(secretSigning, Encoding.UTF8.GetBytes(stringToSign)));
    }

    /// <summary>The UTC date of a Unix timestamp as the credential scope writes it (yyyy-MM-dd).</summary>
    public static string DateOf(long timestamp) =>
        DateTimeOffset.FromUnixTimeSeconds(timestamp).UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static string HashHex(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
