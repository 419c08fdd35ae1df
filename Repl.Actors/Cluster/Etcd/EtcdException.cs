namespace Repl.Actors.Cluster.Etcd;

/// <summary>etcd refused a request (a gRPC-gateway error body) or the client could not complete it.</summary>
public class EtcdException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public EtcdException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public EtcdException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a gateway error body.</summary>
    public EtcdException(string message, int grpcCode, int httpStatus)
        : base(message)
    {
        GrpcCode = grpcCode;
        HttpStatus = httpStatus;
    }

    /// <summary>The gRPC status code the gateway reported (e.g. 5 NotFound, 11 OutOfRange), when known.</summary>
    public int? GrpcCode { get; }

    /// <summary>The HTTP status of the gateway's answer, when there was one.</summary>
    public int? HttpStatus { get; }
}
