#!/usr/bin/env bash
# Catch-up memory (issue 21 §3): a cluster node that starts late reads the whole backlog from etcd's watch. One etcd
# member and node a (its own seed) take ENTRIES publishes in batches of BATCH; then node b joins with an empty data
# directory and catches up. b's RSS is sampled every 100 ms until its applied position reaches the log's head; prints
# one line: peak RSS (VmHWM), RSS once caught up, catch-up time.
#
#   bench/catchup.sh [Repl.Host.dll]      (default: builds Repl.Host in Release)
#
# Environment: CATCHUP_ENTRIES (200000), CATCHUP_BATCH (entries per publish request and per etcd transaction, 1000),
# CATCHUP_VALUE_BYTES (200), CATCHUP_PORT (first HTTP port, 9501; b is +1), CATCHUP_ETCD_PORT (23890),
# CATCHUP_AKKA_PORT (4153; b is +1), CATCHUP_NODE_ARGS (extra arguments for node b, word-split),
# CATCHUP_SAMPLES (a file for the RSS samples: ms since b started, KiB).
set -euo pipefail
cd "$(dirname "$0")/.."
entries="${CATCHUP_ENTRIES:-200000}"
batch="${CATCHUP_BATCH:-1000}"
value_bytes="${CATCHUP_VALUE_BYTES:-200}"
port="${CATCHUP_PORT:-9501}"
etcd_port="${CATCHUP_ETCD_PORT:-23890}"
akka_port="${CATCHUP_AKKA_PORT:-4153}"
read -r -a node_args <<<"${CATCHUP_NODE_ARGS:-}"
dll="${1:-}"
if [[ -z "$dll" ]]; then
  dotnet build Repl.Host -c Release -nologo -v q >/dev/null
  dll="Repl.Host/bin/Release/net10.0/Repl.Host.dll"
fi
command -v etcd >/dev/null || { echo "etcd not found: run scripts/install-etcd.sh" >&2; exit 1; }

dir="$(mktemp -d "${TMPDIR:-/tmp}/repl-catchup.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

etcd --name e1 --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" --initial-cluster "e1=http://127.0.0.1:$((etcd_port + 1))" \
  --quota-backend-bytes $((8 << 30)) --logger zap --log-outputs stderr >"$dir/etcd.log" 2>&1 &
pids+=($!)

seed="akka.tcp://repl@127.0.0.1:$akka_port"
# node NAME INDEX [ARGS...]: a broker on port+INDEX and Akka port akka_port+INDEX, seeded by node a; no compaction.
node() {
  local name="$1" i="$2"; shift 2
  CLUSTER_IP=127.0.0.1 CLUSTER_PORT=$((akka_port + i)) CLUSTER_SEEDS="$seed" \
    dotnet "$dll" --etcd "http://127.0.0.1:$etcd_port" --node-id "$name" --urls "http://127.0.0.1:$((port + i))" \
    --advertise-url "http://127.0.0.1:$((port + i))" --data-dir "$dir/$name" --Cluster:CompactInterval 01:00:00 \
    --Logging:LogLevel:Default Warning "$@" >"$dir/$name.log" 2>&1 &
  pids+=($!)
}
ready() { # port
  for _ in $(seq 1 240); do
    curl -fs -o /dev/null "http://127.0.0.1:$1/readyz" && return 0
    sleep 0.5
  done
  echo "node on $1 not ready" >&2; tail -20 "$dir"/*.log >&2; exit 1
}
position() { curl -fsS "http://127.0.0.1:$1/health" | grep -o '"position":[0-9]*' | cut -d: -f2; }

node a 0
ready "$port"
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$port/topics" -H 'content-type: application/json' -d '{"name":"catchup"}'
value="$(head -c "$value_bytes" /dev/zero | tr '\0' x)"
python3 -c "import json,sys; print(json.dumps([{'value': sys.argv[1]} for _ in range(int(sys.argv[2]))]))" "$value" "$batch" >"$dir/batch.json"
for ((n = 0; n < entries; n += batch)); do
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:$port/topics/catchup/batch" -H 'content-type: application/json' --data-binary "@$dir/batch.json"
done
head_position="$(position "$port")"

node b 1 "${node_args[@]}"
b="${pids[-1]}"
samples="${CATCHUP_SAMPLES:-$dir/samples}"
: >"$samples"
started=$(date +%s%N)
caught_up=""
while kill -0 "$b" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$b/status")
  echo "$(( ($(date +%s%N) - started) / 1000000 )) $rss" >>"$samples"
  if [[ -z "$caught_up" ]] && [[ "$(position $((port + 1)) 2>/dev/null || echo 0)" -ge "$head_position" ]]; then
    caught_up=$(( ($(date +%s%N) - started) / 1000000 ))
    break
  fi
  sleep 0.1
done
[[ -n "$caught_up" ]] || { echo "node b stopped before it caught up" >&2; tail -20 "$dir/b.log" >&2; exit 1; }
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$b/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$b/status")
echo "entries $head_position: node b peak RSS $((hwm / 1024)) MiB, $((rss / 1024)) MiB once caught up, caught up in $((caught_up / 1000)).$(( (caught_up % 1000) / 100 )) s"
