using System.Text.Json.Serialization;

namespace Repl.Actors.Cluster.Etcd;

// Wire shapes of etcd's v3 JSON gateway (grpc-gateway v1, protobuf field names).
// The gateway omits default values (0, false, empty lists, the PUT event type),
// so every response field is nullable or defaults sensibly. int64/uint64 arrive
// as JSON strings; bytes as standard base64. Enums are sent by name because the
// gateway parses a quoted number ("0") as a name and rejects it.

internal sealed class ResponseHeaderDto
{
    [JsonPropertyName("cluster_id")] public ulong ClusterId { get; set; }
    [JsonPropertyName("member_id")] public ulong MemberId { get; set; }
    [JsonPropertyName("revision")] public long Revision { get; set; }
    [JsonPropertyName("raft_term")] public ulong RaftTerm { get; set; }
}

internal sealed class KeyValueDto
{
    [JsonPropertyName("key")] public byte[]? Key { get; set; }
    [JsonPropertyName("create_revision")] public long CreateRevision { get; set; }
    [JsonPropertyName("mod_revision")] public long ModRevision { get; set; }
    [JsonPropertyName("version")] public long Version { get; set; }
    [JsonPropertyName("value")] public byte[]? Value { get; set; }
    [JsonPropertyName("lease")] public long Lease { get; set; }
}

internal sealed class RangeRequestDto
{
    [JsonPropertyName("key")] public byte[]? Key { get; set; }
    [JsonPropertyName("range_end")] public byte[]? RangeEnd { get; set; }
    [JsonPropertyName("limit")] public long? Limit { get; set; }
    [JsonPropertyName("revision")] public long? Revision { get; set; }
    [JsonPropertyName("keys_only")] public bool? KeysOnly { get; set; }
    [JsonPropertyName("count_only")] public bool? CountOnly { get; set; }
    [JsonPropertyName("serializable")] public bool? Serializable { get; set; }
}

internal sealed class RangeResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
    [JsonPropertyName("kvs")] public List<KeyValueDto>? Kvs { get; set; }
    [JsonPropertyName("more")] public bool More { get; set; }
    [JsonPropertyName("count")] public long Count { get; set; }
}

internal sealed class PutRequestDto
{
    [JsonPropertyName("key")] public byte[]? Key { get; set; }
    [JsonPropertyName("value")] public byte[]? Value { get; set; }
    [JsonPropertyName("lease")] public long? Lease { get; set; }
    [JsonPropertyName("prev_kv")] public bool? PrevKv { get; set; }
}

internal sealed class PutResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
    [JsonPropertyName("prev_kv")] public KeyValueDto? PrevKv { get; set; }
}

internal sealed class DeleteRangeRequestDto
{
    [JsonPropertyName("key")] public byte[]? Key { get; set; }
    [JsonPropertyName("range_end")] public byte[]? RangeEnd { get; set; }
    [JsonPropertyName("prev_kv")] public bool? PrevKv { get; set; }
}

internal sealed class DeleteRangeResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
    [JsonPropertyName("deleted")] public long Deleted { get; set; }
    [JsonPropertyName("prev_kvs")] public List<KeyValueDto>? PrevKvs { get; set; }
}

internal sealed class CompareDto
{
    [JsonPropertyName("result")] public string? Result { get; set; }
    [JsonPropertyName("target")] public string? Target { get; set; }
    [JsonPropertyName("key")] public byte[]? Key { get; set; }
    [JsonPropertyName("range_end")] public byte[]? RangeEnd { get; set; }
    // One of the following is set (protobuf oneof target_union).
    [JsonPropertyName("version")] public long? Version { get; set; }
    [JsonPropertyName("create_revision")] public long? CreateRevision { get; set; }
    [JsonPropertyName("mod_revision")] public long? ModRevision { get; set; }
    [JsonPropertyName("value")] public byte[]? Value { get; set; }
    [JsonPropertyName("lease")] public long? Lease { get; set; }
}

internal sealed class RequestOpDto
{
    [JsonPropertyName("request_range")] public RangeRequestDto? RequestRange { get; set; }
    [JsonPropertyName("request_put")] public PutRequestDto? RequestPut { get; set; }
    [JsonPropertyName("request_delete_range")] public DeleteRangeRequestDto? RequestDeleteRange { get; set; }
    [JsonPropertyName("request_txn")] public TxnRequestDto? RequestTxn { get; set; }
}

internal sealed class ResponseOpDto
{
    [JsonPropertyName("response_range")] public RangeResponseDto? ResponseRange { get; set; }
    [JsonPropertyName("response_put")] public PutResponseDto? ResponsePut { get; set; }
    [JsonPropertyName("response_delete_range")] public DeleteRangeResponseDto? ResponseDeleteRange { get; set; }
    [JsonPropertyName("response_txn")] public TxnResponseDto? ResponseTxn { get; set; }
}

internal sealed class TxnRequestDto
{
    [JsonPropertyName("compare")] public List<CompareDto>? Compare { get; set; }
    [JsonPropertyName("success")] public List<RequestOpDto>? Success { get; set; }
    [JsonPropertyName("failure")] public List<RequestOpDto>? Failure { get; set; }
}

internal sealed class TxnResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
    [JsonPropertyName("succeeded")] public bool Succeeded { get; set; }
    [JsonPropertyName("responses")] public List<ResponseOpDto>? Responses { get; set; }
}

internal sealed class CompactionRequestDto
{
    [JsonPropertyName("revision")] public long Revision { get; set; }
    [JsonPropertyName("physical")] public bool? Physical { get; set; }
}

internal sealed class CompactionResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
}

internal sealed class LeaseGrantRequestDto
{
    [JsonPropertyName("TTL")] public long Ttl { get; set; }
    [JsonPropertyName("ID")] public long? Id { get; set; }
}

internal sealed class LeaseGrantResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
    [JsonPropertyName("ID")] public long Id { get; set; }
    [JsonPropertyName("TTL")] public long Ttl { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
}

internal sealed class LeaseIdRequestDto
{
    [JsonPropertyName("ID")] public long Id { get; set; }
}

internal sealed class LeaseRevokeResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
}

internal sealed class LeaseKeepAliveResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
    [JsonPropertyName("ID")] public long Id { get; set; }
    [JsonPropertyName("TTL")] public long Ttl { get; set; }
}

internal sealed class EmptyRequestDto
{
}

internal sealed class StatusResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
    [JsonPropertyName("version")] public string? Version { get; set; }
    [JsonPropertyName("dbSize")] public long DbSize { get; set; }
    [JsonPropertyName("leader")] public ulong Leader { get; set; }
    [JsonPropertyName("raftIndex")] public ulong RaftIndex { get; set; }
    [JsonPropertyName("raftTerm")] public ulong RaftTerm { get; set; }
    [JsonPropertyName("raftAppliedIndex")] public ulong RaftAppliedIndex { get; set; }
    [JsonPropertyName("dbSizeInUse")] public long DbSizeInUse { get; set; }
    [JsonPropertyName("isLearner")] public bool IsLearner { get; set; }
    [JsonPropertyName("errors")] public List<string>? Errors { get; set; }
}

internal sealed class MemberDto
{
    [JsonPropertyName("ID")] public ulong Id { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("peerURLs")] public List<string>? PeerUrls { get; set; }
    [JsonPropertyName("clientURLs")] public List<string>? ClientUrls { get; set; }
    [JsonPropertyName("isLearner")] public bool IsLearner { get; set; }
}

internal sealed class MemberListResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
    [JsonPropertyName("members")] public List<MemberDto>? Members { get; set; }
}

internal sealed class WatchCreateRequestDto
{
    [JsonPropertyName("key")] public byte[]? Key { get; set; }
    [JsonPropertyName("range_end")] public byte[]? RangeEnd { get; set; }
    [JsonPropertyName("start_revision")] public long? StartRevision { get; set; }
    [JsonPropertyName("progress_notify")] public bool? ProgressNotify { get; set; }
    [JsonPropertyName("prev_kv")] public bool? PrevKv { get; set; }
}

internal sealed class WatchRequestDto
{
    [JsonPropertyName("create_request")] public WatchCreateRequestDto? CreateRequest { get; set; }
}

internal sealed class EventDto
{
    // Absent for PUT (the enum's zero value), "DELETE" otherwise.
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("kv")] public KeyValueDto? Kv { get; set; }
    [JsonPropertyName("prev_kv")] public KeyValueDto? PrevKv { get; set; }
}

internal sealed class WatchResponseDto
{
    [JsonPropertyName("header")] public ResponseHeaderDto? Header { get; set; }
    [JsonPropertyName("watch_id")] public long WatchId { get; set; }
    [JsonPropertyName("created")] public bool Created { get; set; }
    [JsonPropertyName("canceled")] public bool Canceled { get; set; }
    [JsonPropertyName("compact_revision")] public long CompactRevision { get; set; }
    [JsonPropertyName("cancel_reason")] public string? CancelReason { get; set; }
    [JsonPropertyName("fragment")] public bool Fragment { get; set; }
    [JsonPropertyName("events")] public List<EventDto>? Events { get; set; }
}

/// <summary>One line of a gateway stream: <c>{"result":{...}}</c> or <c>{"error":{...}}</c>.</summary>
internal sealed class StreamLineDto<T>
    where T : class
{
    [JsonPropertyName("result")] public T? Result { get; set; }
    [JsonPropertyName("error")] public StreamErrorDto? Error { get; set; }
}

internal sealed class StreamErrorDto
{
    [JsonPropertyName("grpc_code")] public int GrpcCode { get; set; }
    [JsonPropertyName("http_code")] public int HttpCode { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
    [JsonPropertyName("http_status")] public string? HttpStatus { get; set; }
}

/// <summary>A unary error body: <c>{"error":"...","message":"...","code":N}</c>.</summary>
internal sealed class GatewayErrorDto
{
    [JsonPropertyName("error")] public string? Error { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
    [JsonPropertyName("code")] public int Code { get; set; }
}
