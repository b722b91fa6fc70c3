namespace Gateway.Control.Model;

/// <summary>
/// The public addresses the gateway hands out, free ones ordered by when they were freed.
/// </summary>
/// <remarks>
/// The seed: a released public IP "is returned to the public IP address pool and you cannot reuse it".
/// Handing out the address that has been free longest makes that true for as long as the pool allows:
/// a just-released address comes back only after every other free address has been handed out.
/// Never-used addresses count as freed at sequence 0, so they go first, lowest address first.
/// </remarks>
internal sealed class PublicPool
{
    private readonly HashSet<uint> _members;
    private readonly SortedSet<(long FreedSeq, uint Ip)> _free = [];
    private readonly Dictionary<uint, long> _freedSeqByIp = [];

    public PublicPool(IEnumerable<uint> members)
    {
        _members = [.. members];
    }

    public int MemberCount => _members.Count;

    public int FreeCount => _free.Count;

    public bool IsMember(uint ip) => _members.Contains(ip);

    public bool IsFree(uint ip) => _freedSeqByIp.ContainsKey(ip);

    public IReadOnlySet<uint> Members => _members;

    /// <summary>Free addresses, longest-free first.</summary>
    public IEnumerable<(long FreedSeq, uint Ip)> FreeInOrder() => _free;

    public void Take(uint ip)
    {
        if (_freedSeqByIp.Remove(ip, out long seq))
        {
            _free.Remove((seq, ip));
        }
    }

    public void Return(uint ip, long freedSeq)
    {
        if (_members.Contains(ip) && _freedSeqByIp.TryAdd(ip, freedSeq))
        {
            _free.Add((freedSeq, ip));
        }
    }
}
