using System.Security.Cryptography;

namespace Gateway.Control.Auth;

/// <summary>The one key pair the gateway's API accepts (the emulated account's SecretId/SecretKey).</summary>
public sealed record Credentials(string SecretId, string SecretKey)
{
    public const string SecretIdVariable = "GATEWAY_SECRET_ID";
    public const string SecretKeyVariable = "GATEWAY_SECRET_KEY";
    /// <summary>The file in the state directory, in shell-variable form so that <c>. state/credentials</c> exports nothing but can be sourced by scripts.</summary>
    public const string FileName = "credentials";

    private const string Alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>The pair from <c>GATEWAY_SECRET_ID</c>/<c>GATEWAY_SECRET_KEY</c>; null when neither is set.</summary>
    /// <exception cref="InvalidOperationException">Only one of the two is set.</exception>
    public static Credentials? FromEnvironment()
    {
        string? id = Environment.GetEnvironmentVariable(SecretIdVariable);
        string? key = Environment.GetEnvironmentVariable(SecretKeyVariable);
        if (string.IsNullOrEmpty(id) && string.IsNullOrEmpty(key))
        {
            return null;
        }
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(key))
        {
            throw new InvalidOperationException($"only one of {SecretIdVariable} and {SecretKeyVariable} is set; set both, or neither to use the state directory's credentials file.");
        }
        return new Credentials(id, key);
    }

    /// <summary>Reads <c>&lt;stateDirectory&gt;/credentials</c>; null when the file does not exist.</summary>
    public static Credentials? TryRead(string stateDirectory)
    {
        string path = Path.Combine(stateDirectory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>
    /// The daemon's credentials: the environment's, else the state directory's file, else a new pair written there
    /// readable by its owner only (0600). <paramref name="generatedPath"/> is the file's path when it was just created.
    /// </summary>
    public static Credentials LoadOrCreate(string stateDirectory, out string? generatedPath) =>
        LoadOrCreate(stateDirectory, FromEnvironment(), out generatedPath);

    internal static Credentials LoadOrCreate(string stateDirectory, Credentials? fromEnvironment, out string? generatedPath)
    {
        generatedPath = null;
        var credentials = fromEnvironment ?? TryRead(stateDirectory);
        if (credentials is not null)
        {
            return credentials;
        }
        credentials = Generate();
        string path = Write(stateDirectory, credentials);
        generatedPath = path;
        return credentials;
    }

    /// <summary>A fresh key pair.</summary>
    public static Credentials Generate() => new(
        "AKID" + RandomNumberGenerator.GetString(Alphanumerics, 32),
        RandomNumberGenerator.GetString(Alphanumerics, 32));

    /// <summary>The credentials file's text (<c>NAME=value</c> lines, as <see cref="TryRead"/> reads them).</summary>
    public string ToFileText() => $"{SecretIdVariable}={SecretId}\n{SecretKeyVariable}={SecretKey}\n";

    /// <summary>Reads the text of a credentials file; <paramref name="source"/> names it in errors.</summary>
    public static Credentials Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        string? id = null, key = null;
        foreach (string line in text.Split('\n'))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }
            string name = line[..eq].Trim();
            string value = line[(eq + 1)..].Trim();
            if (name == SecretIdVariable)
            {
                id = value;
            }
            else if (name == SecretKeyVariable)
            {
                key = value;
            }
        }
        return string.IsNullOrEmpty(id) || string.IsNullOrEmpty(key)
            ? throw new InvalidDataException($"{source} lacks {SecretIdVariable}=... or {SecretKeyVariable}=...; fix it or delete it to have a new pair generated.")
            : new Credentials(id, key);
    }

    /// <summary>Writes the credentials file into <paramref name="stateDirectory"/> (0600 from the first byte, atomically); returns its path.</summary>
    public static string Write(string stateDirectory, Credentials credentials)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        Hosting.StateDirectory.Ensure(stateDirectory);
        string path = Path.Combine(stateDirectory, FileName);
        string temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            // Created 0600 from the first byte: the key is never readable by anyone else, not even briefly.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(credentials.ToFileText());
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        return path;
    }

    public override string ToString() => $"{SecretId}/(secret)";
}
