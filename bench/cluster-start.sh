#!/usr/bin/env bash
# Cluster start, again and again: N starts of a fresh local cluster (scripts/cluster-up.sh: 3 etcd members, 2
# lighthouses, 3 brokers, every data directory new), each timed from the launch to every broker's first /readyz 200.
# Prints one line per start (each broker's seconds to ready, the slowest, the load average at the launch, the launch's
# time, each broker's CPU seconds when it was ready, and every cluster process's CPU seconds once all were) and, at
# the end, the slowest broker of the slowest start with its log's "Node start has waited N s for ..." lines and its
# start timeline. See bench/README.md, "Cluster start".
#
#   bench/cluster-start.sh [N]      N starts (default 10)
#
# Environment: CLUSTER_START_DIR (data, logs and the per-start results; default bench/.out/cluster-start),
# CLUSTER_START_LIMIT (s a start may take before it counts as failed, default 90), REPL_HOST_DLL (the Repl.Host.dll
# to run; unset: Repl.Host is built in Release), and scripts/cluster-up.sh's REPL_CLUSTER_CPU, REPL_NODE_ARGS. Ports
# default away from cluster-up.sh's and bench/run.sh's own (etcd 28790.., brokers 18501.., lighthouses 18601..,
# Akka 18553..), so the loop can run beside them; REPL_CLUSTER_*_PORT override them.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
out="${CLUSTER_START_DIR:-$PWD/bench/.out/cluster-start}"
limit="${CLUSTER_START_LIMIT:-90}"
export REPL_CLUSTER_DIR="$out/cluster"
export REPL_CLUSTER_ETCD_PORT="${REPL_CLUSTER_ETCD_PORT:-28790}"
export REPL_CLUSTER_NODE_PORT="${REPL_CLUSTER_NODE_PORT:-18501}"
export REPL_CLUSTER_AKKA_PORT="${REPL_CLUSTER_AKKA_PORT:-18553}"
# Timestamps on every log line, for the timeline of the slowest start.
export Logging__Console__FormatterOptions__TimestampFormat="HH:mm:ss.fff "
if [ -z "${REPL_HOST_DLL:-}" ]; then
  dotnet build Repl.Host -c Release -nologo -v q >/dev/null
  export REPL_HOST_DLL="$PWD/Repl.Host/bin/Release/net10.0/Repl.Host.dll"
fi
mkdir -p "$out"
results="$out/starts.tsv"
printf 'start\tn1\tn2\tn3\tslowest\tload\tlaunched\tbroker_cpu\tall_cpu\n' >"$results"
trap 'scripts/cluster-down.sh --clean >/dev/null 2>&1 || true' EXIT

now_ms() { date +%s%3N; }

# CPU seconds (user + system) a process has used, from /proc/PID/stat.
cpu_of() { awk -v tck="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / tck }' "/proc/$1/stat" 2>/dev/null || echo "?"; }

# Polls one node's /readyz every 100 ms from $t0; writes the seconds to its first 200 (or "fail") to $2, and the CPU
# seconds its process had used by then to $2.cpu.
time_ready() { # port file pidfile
  local deadline=$((t0 + limit * 1000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if curl -fs -m 1 -o /dev/null "http://127.0.0.1:$1/readyz"; then
      awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }' >"$2"
      cpu_of "$(cat "$3")" >"$2.cpu"
      return
    fi
    sleep 0.1
  done
  echo fail >"$2"
  echo "?" >"$2.cpu"
}

worst=0 worst_start="" worst_node=""
for start in $(seq 1 "$runs"); do
  scripts/cluster-down.sh --clean >/dev/null
  load="$(cut -d' ' -f1 /proc/loadavg)"
  t0="$(now_ms)"
  # cluster-up.sh waits for readiness itself (and fails after 60 s); the timing is ours, so its outcome is not needed.
  scripts/cluster-up.sh >"$out/up.log" 2>&1 &
  up=$!
  pollers=()
  for i in 1 2 3; do
    time_ready $((REPL_CLUSTER_NODE_PORT + i - 1)) "$out/ready-n$i" "$REPL_CLUSTER_DIR/node-n$i.pid" &
    pollers+=($!)
  done
  wait "${pollers[@]}"
  wait "$up" || true
  # Every process of the cluster (etcd, lighthouses, brokers) with the CPU it has used: the start is mostly CPU, and
  # eight processes starting at once share the machine's cores.
  cpu_all="$(for f in "$REPL_CLUSTER_DIR"/*.pid; do cpu_of "$(cat "$f")"; echo; done | awk '{ s += $1 } END { printf "%.1f", s }')"
  times=() slowest=0 slow_node=""
  for i in 1 2 3; do
    t="$(cat "$out/ready-n$i")"
    times+=("$t")
    [ "$t" = fail ] && t=$((limit + 1))
    if awk -v a="$t" -v b="$slowest" 'BEGIN { exit !(a > b) }'; then slowest="$t" slow_node="n$i"; fi
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$start" "${times[@]}" "$slowest" "$load" "$(date -d "@${t0:0:-3}.${t0: -3}" +%T.%3N)" \
    "$(cat "$out/ready-n1.cpu")/$(cat "$out/ready-n2.cpu")/$(cat "$out/ready-n3.cpu")" "$cpu_all" | tee -a "$results"
  if awk -v a="$slowest" -v b="$worst" 'BEGIN { exit !(a > b) }'; then
    worst="$slowest" worst_start="$start" worst_node="$slow_node"
    rm -rf "$out/slowest" && mkdir -p "$out/slowest" && cp "$REPL_CLUSTER_DIR"/*.log "$out/slowest/"
  fi
done

echo
awk -F'\t' 'NR > 1 { for (i = 2; i <= 4; i++) if ($i != "fail") { n++; s += $i; if ($i > m) m = $i } else f++ }
  END { printf "%d brokers ready: mean %.1f s, slowest %.1f s; %d not ready within the limit\n", n, n ? s / n : 0, m, f }' "$results"
echo "slowest: start $worst_start, broker $worst_node, $worst s (logs in $out/slowest)"
grep -h "has waited" "$out/slowest/node-$worst_node.log" || echo "  (no \"Node start has waited\" line: it started within 10 s of the launch of its process)"
grep -hE "Node start:|Repl node .* started" "$out/slowest/node-$worst_node.log" || true
