namespace Gateway.Control.Auth.Tests;

public sealed class CredentialsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gw-creds-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void LoadOrCreate_WithoutAFile_WritesAPairReadableByTheOwnerOnly()
    {
        var created = Credentials.LoadOrCreate(_dir, fromEnvironment: null, out string? path);

        Assert.Equal(Path.Combine(_dir, Credentials.FileName), path);
        Assert.StartsWith("AKID", created.SecretId, StringComparison.Ordinal);
        Assert.Equal(32, created.SecretKey.Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path!));
        }
        Assert.False(File.Exists(path + ".tmp"));

        var again = Credentials.LoadOrCreate(_dir, fromEnvironment: null, out string? secondPath);
        Assert.Equal(created, again);
        Assert.Null(secondPath);
        Assert.Equal(created, Credentials.TryRead(_dir));
    }

    [Fact]
    public void TryRead_AFileWithoutTheKey_SaysWhatIsMissing()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, Credentials.FileName), "GATEWAY_SECRET_ID=AKIDx\n");

        var e = Assert.Throws<InvalidDataException>(() => Credentials.TryRead(_dir));
        Assert.Contains("GATEWAY_SECRET_KEY", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadOrCreate_TheEnvironmentsPair_WinsAndWritesNothing()
    {
        var fromEnvironment = new Credentials("AKIDenv", "envkey");

        Assert.Equal(fromEnvironment, Credentials.LoadOrCreate(_dir, fromEnvironment, out string? path));
        Assert.Null(path);
        Assert.False(File.Exists(Path.Combine(_dir, Credentials.FileName)));
    }

    [Fact]
    public void TryRead_NoFile_IsNull() => Assert.Null(Credentials.TryRead(_dir));
}
