namespace Repl.Actors.Topics;

/// <summary>Which of a topic's settings a change names (<see cref="TopicSettings.With"/>): the fields a PATCH sent, null ones included.</summary>
[Flags]
public enum TopicSettingsFields : byte
{
    None = 0,
    MaxMessages = 1,
    MaxAge = 2,
    MaxMessageBytes = 4,
    PublishRate = 8,
    Presence = 16,
}
