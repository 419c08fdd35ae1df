#!/usr/bin/env bash
# Runs the load scenarios S1–S7 against Repl, S1–S3 against the Node SSE baseline, S5 against the Kestrel floor
# (bench/peers/kestrel-floor: an empty Kestrel app, what Kestrel and the kernel allow per publish), the cluster
# scenarios C1–C3 (3 etcd + 2 lighthouses + 3 brokers; C3 kills the sequencer's broker), and writes
# bench/results/latest.json. See bench/README.md.
# Three more run only when named: X1 (crash consistency: kill -9 cycles, a full disk, damaged journals; needs root for
# the tmpfs), X2 (clean exits: SIGTERM / restart cycles under load) and SOAK (subscriber churn and publishing, the server's RSS/fds/threads → results/soak.csv, soak.svg).
#
#   bench/run.sh                 every scenario, BENCH_REPEAT (2) runs each, BENCH_DURATION (10) s each
#   bench/run.sh --quick         smoke: 1 s each, few subscribers, one run, no targets checked
#   bench/run.sh S3 S4           only these scenarios
#   bench/run.sh C1 C2 --no-node the cluster scenarios only
#   bench/run.sh C3 --no-node    kill -9 of the sequencer's broker under 500 publishes/s
#   bench/run.sh --no-node       skip the Node baseline
#   bench/run.sh --no-floor      skip the Kestrel floor
#   bench/run.sh X1              crash consistency (Repl.Bench crash); exits non-zero on any violation
#   bench/run.sh X2              SIGTERM cycles (Repl.Bench crash --sigterm-cycles): exit 0, streams end with unavailable,
#                                nothing acknowledged lost; a second host on the port exits 4
#   bench/run.sh SOAK            the soak (Repl.Bench soak), BENCH_SOAK_DURATION s; exits non-zero if anything grows
#   bench/run.sh --vs REV S4 S5  A/B: also builds commit REV (a git worktree) and runs it as server "repl@REV",
#                                alternating with this checkout run by run (BENCH_REPEAT pairs), then prints each
#                                figure's ratio this/REV pair by pair (--vs implies --no-node --no-floor)
#   bench/run.sh --hooks S5 O1   hooks A/B: each run also on "repl+hooks", a node whose subscribe and publish hooks
#                                are an instant local backend (peers/kestrel-floor's POST /hook, {"allow":true}, on
#                                the server's CPU), alternating with the plain node; prints repl+hooks/repl pair by pair
#   O1                           stream opens: BENCH_O1_STREAMS (3,000) streams opened, 200 in flight, no publishing;
#                                opens/s and server CPU per open, counted at each response head
#
# Environment: BENCH_DURATION (s, default 10), BENCH_S6_DURATION (s, default 60), BENCH_REPEAT (default 2),
# BENCH_WARMUP (s of uncounted publishing before each run, default 2),
# BENCH_SERVER_CPU / BENCH_LOAD_CPU (taskset CPU lists, default 0 and 1), BENCH_PORT (default 9300),
# BENCH_OUT (build output, default bench/.out), BENCH_RESULTS (default bench/results: runs/ and latest.json),
# BENCH_JOURNAL (disk|memory, default disk; S5 and C1–C3 are always disk),
# BENCH_TIMELINE (1: each run also writes runs/NAME-KIND-RUN.timeline.csv, 100 ms slots; bench/timeline.py reads it),
# BENCH_LOAD_ARGS (more Repl.Bench options for every standalone run, e.g. --retry: S5 with an Idempotency-Key per publish).
# Cluster (C1–C3): BENCH_CLUSTER_CPU (taskset list for etcd and nodes, default BENCH_SERVER_CPU),
# BENCH_CLUSTER_PORT (first node port, default 9401), BENCH_ETCD_PORT (first etcd client port, default 23790),
# BENCH_AKKA_PORT (first lighthouse's Akka port, default 4453; brokers n1–n3 use +2..+4),
# BENCH_ETCD_ARGS (extra etcd flags),
# BENCH_NODE_ARGS (extra node arguments, standalone nodes too), BENCH_C1_SUBSCRIBERS (300; 0 measures the commit path alone),
# BENCH_C1_PUBLISHERS (96), BENCH_C3_DURATION (s, default 60; the kill comes at a third of it),
# BENCH_C3_SUBSCRIBERS (100), BENCH_C3_RATE (publishes/s, 500), BENCH_C3_KILL_AT (s into the window, default a third).
# X1: BENCH_X1_CYCLES (kill -9 cycles, default 20), BENCH_X1_ARGS (more Repl.Bench crash options).
# X2: BENCH_X2_CYCLES (SIGTERM cycles, default 30), BENCH_X2_ARGS (more Repl.Bench crash options).
# SOAK: BENCH_SOAK_DURATION (s, default 1800), BENCH_SOAK_CHURNERS (300), BENCH_SOAK_RATE (publishes/s, 100),
# BENCH_SOAK_SAMPLE (s between samples, 5).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
quick=0
x1=0
x2=0
soak=0
node=1
floor=1
hooks=0
only=()
vs=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  arg="${args[i]}"
  case "$arg" in
    --vs) vs="${args[i + 1]:?--vs needs a commit}"; i=$((i + 1)); node=0; floor=0 ;;
    --hooks) hooks=1; node=0; floor=0 ;;
    --quick) quick=1 ;;
    --no-node) node=0 ;;
    --no-floor) floor=0 ;;
    S[1-7]|C[1-3]|O1) only+=("$arg") ;;
    X1) x1=1 ;;
    X2) x2=1 ;;
    SOAK) soak=1 ;;
    -h|--help) sed -n '2,44p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# X1, X2 and SOAK alone: no load scenario, no baseline, and the load scenarios' saved runs are left as they are.
loads=1
if [[ ${#only[@]} -eq 0 && ( $x1 == 1 || $x2 == 1 || $soak == 1 ) ]]; then loads=0; node=0; floor=0; fi

duration="${BENCH_DURATION:-10}"
s6_duration="${BENCH_S6_DURATION:-60}"
repeat="${BENCH_REPEAT:-2}"
warmup="${BENCH_WARMUP:-2}"
server_cpu="${BENCH_SERVER_CPU:-0}"
load_cpu="${BENCH_LOAD_CPU:-1}"
port="${BENCH_PORT:-9300}"
out="${BENCH_OUT:-$here/.out}"
journal="${BENCH_JOURNAL:-disk}"
results="${BENCH_RESULTS:-$here/results}"
cluster_cpu="${BENCH_CLUSTER_CPU:-$server_cpu}"
cluster_port="${BENCH_CLUSTER_PORT:-9401}"
etcd_port="${BENCH_ETCD_PORT:-23790}"
akka_port="${BENCH_AKKA_PORT:-4453}"
c3_duration="${BENCH_C3_DURATION:-60}"
if [[ $quick == 1 ]]; then duration=1; s6_duration=1; c3_duration=3; repeat=1; warmup=0.5; fi

# scenario | subscribers | non-readers (N, or Ns for N slow readers) | publishers | rate (0 = max) | duration | servers
# Fixed-rate scenarios use many publishers so that slow acknowledgements (closed loop) do not cap the rate.
# Cluster rows: subscribers and publishers are spread round-robin over the 3 nodes. C2 needs ~240 closed-loop
# publishers to offer 2,000/s at ~100 ms acknowledgements. C3 spreads them over the 2 brokers that survive the kill
# (see run_cluster); its 100 publishers (5/s each) leave room to catch up after the handover.
scenarios() {
  if [[ $quick == 1 ]]; then
    cat <<ROWS
S1 10 0 4 0 $duration repl,node
S2 50 0 4 0 $duration repl,node
S3 50 0 2 200 $duration repl,node
S4 200 0 1 10 $duration repl
S5 0 0 8 0 $duration repl,floor
S6 50 2 2 200 $s6_duration repl
S7 45 5s 4 0 $duration repl
O1 100 0 0 0 $duration repl
C1 30 0 6 0 $duration cluster
C2 30 0 6 200 $duration cluster
C3 30 0 20 500 $c3_duration cluster
ROWS
  else
    cat <<ROWS
S1 100 0 32 0 $duration repl,node
S2 1000 0 32 0 $duration repl,node
S3 1000 0 32 200 $duration repl,node
S4 9000 0 8 10 $duration repl
S5 0 0 64 0 $duration repl,floor
S6 1000 10 32 200 $s6_duration repl
S7 900 100s 32 0 $duration repl
O1 ${BENCH_O1_STREAMS:-3000} 0 0 0 1 repl
C1 ${BENCH_C1_SUBSCRIBERS:-300} 0 ${BENCH_C1_PUBLISHERS:-96} 0 $duration cluster
C2 300 0 120 1000 $duration cluster
C3 ${BENCH_C3_SUBSCRIBERS:-100} 0 100 ${BENCH_C3_RATE:-500} $c3_duration cluster
ROWS
  fi
}

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# Inline socket completions: the bench's receive loops run on the epoll thread instead of hopping to the pool.
# Set for the load program only (bench_env): on a server it would move request handling onto the socket thread.
bench_env=(env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "== build (Release)"
# Into an emptied folder: publishing over an older output keeps a dependency's older DLL when the package's file is
# not newer (Akka.Hosting 1.5.74 stayed beside a 1.5.75 deps.json, and the node would not start).
rm -rf "$out/repl" "$out/bench"
dotnet publish "$root/Repl.Host/Repl.Host.csproj" -c Release -o "$out/repl" --nologo -v quiet
vs_label=""
if [[ -n $vs ]]; then
  vs_commit="$(git -C "$root" rev-parse --short "$vs^{commit}")"
  vs_label="repl@$vs_commit"
  if [[ ! -x "$out/vs-$vs_commit/Repl.Host" ]]; then
    vs_tree="$(mktemp -d "${TMPDIR:-/tmp}/repl-vs.XXXXXX")"
    git -C "$root" worktree add --detach "$vs_tree" "$vs_commit" >/dev/null
    dotnet publish "$vs_tree/Repl.Host/Repl.Host.csproj" -c Release -o "$out/vs-$vs_commit" --nologo -v quiet
    git -C "$root" worktree remove --force "$vs_tree"
  fi
  echo "   A/B: this checkout ($(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo ", with changes")) against $vs_label"
fi
dotnet publish "$here/Repl.Bench/Repl.Bench.csproj" -c Release -o "$out/bench" --nologo -v quiet
if [[ $floor == 1 || $hooks == 1 ]]; then
  dotnet publish "$here/peers/kestrel-floor/KestrelFloor.csproj" -c Release -o "$out/floor" --nologo -v quiet
fi
if [[ $node == 1 ]]; then
  if ! command -v node >/dev/null; then
    echo "node not found: skipping the Node baseline" >&2; node=0
  elif [[ ! -d "$here/peers/node-sse/node_modules/fastify" ]]; then
    (cd "$here/peers/node-sse" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

cluster=1
if ! command -v etcd >/dev/null; then
  if [[ " ${only[*]} " =~ " C" ]]; then echo "etcd not found: run scripts/install-etcd.sh" >&2; exit 1; fi
  echo "etcd not found: skipping the cluster scenarios (scripts/install-etcd.sh)" >&2; cluster=0
fi

runs="$results/runs"
if [[ $loads == 1 ]]; then rm -rf "$runs"; fi
mkdir -p "$runs"
server_pid=""
hook_pid=""
cluster_dir=""
failed=0

stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
  if [[ -n "$hook_pid" ]]; then
    kill "$hook_pid" 2>/dev/null || true
    wait "$hook_pid" 2>/dev/null || true
    hook_pid=""
  fi
}
# cpu_seconds PID: user + system CPU seconds of PID so far (/proc/PID/stat fields 14 and 15, USER_HZ 100).
cpu_seconds() {
  awk '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / 100 }' "/proc/$1/stat"
}
# The cluster is started and stopped by scripts/cluster-up.sh / cluster-down.sh (pid files in its directory).
cluster_env() {
  env REPL_CLUSTER_DIR="$cluster_dir" REPL_CLUSTER_ETCD_PORT="$etcd_port" REPL_CLUSTER_NODE_PORT="$cluster_port" \
    REPL_CLUSTER_AKKA_PORT="$akka_port" REPL_CLUSTER_CPU="$cluster_cpu" REPL_HOST_DLL="$out/repl/Repl.Host.dll" "$@"
}
stop_cluster() {
  if [[ -n "$cluster_dir" ]]; then
    cluster_env "$root/scripts/cluster-down.sh" --clean >/dev/null || true
    cluster_dir=""
  fi
}
cleanup() {
  stop_server
  stop_cluster
  [[ -n "${data_dir:-}" ]] && rm -rf "$data_dir"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_cluster SCENARIO: 3 etcd members, 2 lighthouses and 3 brokers in a fresh temp dir, all pinned to
# $cluster_cpu; sets cluster_urls, node_pids, etcd_pids. The logs are copied next to the run's JSON when the
# cluster stops.
start_cluster() {
  cluster_dir="$(mktemp -d "${TMPDIR:-/tmp}/repl-bench-cluster.XXXXXX")"
  local node_args="--Logging:LogLevel:Default Warning --Sse:PingInterval 00:00:15 --Limits:MaxStreamsPerIp 100000"
  node_args+=" ${BENCH_NODE_ARGS:-}"
  if ! cluster_env REPL_ETCD_ARGS="${BENCH_ETCD_ARGS:-}" REPL_NODE_ARGS="$node_args" "$root/scripts/cluster-up.sh" >"$runs/$1-cluster-up.log" 2>&1; then
    # Why: each broker's /readyz answer (the processes still run until cleanup stops them).
    for i in 1 2 3; do
      echo "n$i /readyz: $(curl -sS -m 2 "http://127.0.0.1:$((cluster_port + i - 1))/readyz" 2>&1)"
    done >>"$runs/$1-cluster-up.log"
    cat "$runs/$1-cluster-up.log" >&2
    cp "$cluster_dir"/*.log "$runs/" 2>/dev/null || true
    exit 1
  fi
  cluster_urls="http://127.0.0.1:$cluster_port,http://127.0.0.1:$((cluster_port + 1)),http://127.0.0.1:$((cluster_port + 2))"
  node_pids="$(cat "$cluster_dir"/node-n{1,2,3}.pid | paste -sd,)"
  etcd_pids="$(cat "$cluster_dir"/etcd-e{1,2,3}.pid | paste -sd,)"
}

# sequencer_node: which broker (1–3) runs the sequencer singleton: /cluster's akka.sequencer is the oldest broker's
# Akka address, and broker i listens on Akka port akka_port+1+i (scripts/cluster-up.sh).
sequencer_node() {
  local address port
  for _ in $(seq 1 50); do
    address="$(curl -fsS "http://127.0.0.1:$cluster_port/cluster" | grep -o '"sequencer":"[^"]*"' || true)"
    port="${address##*:}"; port="${port%\"}"
    if [[ $port =~ ^[0-9]+$ ]] && (( port - akka_port - 1 >= 1 && port - akka_port - 1 <= 3 )); then
      echo $((port - akka_port - 1)); return 0
    fi
    sleep 0.2
  done
  echo "no sequencer in /cluster: ${address:-nothing}" >&2
  return 1
}

# run_cluster SCENARIO SUBS PUBS RATE SECS RUN: one run on a fresh cluster. C3 kills -9 the sequencer's broker a
# third into the window; its subscribers and publishers go to the two other brokers, and publish as a careful
# client (--retry: an idempotency key per message, sent again after a 503 until it is 201).
run_cluster() {
  local name="$1" subs="$2" pubs="$3" rate="$4" secs="$5" run="$6"
  start_cluster "$name"
  local urls="$cluster_urls" pids="$node_pids" kill=()
  if [[ $name == C3 ]]; then
    local victim i
    victim="$(sequencer_node)" || { cp "$cluster_dir"/*.log "$runs/" 2>/dev/null; exit 1; }
    urls=""; pids=""
    for i in 1 2 3; do
      [[ $i == "$victim" ]] && continue
      urls+="${urls:+,}http://127.0.0.1:$((cluster_port + i - 1))"
      pids+="${pids:+,}$(cat "$cluster_dir/node-n$i.pid")"
    done
    local kill_at="${BENCH_C3_KILL_AT:-$(awk "BEGIN { print $secs / 3 }")}"
    kill=(--retry --kill-pid "$(cat "$cluster_dir/node-n$victim.pid")" --kill-at "$kill_at")
    echo "   the sequencer runs on n$victim: kill -9 at $kill_at s; load on $urls"
  fi
  "${bench_env[@]}" taskset -c "$load_cpu" "$out/bench/Repl.Bench" --url "$urls" --server-pid "$pids" --etcd-pid "$etcd_pids" \
    --scenario "$name" --label repl --subscribers "$subs" --publishers "$pubs" "${kill[@]}" \
    --rate "$rate" --duration "$secs" --warmup "$warmup" --topic bench >"$runs/$name-cluster-$run.json" \
    || { echo "   (bench run failed; see above)" >&2; failed=1; }
  for f in "$cluster_dir"/*.log; do cp "$f" "$runs/$name-$run-$(basename "$f")"; done
  stop_cluster
}

# start_server repl|vs|hooked|node|floor SCENARIO: starts a fresh server pinned to $server_cpu, waits for /health.
# hooked: first the instant hook (the Kestrel floor's POST /hook) on the same CPU, then a node asking it before every
# stream and publish.
start_server() {
  local kind="$1" scenario="$2" log="$runs/$2-$1-server.log"
  port=$((port + 1))
  if [[ $kind == repl || $kind == vs || $kind == hooked ]]; then
    data_dir="$(mktemp -d "${TMPDIR:-/tmp}/repl-bench.XXXXXX")"
    local store=(--data-dir "$data_dir") build="$out/repl" hook_args=()
    if [[ $journal == memory && $scenario != S5 ]]; then store=(--in-memory); fi
    if [[ $kind == vs ]]; then build="$out/vs-$vs_commit"; fi
    if [[ $kind == hooked ]]; then
      taskset -c "$server_cpu" "$out/floor/KestrelFloor" --urls "http://127.0.0.1:$port" >"$runs/$2-hook-server.log" 2>&1 &
      server_pid=$!
      wait_health hook "$runs/$2-hook-server.log"
      hook_pid=$server_pid
      local hook="http://127.0.0.1:$port/hook"
      hook_args=(--Hooks:Subscribe "$hook" --Hooks:Publish "$hook" --Hooks:Secret "whsec_$(head -c 32 /dev/urandom | base64)")
      port=$((port + 1))
    fi
    # shellcheck disable=SC2086 # BENCH_NODE_ARGS is a list of arguments
    taskset -c "$server_cpu" "$build/Repl.Host" --urls "http://127.0.0.1:$port" "${store[@]}" \
      --Logging:LogLevel:Default Warning --Sse:PingInterval 00:00:15 --Limits:MaxStreamsPerIp 100000 \
      "${hook_args[@]}" ${BENCH_NODE_ARGS:-} >"$log" 2>&1 &
  elif [[ $kind == floor ]]; then
    taskset -c "$server_cpu" "$out/floor/KestrelFloor" --urls "http://127.0.0.1:$port" >"$log" 2>&1 &
  else
    taskset -c "$server_cpu" node "$here/peers/node-sse/server.js" --port "$port" >"$log" 2>&1 &
  fi
  server_pid=$!
  wait_health "$kind" "$log"
}

# wait_health KIND LOG: until the server started last answers /health; exits when it died or does not answer.
wait_health() {
  local kind="$1" log="$2"
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; then return 0; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then echo "server $kind exited; see $log" >&2; cat "$log" >&2; exit 1; fi
    sleep 0.2
  done
  echo "server $kind did not answer /health on port $port" >&2
  exit 1
}

# X1 and SOAK: programs of their own (Repl.Bench crash / soak, bench/README.md), run first and only when named.
status=0
if [[ $x1 == 1 ]]; then
  echo "== X1: crash consistency: ${BENCH_X1_CYCLES:-20} kill -9 cycles, a full disk, damaged journals"
  # shellcheck disable=SC2086 # BENCH_X1_ARGS is a list of options
  taskset -c "$load_cpu" "$out/bench/Repl.Bench" crash --host "$out/repl/Repl.Host" --server-cpu "$server_cpu" \
    --cycles "${BENCH_X1_CYCLES:-20}" ${BENCH_X1_ARGS:-} >"$results/x1.json" || { echo "   X1 failed (see above)" >&2; status=1; }
fi
if [[ $x2 == 1 ]]; then
  echo "== X2: clean exits: ${BENCH_X2_CYCLES:-30} SIGTERM cycles under load, a second host on the port"
  # shellcheck disable=SC2086 # BENCH_X2_ARGS is a list of options
  taskset -c "$load_cpu" "$out/bench/Repl.Bench" crash --host "$out/repl/Repl.Host" --server-cpu "$server_cpu" \
    --no-kill --no-full-disk --no-damaged --sigterm-cycles "${BENCH_X2_CYCLES:-30}" ${BENCH_X2_ARGS:-} >"$results/x2.json" \
    || { echo "   X2 failed (see above)" >&2; status=1; }
fi
if [[ $soak == 1 ]]; then
  soak_secs="${BENCH_SOAK_DURATION:-1800}"
  echo "== SOAK: ${BENCH_SOAK_CHURNERS:-300} churning subscribers, ${BENCH_SOAK_RATE:-100} publishes/s, ${soak_secs}s"
  data_dir="$(mktemp -d "${TMPDIR:-/tmp}/repl-soak.XXXXXX")"
  port=$((port + 1))
  taskset -c "$server_cpu" "$out/repl/Repl.Host" --urls "http://127.0.0.1:$port" --data-dir "$data_dir" \
    --Logging:LogLevel:Default Warning --Sse:PingInterval 00:00:15 --Limits:MaxStreamsPerIp 100000 >"$results/soak-server.log" 2>&1 &
  server_pid=$!
  wait_health repl "$results/soak-server.log"
  taskset -c "$load_cpu" "$out/bench/Repl.Bench" soak --url "http://127.0.0.1:$port" --server-pid "$server_pid" \
    --duration "$soak_secs" --churners "${BENCH_SOAK_CHURNERS:-300}" --rate "${BENCH_SOAK_RATE:-100}" --sample "${BENCH_SOAK_SAMPLE:-5}" \
    --csv "$results/soak.csv" --svg "$results/soak.svg" >"$results/soak.json" || { echo "   SOAK failed (see above)" >&2; status=1; }
  stop_server
  # Churn is clients leaving at any moment: none of it may be an error on the server's side.
  errors="$(grep -c '^fail:' "$results/soak-server.log" || true)"
  echo "   server log: $errors error(s) (fail:) in $results/soak-server.log"
  if [[ $errors != 0 ]]; then status=1; fi
  rm -rf "$data_dir" && data_dir=""
fi
if [[ $loads == 0 ]]; then exit "$status"; fi

# Run by run, each server of a scenario in turn: an A/B alternates its two builds, so the VM's drift falls on both.
while read -r name subs nonreaders pubs rate secs servers; do
  if [[ ${#only[@]} -gt 0 && ! " ${only[*]} " =~ " $name " ]]; then continue; fi
  if [[ -n $vs && $servers == repl* ]]; then servers="vs,$servers"; fi
  slow=0; if [[ $nonreaders == *s ]]; then slow="${nonreaders%s}" nonreaders=0; fi
  if [[ $hooks == 1 && $servers == repl* ]]; then servers="$servers,hooked"; fi
  for run in $(seq 1 "$repeat"); do
    for kind in ${servers//,/ }; do
      if [[ $kind == node && $node == 0 ]]; then continue; fi
      if [[ $kind == floor && $floor == 0 ]]; then continue; fi
      if [[ $kind == cluster && $cluster == 0 ]]; then continue; fi
      label="$kind"; [[ $kind == vs ]] && label="$vs_label"; [[ $kind == hooked ]] && label="repl+hooks"
      echo "== $name on $label, run $run/$repeat: $subs subscribers (+$nonreaders non-reading, +$slow slow), $pubs publishers, rate $rate, ${secs}s"
      if [[ $kind == cluster ]]; then
        run_cluster "$name" "$subs" "$pubs" "$rate" "$secs" "$run"
        continue
      fi
      start_server "$kind" "$name"
      if [[ $name == O1 ]]; then
        # Unmeasured: a first stream JITs the stream path (and a hooked node's HttpClient and resilience pipeline;
        # tiering is off, so each method is compiled in full on first call), which took seconds on a busy core and
        # made the first streams' hook calls wait past Hooks:SlotWait. O1 measures opening, not starting.
        "${bench_env[@]}" taskset -c "$load_cpu" "$out/bench/Repl.Bench" --url "http://127.0.0.1:$port" --subscribers 200 \
          --publishers 0 --duration 0.1 --warmup 0 --topic bench --json >/dev/null || true
      fi
      timeline=()
      if [[ ${BENCH_TIMELINE:-0} == 1 ]]; then timeline=(--timeline "$runs/$name-$kind-$run.timeline.csv"); fi
      # shellcheck disable=SC2086 # BENCH_LOAD_ARGS is a list of options
      "${bench_env[@]}" taskset -c "$load_cpu" "$out/bench/Repl.Bench" --url "http://127.0.0.1:$port" --server-pid "$server_pid" \
        --scenario "$name" --label "$label" --subscribers "$subs" --non-readers "$nonreaders" --slow-readers "$slow" --publishers "$pubs" \
        --rate "$rate" --duration "$secs" --warmup "$warmup" --topic bench "${timeline[@]}" ${BENCH_LOAD_ARGS:-} >"$runs/$name-$kind-$run.json" \
        || { echo "   (bench run failed; see above)" >&2; failed=1; }
      if [[ -n $hook_pid ]]; then echo "   the hook's own CPU over the whole run: $(cpu_seconds "$hook_pid") s"; fi
      stop_server
      [[ -n "${data_dir:-}" ]] && rm -rf "$data_dir" && data_dir=""
    done
  done
done < <(scenarios)

echo
echo "== results (medians of $repeat run(s))"
report_args=(report "$runs" --out "$results/latest.json")
[[ $quick == 1 ]] && report_args+=(--quick)
[[ -n $vs ]] && report_args+=(--vs "$vs_label")
[[ $hooks == 1 ]] && report_args+=(--this repl+hooks --vs repl)
"$out/bench/Repl.Bench" "${report_args[@]}"
exit "$failed"
