namespace Repl.Host.Contract;

/// <summary>The JSON errors of the API: <c>{"error": what, "cause": why}</c> with the matching status.</summary>
internal static class ApiError
{
    public static IResult Of(int status, string error, string cause) =>
        TypedResults.Json(new ErrorBody(error, cause), ApiJsonContext.Default.ErrorBody, statusCode: status);

    public static IResult BadRequest(string error, string cause) => Of(StatusCodes.Status400BadRequest, error, cause);

    public static IResult InvalidTopic(string? name) =>
        BadRequest("invalid topic name", $"'{name}' is not a valid topic name: {Repl.Actors.Topics.TopicName.Rule}");

    public static IResult TopicNotFound(string name) =>
        Of(StatusCodes.Status404NotFound, "topic not found", $"topic '{name}' does not exist; create it with POST /topics {{\"name\":\"{name}\"}}");

    public static IResult Unavailable(string cause) => Of(StatusCodes.Status503ServiceUnavailable, "log unavailable", cause);

    /// <summary>
    /// The <c>error</c> of a 503 for a write whose outcome is not known (<see cref="Repl.Actors.Log.OutcomeUnknownException"/>):
    /// it may have been committed. A 503 <c>log unavailable</c> means nothing was.
    /// </summary>
    public const string OutcomeUnknown = "outcome unknown";

    /// <summary>Writes an error outside of endpoint results (middleware, status-code pages).</summary>
    public static Task WriteAsync(HttpContext context, int status, string error, string cause)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ErrorBody(error, cause), ApiJsonContext.Default.ErrorBody);
    }
}
