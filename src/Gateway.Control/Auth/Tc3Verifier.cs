using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Gateway.Control.Rules;

namespace Gateway.Control.Auth;

/// <summary>What the verifier needs of a request.</summary>
internal interface ISignedRequest
{
    string Method { get; }
    string Path { get; }
    /// <summary>The query string without the leading '?'.</summary>
    string Query { get; }
    string? Header(string name);
}

/// <summary>
/// Checks TC3-HMAC-SHA256 signatures against the gateway's one key pair.
/// </summary>
/// <remarks>
/// Lenient exactly where real clients differ, strict everywhere else: the <c>host</c> header may be signed with or
/// without the port (the Node SDK signs the URL's hostname but sends host:port), any service name is accepted in the
/// credential scope (the SDKs take it from the endpoint's first label, which for 127.0.0.1 is "127"), and header
/// values are tried as sent and lower-cased (the specification lower-cases them; some signers don't).
/// The body hash is always over the raw bytes received.
/// </remarks>
internal sealed class Tc3Verifier(Credentials credentials, TimeProvider clock)
{
    public static readonly TimeSpan AllowedSkew = TimeSpan.FromMinutes(5);

    public void Verify(ISignedRequest request, long timestamp, ReadOnlySpan<byte> body)
    {
        string? authorization = request.Header("Authorization");
        if (string.IsNullOrWhiteSpace(authorization))
        {
            throw new ApiException(ErrorCodes.SignatureFailure, "The request has no Authorization header; sign it with TC3-HMAC-SHA256.");
        }
        var (secretId, date, service, signedHeaders, signature) = Parse(authorization);

        long now = clock.GetUtcNow().ToUnixTimeSeconds();
        if (Math.Abs(now - timestamp) > (long)AllowedSkew.TotalSeconds)
        {
            throw new ApiException(ErrorCodes.SignatureExpire,
                $"X-TC-Timestamp {timestamp} is {now - timestamp} s away from the server's clock ({now}); at most {(long)AllowedSkew.TotalSeconds} s are allowed. Check the client's clock.");
        }
        if (!string.Equals(secretId, credentials.SecretId, StringComparison.Ordinal))
        {
            throw new ApiException(ErrorCodes.SecretIdNotFound, $"The SecretId {secretId} is unknown to this gateway; use the pair from GATEWAY_SECRET_ID/GATEWAY_SECRET_KEY or the state directory's credentials file.");
        }
        if (date != Tc3Signature.DateOf(timestamp))
        {
            throw new ApiException(ErrorCodes.SignatureFailure, $"The credential scope's date {date} is not the UTC date of X-TC-Timestamp ({Tc3Signature.DateOf(timestamp)}).");
        }

        string[] names = signedHeaders.Split(';');
        if (!names.Contains("content-type") || !names.Contains("host"))
        {
            throw new ApiException(ErrorCodes.SignatureFailure, $"SignedHeaders '{signedHeaders}' must include content-type and host.");
        }
        var values = new List<string[]>();
        foreach (string name in names)
        {
            if (name.Length == 0 || name.Any(char.IsAsciiLetterUpper))
            {
                throw new ApiException(ErrorCodes.InvalidAuthorization, $"SignedHeaders '{signedHeaders}' must list lower-case header names separated by ';'.");
            }
            string value = request.Header(name)?.Trim() ?? "";
            values.Add(name == "host" ? HostVariants(value) : [value]);
        }

        string bodyHash = Tc3Signature.HashHex(body);
        byte[] expected = Encoding.ASCII.GetBytes(signature);
        foreach (bool lower in (bool[])[false, true])
        {
            foreach (string[] combination in Combinations(values))
            {
                var canonicalHeaders = new StringBuilder();
                for (int i = 0; i < names.Length; i++)
                {
                    canonicalHeaders.Append(names[i]).Append(':').Append(lower ? combination[i].ToLowerInvariant() : combination[i]).Append('\n');
                }
                string canonical = Tc3Signature.CanonicalRequest(request.Method, request.Path, request.Query, canonicalHeaders.ToString(), signedHeaders, bodyHash);
                byte[] actual = Encoding.ASCII.GetBytes(Tc3Signature.Signature(credentials.SecretKey, date, service, timestamp, canonical));
                if (CryptographicOperations.FixedTimeEquals(actual, expected))
                {
                    return;
                }
            }
        }
        throw new ApiException(ErrorCodes.SignatureFailure,
            "The signature does not match: check the SecretKey, and that the signed body is byte for byte the body sent and the signed headers are the headers sent.");
    }

    private static (string SecretId, string Date, string Service, string SignedHeaders, string Signature) Parse(string authorization)
    {
        string text = authorization.Trim();
        if (!text.StartsWith(Tc3Signature.Algorithm + " ", StringComparison.Ordinal))
        {
            throw new ApiException(ErrorCodes.InvalidAuthorization, $"The Authorization header must start with '{Tc3Signature.Algorithm} '; only TC3-HMAC-SHA256 signatures are accepted.");
        }
        string? credential = null, signedHeaders = null, signature = null;
        foreach (string part in text[(Tc3Signature.Algorithm.Length + 1)..].Split(','))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                continue;
            }
            string key = part[..eq].Trim();
            string value = part[(eq + 1)..].Trim();
            switch (key)
            {
                case "Credential": credential = value; break;
                case "SignedHeaders": signedHeaders = value; break;
                case "Signature": signature = value; break;
            }
        }
        string[] scope = credential?.Split('/') ?? [];
        if (scope.Length != 4 || scope[3] != Tc3Signature.ScopeTerminator || scope.Any(s => s.Length == 0) || signedHeaders is null || signature is null)
        {
            throw new ApiException(ErrorCodes.InvalidAuthorization,
                "The Authorization header must read 'TC3-HMAC-SHA256 Credential=<SecretId>/<yyyy-MM-dd>/<service>/tc3_request, SignedHeaders=content-type;host, Signature=<hex>'.");
        }
        return (scope[0], scope[1], scope[2], signedHeaders, signature);
    }

    /// <summary>"127.0.0.1:9700" → itself and "127.0.0.1"; "[::1]:9700" → itself and "[::1]".</summary>
    private static string[] HostVariants(string host)
    {
        int colon = host.LastIndexOf(':');
        bool hasPort = colon > 0 && colon > host.LastIndexOf(']') && int.TryParse(host.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _);
        return hasPort ? [host, host[..colon]] : [host];
    }

    private static IEnumerable<string[]> Combinations(List<string[]> values)
    {
        IEnumerable<string[]> result = [[]];
        foreach (string[] choices in values)
        {
            result = result.SelectMany(prefix => choices.Select(c => (string[])[.. prefix, c]));
        }
        return result;
    }
}
