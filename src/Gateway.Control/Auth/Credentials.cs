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
        string? id = null, key = null;
        foreach (string line in File.ReadAllLines(path))
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
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(key))
        {
            throw new InvalidDataException($"{path} lacks {SecretIdVariable}=... or {SecretKeyVariable}=...; fix it or delete it to have a new pair generated.");
        }
        return new Credentials(id, key);
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
        credentials = new Credentials(
            "AKID" + RandomNumberGenerator.GetString(Alphanumerics, 32),
            RandomNumberGenerator.GetString(Alphanumerics, 32));
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
            writer.Write($"{SecretIdVariable}={credentials.SecretId}\n{SecretKeyVariable}={credentials.SecretKey}\n");
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        generatedPath = path;
        return credentials;
    }

    public override string ToString() => $"{SecretId}/(secret)";
}
