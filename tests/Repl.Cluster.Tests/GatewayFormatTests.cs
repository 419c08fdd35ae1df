using System.Text;
using System.Text.Json;
using Repl.Actors.Cluster.Etcd;

namespace Repl.Cluster.Tests;

/// <summary>Gateway encodings checked without a server, on bodies captured from etcd 3.4.23.</summary>
public sealed class GatewayFormatTests
{
    [Theory]
    [InlineData("abc", "abd")]
    [InlineData("/topics/", "/topics0")]
    public void PrefixEnd_IncrementsLastByte(string prefix, string expected)
    {
        Assert.Equal(Encoding.UTF8.GetBytes(expected), EtcdKeys.PrefixEnd(prefix));
    }

    [Fact]
    public void PrefixEnd_TrailingFfBytes_AreDroppedBeforeIncrementing()
    {
        Assert.Equal([0x01, 0x03], EtcdKeys.PrefixEnd([0x01, 0x02, 0xff, 0xff]));
    }

    [Fact]
    public void PrefixEnd_AllFfOrEmpty_IsTheWholeKeySpaceMarker()
    {
        Assert.Equal([0x00], EtcdKeys.PrefixEnd([0xff, 0xff]));
        Assert.Equal([0x00], EtcdKeys.PrefixEnd(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void RangeResponse_Int64AsStrings_AndBase64Bytes_AreParsed()
    {
        const string body = """
            {"header":{"cluster_id":"324952591200643719","member_id":"18446744073709551615","revision":"2","raft_term":"2"},
             "kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}
            """;

        var dto = JsonSerializer.Deserialize(body, EtcdJsonContext.Default.RangeResponseDto)!;
        var result = RangeResult.From(dto);

        Assert.Equal(ulong.MaxValue, result.Header.MemberId);
        Assert.Equal(2, result.Header.Revision);
        Assert.Equal("foo", result.Kvs[0].KeyString);
        Assert.Equal("bar", result.Kvs[0].ValueString);
        Assert.False(result.More);
    }

    [Fact]
    public void Compare_IsWrittenWithEnumNamesAndOneOperand()
    {
        var json = JsonSerializer.Serialize(TxnCompare.Version("foo", CompareResult.NotEqual, 0).ToDto(), EtcdJsonContext.Default.CompareDto);

        Assert.Equal("""{"result":"NOT_EQUAL","target":"VERSION","key":"Zm9v","version":"0"}""", json);
    }

    [Fact]
    public async Task JsonLineReader_SeveralLinesInOneChunk_ReturnsEachWithoutWaitingForMore()
    {
        var bytes = Encoding.UTF8.GetBytes(
            "{\"result\":{\"created\":true}}\n{\"result\":{\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"Zm9v\",\"mod_revision\":\"7\"}}]}}\n\n{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}");
        await using var reader = new JsonLineReader<StreamLineDto<WatchResponseDto>>(new MemoryStream(bytes), EtcdJsonContext.Default.StreamLineDtoWatchResponseDto);

        var created = await reader.ReadAsync(CancellationToken.None);
        var events = await reader.ReadAsync(CancellationToken.None);
        var error = await reader.ReadAsync(CancellationToken.None);
        var end = await reader.ReadAsync(CancellationToken.None);

        Assert.True(created!.Result!.Created);
        var watchEvent = WatchEvent.From(events!.Result!.Events![0]);
        Assert.Equal(WatchEventType.Delete, watchEvent.Type);
        Assert.Equal(7, watchEvent.Kv.ModRevision);
        Assert.Equal(14, error!.Error!.GrpcCode);
        Assert.Null(end);
    }

    [Fact]
    public void Options_FromEndpoints_ParsesCommaSeparatedList()
    {
        var options = EtcdOptions.FromEndpoints("http://a:2379, http://b:2379");

        Assert.Equal([new Uri("http://a:2379"), new Uri("http://b:2379")], options.Endpoints);
    }
}
