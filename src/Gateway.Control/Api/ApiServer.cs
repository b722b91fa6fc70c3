using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Control.Auth;
using Gateway.Control.Metering;
using Gateway.Control.Hosting;
using Gateway.Control.Rules;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Control.Api;

/// <summary>Sees every answered request: its action, its error code ("" on success) and how long it took.</summary>
internal interface IApiObserver
{
    void Answered(string action, string errorCode, TimeSpan elapsed);
}

/// <summary>
/// The Tencent Cloud API 3.0 endpoint: <c>POST /</c> with a JSON body, the action in <c>X-TC-Action</c>, signed
/// with TC3-HMAC-SHA256. One endpoint serves every service, dispatched by <c>X-TC-Version</c> and action: cvm and vpc
/// at 2017-03-12, monitor at 2018-07-24 (the SDKs are pointed at host:port for every service). Every answer is HTTP 200 with <c>{"Response": {...}}</c>; a refusal is
/// <c>{"Response": {"Error": {"Code", "Message"}, "RequestId"}}</c>, which is how the official SDKs surface error codes.
/// </summary>
internal sealed class ApiServer : IAsyncDisposable
{
    public const string Version = "2017-03-12";
    public const long DefaultMaxBodyBytes = 1 << 20;

    /// <summary>
    /// The API's parameters nest three levels at most (Filters[].Values[]); 32 leaves room and bounds the parser's
    /// work on hostile nesting. A repeated key is refused: which of two values counts would otherwise be the
    /// parser's choice, and a signed body must mean one thing.
    /// </summary>
    private static readonly JsonDocumentOptions s_jsonOptions = new() { MaxDepth = 32, AllowDuplicateProperties = false };

    /// <summary>Headers that say what the request is and who sent it: each must come once (RFC 9110 section 5.3 lets a
    /// list-valued header repeat; none of these is a list).</summary>
    private static readonly string[] s_singleHeaders = ["X-TC-Action", "X-TC-Version", "X-TC-Timestamp", "X-TC-Region", "X-TC-Token", "X-TC-Language", "Content-Type"];

    private readonly ControlPlane _plane;
    private readonly Tc3Verifier _verifier;
    private readonly long _maxBodyBytes;
    private readonly Dictionary<string, Func<ControlPlane, RequestArgs, JsonObject>> _actions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<ControlPlane, RequestArgs, JsonObject>> _monitorActions = new(StringComparer.Ordinal);
    private readonly TextWriter _log;
    private readonly IApiObserver? _observer;
    private WebApplication? _app;

    public ApiServer(ControlPlane plane, Credentials credentials, TimeProvider clock, long maxBodyBytes, TextWriter log, TrafficMeter? meter = null, IApiObserver? observer = null)
    {
        _plane = plane;
        _verifier = new Tc3Verifier(credentials, clock);
        _maxBodyBytes = maxBodyBytes;
        _log = log;
        _observer = observer;
        VpcActions.Register(_actions);
        CvmActions.Register(_actions);
        MonitorActions.Register(_monitorActions, meter, clock);
        ClusterActions.Register(_actions);
    }

    /// <summary>Where the server listens (the real port when 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <param name="extensions">Served on the same listener ahead of the API (the console); each takes only its own paths.</param>
    /// <param name="host">The host the extensions serve.</param>
    /// <param name="certificate">Null: plain HTTP; else TLS only.</param>
    public async Task StartAsync(IPEndPoint endPoint, X509Certificate2? certificate, IReadOnlyList<IListenerExtension> extensions, GatewayHost host, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        foreach (var extension in extensions)
        {
            extension.ConfigureServices(builder.Services, host);
        }
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.Listen(endPoint, listen =>
            {
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
            options.AddServerHeader = false;
            // Our own reader enforces the API limit with an error envelope; this only cuts off abuse.
            options.Limits.MaxRequestBodySize = Math.Max(_maxBodyBytes * 16, 16L << 20);
        });
        var app = builder.Build();
        foreach (var extension in extensions)
        {
            extension.Configure(app);
        }
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(address);
        EndPoint = new IPEndPoint(endPoint.Address, uri.Port);
    }

    /// <summary>Stops accepting, lets requests in flight finish (up to <paramref name="cancellationToken"/>).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _app = null;
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        string requestId = Guid.NewGuid().ToString();
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        JsonObject response;
        try
        {
            response = await ProcessAsync(context, requestId).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            response = new JsonObject { ["Error"] = new JsonObject { ["Code"] = e.Code, ["Message"] = e.Message } };
        }
        catch (BadHttpRequestException e)
        {
            response = new JsonObject { ["Error"] = new JsonObject { ["Code"] = ErrorCodes.InvalidParameter, ["Message"] = $"The HTTP request is malformed: {e.Message}" } };
        }
#pragma warning disable CA1031 // The API must answer with an envelope whatever went wrong; the cause is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _log.WriteLine($"gateway: request {requestId} failed: {e}");
            response = new JsonObject { ["Error"] = new JsonObject { ["Code"] = ErrorCodes.InternalError, ["Message"] = $"An internal error occurred; the daemon's log has the details under RequestId {requestId}." } };
        }
        response["RequestId"] = requestId;
        if (_observer is not null)
        {
            string? action = context.Request.Headers["X-TC-Action"].Count == 1 ? context.Request.Headers["X-TC-Action"].ToString() : null;
            string code = response["Error"] is JsonObject error ? (string?)error["Code"] ?? "" : "";
            _observer.Answered(action is not null && IsServed(action) ? action : "(other)", code, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
        var envelope = new JsonObject { ["Response"] = response };
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.Headers["X-TC-RequestId"] = requestId;
        await context.Response.WriteAsync(envelope.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
    }

    private async Task<JsonObject> ProcessAsync(HttpContext context, string requestId)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || request.Path.Value is not ("/" or ""))
        {
            throw new ApiException(ErrorCodes.UnsupportedProtocol, $"{request.Method} {request.Path} is not served: send POST / with a JSON body (Tencent Cloud API 3.0).");
        }
        byte[] body = await ReadBodyAsync(request, context.RequestAborted).ConfigureAwait(false);
        RejectRepeatedHeaders(request);

        string action = RequiredHeader(request, "X-TC-Action");
        string version = RequiredHeader(request, "X-TC-Version");
        string timestampText = RequiredHeader(request, "X-TC-Timestamp");
        string region = RequiredHeader(request, "X-TC-Region");
        if (!long.TryParse(timestampText, NumberStyles.None, CultureInfo.InvariantCulture, out long timestamp))
        {
            throw new ApiException(ErrorCodes.InvalidParameterValue, $"X-TC-Timestamp '{timestampText}' is not a Unix time in seconds.");
        }
        var actions = version switch
        {
            Version => _actions,
            MonitorActions.Version => _monitorActions,
            _ => throw new ApiException(ErrorCodes.NoSuchVersion, $"The API version {version} does not exist here; the cvm and vpc actions are served at version {Version}, monitor at {MonitorActions.Version}."),
        };
        _verifier.Verify(new KestrelSignedRequest(request), timestamp, body);

        if (!actions.TryGetValue(action, out var handler))
        {
            var other = ReferenceEquals(actions, _actions) ? _monitorActions : _actions;
            throw new ApiException(ErrorCodes.InvalidAction, other.ContainsKey(action)
                ? $"The action {action} is not served at version {version}; it is served at version {(ReferenceEquals(other, _actions) ? Version : MonitorActions.Version)}."
                : $"The action {action} does not exist here. Served: {string.Join(", ", actions.Keys.Order(StringComparer.Ordinal))}.");
        }
        string contentType = request.ContentType ?? "";
        if (!contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ErrorCodes.InvalidParameter, $"Content-Type '{contentType}' is not served: send the parameters as a JSON body with Content-Type application/json.");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.Length == 0 ? "{}"u8.ToArray() : body, s_jsonOptions);
        }
        catch (JsonException e)
        {
            throw new ApiException(ErrorCodes.InvalidParameter, $"The body is not valid JSON: {e.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ApiException(ErrorCodes.InvalidParameter, "The body must be a JSON object of parameters.");
            }
            return handler(_plane, new RequestArgs(document.RootElement) { Region = region, RequestId = requestId });
        }
    }

    private async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > _maxBodyBytes * 16)
        {
            throw TooLarge(request.ContentLength.Value);
        }
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        long total = 0;
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += read;
            // Past the limit the rest is read and dropped, so the client gets the error envelope instead of a reset.
            if (total <= _maxBodyBytes)
            {
                buffer.Write(chunk, 0, read);
            }
        }
        return total > _maxBodyBytes ? throw TooLarge(total) : buffer.ToArray();
    }

    private static void RejectRepeatedHeaders(HttpRequest request)
    {
        if (request.Headers.Authorization.Count > 1)
        {
            throw new ApiException(ErrorCodes.InvalidAuthorization, $"The request has {request.Headers.Authorization.Count} Authorization headers; send exactly one.");
        }
        foreach (string name in s_singleHeaders)
        {
            int count = request.Headers[name].Count;
            if (count > 1)
            {
                throw new ApiException(ErrorCodes.InvalidParameter, $"The request has {count} {name} headers; send it once.");
            }
        }
    }

    /// <summary>True for an action name this server has (any version): metrics label only those, so a client cannot mint labels.</summary>
    private bool IsServed(string action) => _actions.ContainsKey(action) || _monitorActions.ContainsKey(action);

    private ApiException TooLarge(long length) =>
        new(ErrorCodes.RequestSizeLimitExceeded, $"The request body has {length} bytes; at most {_maxBodyBytes} are accepted.");

    private static string RequiredHeader(HttpRequest request, string name)
    {
        string? value = request.Headers[name];
        return string.IsNullOrWhiteSpace(value)
            ? throw new ApiException(ErrorCodes.MissingParameter, $"The request is missing the header {name}.")
            : value.Trim();
    }

    private sealed class KestrelSignedRequest(HttpRequest request) : ISignedRequest
    {
        public string Method => request.Method;
        public string Path => request.Path.HasValue ? request.Path.Value! : "/";
        public string Query => request.QueryString.HasValue ? request.QueryString.Value![1..] : "";
        public string? Header(string name) => request.Headers.TryGetValue(name, out var values) ? values.ToString() : null;
    }
}
