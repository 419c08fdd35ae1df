using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Repl.Actors.Log;
using Repl.Host.Contract;
using Repl.Host.Metrics;
using Repl.Host.Security;

namespace Repl.Host.Api;

/// <summary>Makes every error the pipeline can still shape a JSON <c>{"error", "cause"}</c> (see <see cref="ApiError"/>).</summary>
/// <remarks>
/// Three places answer errors outside of the handlers: thrown exceptions (the exception handler), answers without a
/// body (status-code pages: routing's 404 and 405), and requests whose URL or headers are over the node's limits (a
/// middleware: Kestrel's own limits are set above them, see <see cref="LimitsOptions.KestrelFactor"/>). Kestrel still
/// answers malformed requests and requests over its own limits before any of this runs, with an empty body; the
/// README lists them.
/// </remarks>
internal static class ErrorResponses
{
    /// <summary>Adds the three, early in the pipeline so that they see every route (static files included).</summary>
    public static void UseReplErrors(this WebApplication app, LimitsOptions limits)
    {
        app.UseExceptionHandler(handler => handler.Run(WriteExceptionAsync));
        app.UseStatusCodePages(WriteStatusAsync);
        app.Use((context, next) => OverLimits(context.Request, limits) is { } error ? error.ExecuteAsync(context) : next(context));
    }

    private static Task WriteExceptionAsync(HttpContext context)
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        if (error is LogUnavailableException or OutcomeUnknownException)
            context.RequestServices.GetService<ReplMetrics>()?.WriteFailed(error is OutcomeUnknownException);
        return error switch
        {
            LogUnavailableException unavailable => ApiError.WriteAsync(context, 503, "log unavailable", unavailable.Message),
            // Still 503, the status clients retry on, but never "log unavailable": that one means nothing was committed.
            OutcomeUnknownException unknown => ApiError.WriteAsync(context, 503, ApiError.OutcomeUnknown, unknown.Message),
            BadHttpRequestException bad => ApiError.WriteAsync(context, bad.StatusCode, "bad request", bad.Message),
            OperationCanceledException => ApiError.WriteAsync(context, 503, "shutting down", "the node is stopping; retry on another node"),
            _ => ApiError.WriteAsync(context, 500, "internal error", "the server failed to handle the request; it has been logged"),
        };
    }

    private static async Task WriteStatusAsync(StatusCodeContext status)
    {
        var context = status.HttpContext;
        var response = context.Response;
        if (response.HasStarted || response.ContentLength > 0 || response.ContentType is not null) return;
        var request = context.Request;
        // Static files answer only GET and HEAD, and another method falls through to routing, which knows no such path:
        // the path exists, so the answer is 405, as on every route.
        if (response.StatusCode == 404 && !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && IsStaticFile(context))
        {
            response.StatusCode = 405;
            response.Headers.Allow = "GET, HEAD";
        }
        var (error, cause) = response.StatusCode switch
        {
            404 => ("not found", $"no route for {request.Method} {request.Path}"),
            405 => ("method not allowed", $"{request.Method} is not allowed on {request.Path}; allowed: {response.Headers.Allow}"),
            var code => ("request failed", $"status {code}"),
        };
        await ApiError.WriteAsync(context, response.StatusCode, error, cause);
    }

    private static bool IsStaticFile(HttpContext context)
    {
        string path = context.Request.Path.Value ?? "/";
        // The default document: UseDefaultFiles maps "/" to "/index.html", for GET and HEAD only.
        if (path.EndsWith('/')) path += "index.html";
        return context.RequestServices.GetRequiredService<IWebHostEnvironment>().WebRootFileProvider.GetFileInfo(path) is { Exists: true, IsDirectory: false };
    }

    /// <summary>A 414 or 431 for a request over the node's URL or header limits, else null.</summary>
    /// <remarks>On every request: a length, a count, and a pass over the headers (a few dozen at most once under the count limit).</remarks>
    internal static IResult? OverLimits(HttpRequest request, LimitsOptions limits)
    {
        // The raw target is what the client sent (before decoding and dot-segment removal), as Kestrel measures it.
        string target = request.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value + request.QueryString.Value;
        if (target.Length > limits.MaxUrlBytes)
        {
            return ApiError.Of(StatusCodes.Status414UriTooLong, "URI too long",
                $"the request target is {target.Length} bytes, over the limit of {limits.MaxUrlBytes} (Limits:MaxUrlBytes); "
                + "for a stream of many topics, name fewer per stream");
        }
        var headers = request.Headers;
        if (headers.Count > limits.MaxHeaderCount)
        {
            return ApiError.Of(StatusCodes.Status431RequestHeaderFieldsTooLarge, "headers too large",
                $"the request has {headers.Count} headers, over the limit of {limits.MaxHeaderCount} (Limits:MaxHeaderCount)");
        }
        long bytes = 0;
        foreach (var (name, values) in headers)
        {
            // "Name: value\r\n" per value, as on the wire.
            foreach (var value in values) bytes += name.Length + (value?.Length ?? 0) + 4;
        }
        if (bytes > limits.MaxHeaderBytes)
        {
            return ApiError.Of(StatusCodes.Status431RequestHeaderFieldsTooLarge, "headers too large",
                $"the request headers are {bytes} bytes, over the limit of {limits.MaxHeaderBytes} (Limits:MaxHeaderBytes)");
        }
        return null;
    }
}
