namespace Repl.Bench;

/// <summary>
/// The ids the publishes' 201s named (<c>--retry</c>), to check each subscriber's deliveries id by id: an acknowledged
/// id it never got is lost; an id it got that no 201 named is a message committed without the client being told so.
/// Every message is retried until it is 201, so such an id is a retry committed a second time (a duplicate).
/// </summary>
/// <param name="measured">The measured window's acknowledgements: a subscriber must get each of them.</param>
/// <param name="warmup">The warm-up's: received ids among them are neither lost nor unacknowledged.</param>
internal sealed class AckedIds(IEnumerable<long> measured, IEnumerable<long> warmup)
{
    private readonly HashSet<long> _measured = [.. measured];
    private readonly HashSet<long> _any = [.. measured, .. warmup];

    /// <returns>Acknowledged ids missing from <paramref name="received"/>, received ids never acknowledged, and the distinct ids received in the window (both kinds).</returns>
    public (long Missing, long Unacknowledged, long Delivered) Check(IReadOnlyCollection<long> received)
    {
        var got = received.ToHashSet();
        long unacknowledged = got.Count(id => !_any.Contains(id));
        long missing = _measured.Count(id => !got.Contains(id));
        return (missing, unacknowledged, _measured.Count - missing + unacknowledged);
    }
}
