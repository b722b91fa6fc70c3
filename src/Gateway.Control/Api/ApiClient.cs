using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Auth;

namespace Gateway.Control.Api;

/// <summary>An error envelope from the API: the cloud's code and message.</summary>
public sealed class ApiErrorException(string code, string message, string? requestId) : Exception($"{code}: {message}")
{
    public string Code { get; } = code;
    public string ApiMessage { get; } = message;
    public string? RequestId { get; } = requestId;
}

/// <summary>
/// A small signed client of the gateway's API (what <c>gateway ctl</c> uses): POST / with the action in headers
/// and a TC3-HMAC-SHA256 signature as the official SDKs send it, with <c>x-tc-action</c> signed too (as in the
/// specification's example) so that a captured request cannot be replayed as another action.
/// </summary>
public sealed class ApiClient(HttpClient http, Uri endpoint, Credentials credentials, string region = "ap-guangzhou")
{
    /// <summary>Calls <paramref name="action"/> of <paramref name="service"/> (cvm or vpc at 2017-03-12, or the given <paramref name="version"/>) and returns the <c>Response</c> object.</summary>
    /// <exception cref="ApiErrorException">The API answered with an error envelope.</exception>
    /// <exception cref="HttpRequestException">The daemon could not be reached or answered with something that is not the API.</exception>
    public Task<JsonElement> CallAsync(string service, string action, JsonObject? parameters = null, CancellationToken cancellationToken = default) =>
        CallAsync(service, ApiServer.Version, action, parameters, cancellationToken);

    /// <summary>As <see cref="CallAsync(string, string, JsonObject?, CancellationToken)"/>, at API <paramref name="version"/> (monitor: 2018-07-24).</summary>
    public async Task<JsonElement> CallAsync(string service, string version, string action, JsonObject? parameters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        byte[] body = Encoding.UTF8.GetBytes((parameters ?? []).ToJsonString());
        long timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        string host = endpoint.IsDefaultPort ? endpoint.Host : $"{endpoint.Host}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";
        request.Headers.Host = host;
        request.Headers.TryAddWithoutValidation("X-TC-Action", action);
        request.Headers.TryAddWithoutValidation("X-TC-Version", version);
        request.Headers.TryAddWithoutValidation("X-TC-Timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("X-TC-Region", region);
        request.Headers.TryAddWithoutValidation("Authorization", Tc3Signature.Authorization(credentials, service, timestamp, "application/json", host, action, body));

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        JsonElement envelope;
        try
        {
            using var document = JsonDocument.Parse(text);
            envelope = document.RootElement.GetProperty("Response").Clone();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new HttpRequestException($"{endpoint} answered HTTP {(int)response.StatusCode} with something that is not a Tencent Cloud API response: {Truncate(text)}", e);
        }
        if (envelope.TryGetProperty("Error", out var error))
        {
            throw new ApiErrorException(
                error.GetProperty("Code").GetString() ?? "",
                error.GetProperty("Message").GetString() ?? "",
                envelope.TryGetProperty("RequestId", out var id) ? id.GetString() : null);
        }
        return envelope;
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";
}
