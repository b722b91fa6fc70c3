namespace Gateway.Io.Replay;

/// <summary>A bindings or events file is wrong: the message names the file and the entry. Nothing was written.</summary>
public sealed class ReplayConfigurationException : Exception
{
    public ReplayConfigurationException()
    {
    }

    public ReplayConfigurationException(string message) : base(message)
    {
    }

    public ReplayConfigurationException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
