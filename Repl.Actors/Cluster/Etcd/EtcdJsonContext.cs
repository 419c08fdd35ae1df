using System.Text.Json.Serialization;

namespace Repl.Actors.Cluster.Etcd;

// The gateway writes int64/uint64 as JSON strings (proto3 JSON mapping) and
// accepts either form, so read both and write strings for symmetry.
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString)]
[JsonSerializable(typeof(RangeRequestDto))]
[JsonSerializable(typeof(RangeResponseDto))]
[JsonSerializable(typeof(PutRequestDto))]
[JsonSerializable(typeof(PutResponseDto))]
[JsonSerializable(typeof(DeleteRangeRequestDto))]
[JsonSerializable(typeof(DeleteRangeResponseDto))]
[JsonSerializable(typeof(TxnRequestDto))]
[JsonSerializable(typeof(TxnResponseDto))]
[JsonSerializable(typeof(CompactionRequestDto))]
[JsonSerializable(typeof(CompactionResponseDto))]
[JsonSerializable(typeof(LeaseGrantRequestDto))]
[JsonSerializable(typeof(LeaseGrantResponseDto))]
[JsonSerializable(typeof(LeaseIdRequestDto))]
[JsonSerializable(typeof(LeaseRevokeResponseDto))]
[JsonSerializable(typeof(StreamLineDto<LeaseKeepAliveResponseDto>))]
[JsonSerializable(typeof(EmptyRequestDto))]
[JsonSerializable(typeof(StatusResponseDto))]
[JsonSerializable(typeof(MemberListResponseDto))]
[JsonSerializable(typeof(WatchRequestDto))]
[JsonSerializable(typeof(StreamLineDto<WatchResponseDto>))]
[JsonSerializable(typeof(GatewayErrorDto))]
internal sealed partial class EtcdJsonContext : JsonSerializerContext
{
}
