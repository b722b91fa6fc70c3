using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Gateway.Control.Auth;

namespace Gateway.Control.Hardening.Tests;

/// <summary>A request written byte for byte: any header any number of times, in any order (HttpClient refuses most of that).</summary>
internal sealed record RawRequest
{
    public string Method { get; init; } = "POST";
    public List<(string Name, string Value)> Headers { get; init; } = [];
    public byte[] Body { get; init; } = [];
    /// <summary>Send a Content-Length header matching the body (false: none, or give your own in <see cref="Headers"/>).</summary>
    public bool ContentLength { get; init; } = true;

    public RawRequest With(string name, string value) => this with { Headers = [.. Headers, (name, value)] };

    public RawRequest Without(string name) => this with { Headers = [.. Headers.Where(h => !h.Name.Equals(name, StringComparison.OrdinalIgnoreCase))] };

    public RawRequest Replace(string name, string value) => Without(name).With(name, value);

    /// <summary>What a correct SDK sends for <paramref name="action"/> with <paramref name="body"/>, signed now (or at <paramref name="timestamp"/>).</summary>
    public static RawRequest Signed(int port, Credentials keys, string action, byte[] body, long? timestamp = null, string service = "vpc")
    {
        long ts = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string host = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        return new RawRequest
        {
            Body = body,
            Headers =
            [
                ("Host", host),
                ("Content-Type", "application/json"),
                ("X-TC-Action", action),
                ("X-TC-Version", "2017-03-12"),
                ("X-TC-Timestamp", ts.ToString(CultureInfo.InvariantCulture)),
                ("X-TC-Region", "ap-guangzhou"),
                ("Authorization", Tc3Signature.Authorization(keys, service, ts, "application/json", host, body)),
            ],
        };
    }
}

/// <summary>An HTTP/1.1 exchange over a plain socket, one request per connection.</summary>
internal static class RawHttp
{
    public static async Task<(int Status, string Body)> SendAsync(int port, RawRequest request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var stream = tcp.GetStream();
        var head = new StringBuilder($"{request.Method} / HTTP/1.1\r\n");
        foreach (var (name, value) in request.Headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        if (request.ContentLength)
        {
            head.Append("Content-Length: ").Append(request.Body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }
        head.Append("Connection: close\r\n\r\n");
        try
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(head.ToString()));
            await stream.WriteAsync(request.Body);
        }
        catch (IOException)
        {
            // The server may answer and close before it has read everything (an oversized body); read what it said.
        }
        using var all = new MemoryStream();
        try
        {
            await stream.CopyToAsync(all);
        }
        catch (IOException) when (all.Length > 0)
        {
            // Reset after the answer: the answer is complete.
        }
        return Parse(all.ToArray());
    }

    private static (int Status, string Body) Parse(byte[] response)
    {
        int end = response.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(end > 0, $"no HTTP response head in: {Encoding.UTF8.GetString(response)}");
        string[] lines = Encoding.ASCII.GetString(response, 0, end).Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        byte[] body = response[(end + 4)..];
        if (lines.Any(l => l.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && l.Contains("chunked", StringComparison.OrdinalIgnoreCase)))
        {
            body = Dechunk(body);
        }
        return (status, Encoding.UTF8.GetString(body));
    }

    private static byte[] Dechunk(byte[] chunked)
    {
        using var result = new MemoryStream();
        int at = 0;
        while (true)
        {
            int eol = at + chunked.AsSpan(at).IndexOf("\r\n"u8);
            int size = int.Parse(Encoding.ASCII.GetString(chunked, at, eol - at), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                return result.ToArray();
            }
            result.Write(chunked, eol + 2, size);
            at = eol + 2 + size + 2;
        }
    }
}
