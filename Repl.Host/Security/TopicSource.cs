namespace Repl.Host.Security;

/// <summary>Where an endpoint names the topics a <see cref="TopicRequirement"/> is checked on.</summary>
internal enum TopicSource
{
    /// <summary>The <c>{topic}</c> route value, else the <c>?topic=</c> list (<c>/sse?topic=a&amp;topic=b,c</c>); none names no topic.</summary>
    RouteOrQuery,

    /// <summary>The <c>"name"</c> of a JSON body (<c>POST /topics</c>).</summary>
    Body,
}
