using System.Security.Cryptography;

namespace Gateway.Control.Model;

/// <summary>Ids in the cloud's shape: a prefix, a dash and eight characters from [0-9a-z] (ins-1a2b3c4d, eip-5e6f7g8h).</summary>
internal static class ResourceIds
{
    public const string InstancePrefix = "ins-";
    public const string AddressPrefix = "eip-";
    public const string VpcPrefix = "vpc-";
    public const string SubnetPrefix = "subnet-";
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
    private static readonly System.Buffers.SearchValues<char> s_alphabet = System.Buffers.SearchValues.Create(Alphabet);

    public static string New(string prefix, Func<string, bool> taken)
    {
        while (true)
        {
            string id = prefix + RandomNumberGenerator.GetString(Alphabet, 8);
            if (!taken(id))
            {
                return id;
            }
        }
    }

    /// <summary>True when <paramref name="id"/> has the shape of an id with <paramref name="prefix"/>.</summary>
    public static bool IsWellFormed(string? id, string prefix) =>
        id is not null
        && id.Length == prefix.Length + 8
        && id.StartsWith(prefix, StringComparison.Ordinal)
        && id.AsSpan(prefix.Length).IndexOfAnyExcept(s_alphabet) < 0;
}
