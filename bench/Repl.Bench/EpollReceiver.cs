using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Repl.Bench;

/// <summary>
/// Linux x64: every subscriber's connection in one epoll set, connected and read by one thread with plain system
/// calls (<c>--receiver epoll</c>, the default there).
/// </summary>
/// <remarks>
/// Why: through .NET's socket engine each receive cost two <c>recv</c> calls (the data, then the <c>EAGAIN</c> of the
/// next speculative receive) plus the engine's dispatch. At S3's rate that filled the load program's core (perf:
/// <c>recv</c> 61 % of it, the engine 17 %), so the latency it measured included its own queueing. Here a
/// connection is level-triggered: one <c>recv</c> per readiness, whatever it brings, and nothing else. The sockets
/// never meet the .NET engine, so no second epoll set wakes for them.
/// </remarks>
internal sealed class EpollReceiver : IDisposable
{
    private const int EpollIn = 0x001, EpollOut = 0x004;
    private const int EpollCtlAdd = 1, EpollCtlDel = 2, EpollCtlMod = 3;
    private const int AfInet = 2, SockStream = 1, SockNonBlock = 0x800, SockCloexec = 0x80000;
    private const int SolSocket = 1, SoError = 4, MsgNoSignal = 0x4000;
    private const int EIntr = 4, EAgain = 11, EInProgress = 115;
    private const int PrioProcess = 0;

    private readonly int _epoll;
    private readonly Connection?[] _connections;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private readonly int _nice;

    /// <param name="nice">The receiver thread's nice value (<c>--receiver-nice</c>); 0 leaves it at the process's.</param>
    public EpollReceiver(int capacity, int nice = 0)
    {
        _nice = nice;
        _epoll = epoll_create1(SockCloexec);
        if (_epoll < 0) throw new IOException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        _connections = new Connection?[capacity];
        _thread = new Thread(Run) { IsBackground = true, Name = "bench-epoll" };
        _thread.Start();
    }

    public static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>Starts connecting <paramref name="subscriber"/> (slot <paramref name="index"/>); its <c>Connected</c> task completes from the loop.</summary>
    public void Add(int index, SseSubscriber subscriber, IPEndPoint endpoint)
    {
        if (endpoint.AddressFamily != AddressFamily.InterNetwork) throw new NotSupportedException("the epoll receiver speaks IPv4 only; use --receiver async");
        int fd = socket(AfInet, SockStream | SockNonBlock | SockCloexec, 0);
        if (fd < 0)
        {
            subscriber.Fail($"socket failed: errno {Marshal.GetLastPInvokeError()}");
            return;
        }
        var address = new SockAddrIn
        {
            Family = AfInet,
            Port = BinaryPrimitives.ReverseEndianness((ushort)endpoint.Port),
            Address = BitConverter.ToUInt32(endpoint.Address.GetAddressBytes()),
        };
        var connection = _connections[index] = new Connection(subscriber, fd, index);
        subscriber.MarkStart();
        if (connect(fd, ref address, Marshal.SizeOf<SockAddrIn>()) < 0 && Marshal.GetLastPInvokeError() is int error && error != EInProgress)
        {
            Close(connection, $"connect failed: errno {error}");
            return;
        }
        // The slot is written before the registration, so the loop sees it when the first event comes.
        var registration = new EpollEvent { Events = EpollOut, Data = (ulong)index };
        if (epoll_ctl(_epoll, EpollCtlAdd, fd, ref registration) < 0) Close(connection, $"epoll_ctl failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Stops the loop and closes every connection still open (the subscribers were told to stop first).</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _thread.Join();
        foreach (var connection in _connections)
        {
            if (connection is { Fd: >= 0 }) Close(connection, null);
        }
        close(_epoll);
    }


    /// <summary>Null, or why the receiver's priority could not be raised (it needs CAP_SYS_NICE: root).</summary>
    public string? NiceRefused { get; private set; }

    private void Run()
    {
        // The receiver before the publishers. On one core with them, a receiver that waits its turn behind the
        // publishers' threads (and any other process) leaves deliveries in the sockets' kernel buffers, which hold
        // seconds of S1's rate: the latency measured was then the load program's own queueing, not the server's
        // (bench/README.md, "S1's outliers": the server idle, deliveries still arriving 1.2 s late).
        if (_nice != 0 && setpriority(PrioProcess, gettid(), _nice) < 0) NiceRefused = $"setpriority failed: errno {Marshal.GetLastPInvokeError()}";
        var events = new EpollEvent[512];
        while (!_stopping)
        {
            int ready = epoll_wait(_epoll, events, events.Length, 100);
            if (ready < 0)
            {
                if (Marshal.GetLastPInvokeError() == EIntr) continue;
                throw new IOException($"epoll_wait failed: errno {Marshal.GetLastPInvokeError()}");
            }
            for (int i = 0; i < ready && !_stopping; i++)
            {
                if (_connections[(int)events[i].Data] is { Fd: >= 0 } connection) OnReady(connection);
            }
        }
    }

    private void OnReady(Connection connection)
    {
        var subscriber = connection.Subscriber;
        try
        {
            if (connection.State == ConnectionState.Connecting)
            {
                int error = 0, length = sizeof(int);
                getsockopt(connection.Fd, SolSocket, SoError, ref error, ref length);
                if (error != 0)
                {
                    Close(connection, $"connect failed: errno {error}");
                    return;
                }
                byte[] request = subscriber.Request;
                if (send(connection.Fd, ref request[0], request.Length, MsgNoSignal) != request.Length)
                {
                    Close(connection, $"sending the request failed: errno {Marshal.GetLastPInvokeError()}");
                    return;
                }
                var reading = new EpollEvent { Events = EpollIn, Data = (ulong)connection.Index };
                epoll_ctl(_epoll, EpollCtlMod, connection.Fd, ref reading);
                connection.State = ConnectionState.Head;
                return;
            }

            byte[] buffer = subscriber.Buffer;
            int offset = connection.State == ConnectionState.Head ? connection.Filled : 0;
            if (offset == buffer.Length) throw new InvalidDataException("response head larger than the receive buffer");
            long read = recv(connection.Fd, ref buffer[offset], buffer.Length - offset, 0);
            if (read < 0)
            {
                int error = Marshal.GetLastPInvokeError();
                if (error != EAgain) Close(connection, $"recv failed: errno {error}");
                return;
            }
            if (read == 0)
            {
                Close(connection, connection.State == ConnectionState.Head ? "connection closed before the response head" : null);
                return;
            }
            if (connection.State == ConnectionState.Head)
            {
                connection.Filled += (int)read;
                if (subscriber.TryReadHead(connection.Filled)) connection.State = ConnectionState.Streaming;
            }
            else
            {
                subscriber.Receive(0, (int)read);
            }
            if (subscriber.Ended) Close(connection, null);
        }
        catch (InvalidDataException error)
        {
            Close(connection, error.Message);
        }
    }

    private void Close(Connection connection, string? failure)
    {
        if (connection.Fd < 0) return;
        var none = default(EpollEvent);
        epoll_ctl(_epoll, EpollCtlDel, connection.Fd, ref none);
        close(connection.Fd);
        connection.Fd = -1;
        if (failure is null) connection.Subscriber.Close();
        else connection.Subscriber.Fail(failure);
    }

    private enum ConnectionState { Connecting, Head, Streaming }

    private sealed class Connection(SseSubscriber subscriber, int fd, int index)
    {
        public SseSubscriber Subscriber { get; } = subscriber;
        /// <summary>Its slot, and its epoll data.</summary>
        public int Index { get; } = index;
        public int Fd { get; set; } = fd;
        public ConnectionState State { get; set; }
        /// <summary>Bytes of the response head received so far.</summary>
        public int Filled { get; set; }
    }

    // x86-64 packs epoll_event: 4-byte events, then the 8-byte data at offset 4.
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public int Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockAddrIn
    {
        public ushort Family;
        public ushort Port;
        public uint Address;
        public ulong Zero;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int epoll_create1(int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int epoll_ctl(int epfd, int op, int fd, ref EpollEvent @event);

    [DllImport("libc", SetLastError = true)]
    private static extern int epoll_wait(int epfd, [Out] EpollEvent[] events, int maxevents, int timeout);

    [DllImport("libc", SetLastError = true)]
    private static extern int socket(int domain, int type, int protocol);

    [DllImport("libc", SetLastError = true)]
    private static extern int connect(int fd, ref SockAddrIn address, int length);

    [DllImport("libc", SetLastError = true)]
    private static extern int getsockopt(int fd, int level, int name, ref int value, ref int length);

    [DllImport("libc", SetLastError = true)]
    private static extern long send(int fd, ref byte buffer, long length, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern long recv(int fd, ref byte buffer, long length, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int gettid();

    /// <summary>With <c>which</c> = PRIO_PROCESS and a thread id, Linux sets that one thread's nice value.</summary>
    [DllImport("libc", SetLastError = true)]
    private static extern int setpriority(int which, int who, int prio);
}
