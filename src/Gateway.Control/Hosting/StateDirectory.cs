namespace Gateway.Control.Hosting;

/// <summary>The state directory holds the key pair and the database: it is its owner's alone.</summary>
internal static class StateDirectory
{
    /// <summary>rwx for the owner, nothing for group and others (0700).</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Creates <paramref name="path"/> (and missing parents) 0700 from the start. An existing directory is left as its
    /// owner set it, but one that group or others can enter is reported: the returned warning says how to close it.
    /// </summary>
    public static string? Ensure(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return null;
        }
        if (!Directory.Exists(path))
        {
            // The mode applies to every directory created here (before the umask, which can only take bits away).
            Directory.CreateDirectory(path, OwnerOnly);
            return null;
        }
        var mode = File.GetUnixFileMode(path);
        return (mode & GroupOrOthers) != 0
            ? $"the state directory {path} is accessible to group or others (mode {Convert.ToString((int)mode, 8)}); it holds the credentials and the database: chmod 700 {path}"
            : null;
    }

    /// <summary>Makes an existing file owner-only (0600): the database and its WAL.</summary>
    public static void MakeOwnerOnly(string file)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(file))
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
