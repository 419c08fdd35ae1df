namespace Voting.Tally;

/// <summary>One result to publish: its JSON and the position of the vote it answers (sent as the <c>through</c> header).</summary>
internal readonly record struct TallyResult(string Type, string Json, long Through);
