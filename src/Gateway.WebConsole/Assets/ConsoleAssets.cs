using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace Gateway.WebConsole.Assets;

/// <summary>
/// The stylesheet, the one script and the icon, embedded in the assembly (nothing is read from disk or fetched from
/// elsewhere). Pages link them with a content hash in the query, so a browser may keep them for a year and a new
/// build is fetched at once.
/// </summary>
internal static class ConsoleAssets
{
    public const string BasePath = ConsoleExtension.BasePath + "/assets";

    private static readonly FrozenDictionary<string, Asset> s_assets = Load();

    /// <summary>The URL of an asset, with its version: <c>/console/assets/console.css?v=1a2b3c4d</c>.</summary>
    public static string Url(string name) => $"{BasePath}/{name}?v={s_assets[name].Version}";

    public static async Task ServeAsync(HttpContext context, PathString path)
    {
        var response = context.Response;
        string name = path.Value is { Length: > 1 } p ? p[1..] : "";
        if (!s_assets.TryGetValue(name, out var asset))
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return;
        }
        response.Headers.ETag = asset.ETag;
        response.Headers.CacheControl = context.Request.Query["v"] == asset.Version ? "public, max-age=31536000, immutable" : "no-cache";
        if (context.Request.Headers.IfNoneMatch == asset.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Bytes.Length;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await response.Body.WriteAsync(asset.Bytes, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(ConsoleAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        const string Prefix = "console-assets/";
        foreach (string resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            string name = resource[Prefix.Length..];
            string? type = Path.GetExtension(name) switch
            {
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => null,
            };
            if (type is null)
            {
                continue; // sources (this file's siblings) are not served
            }
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] bytes = copy.ToArray();
            string version = Convert.ToHexStringLower(SHA256.HashData(bytes))[..12];
            assets[name] = new Asset(bytes, type, version, $"\"{version}\"");
        }
        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private sealed record Asset(byte[] Bytes, string ContentType, string Version, string ETag);
}
