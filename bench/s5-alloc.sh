#!/usr/bin/env bash
# Bytes allocated per acknowledged publish in S5's shape, a figure the machine's load does not move (issue 23).
#   bench/s5-alloc.sh BUILD LABEL [PORT]
# BUILD is a published Repl.Host (bench/run.sh leaves this checkout's in bench/.out/repl and an A/B's other side in
# bench/.out/vs-REV). Starts the server on BENCH_SERVER_CPU (0), records the runtime's counters with dotnet-counters
# (DOTNET_COUNTERS, default dotnet-counters on the PATH: dotnet tool install --tool-path DIR dotnet-counters), runs
# Repl.Bench (BENCH_TOOL, default bench/.out/bench/Repl.Bench) on BENCH_LOAD_CPU (1): 64 publishers flat out, 2 s of
# warm-up and 10 s; prints dotnet.gc.heap.total_allocated over every publish of the run, and server CPU per publish.
# S5_ARGS: more Repl.Bench options (--retry: an Idempotency-Key on every publish).
set -euo pipefail
build="${1:?usage: bench/s5-alloc.sh BUILD LABEL [PORT]}" label="${2:?label}" port="${3:-9380}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
counters="${DOTNET_COUNTERS:-dotnet-counters}"
tool="${BENCH_TOOL:-$here/.out/bench/Repl.Bench}"
dir="$(mktemp -d "${TMPDIR:-/tmp}/repl-alloc.XXXXXX")"
taskset -c "${BENCH_SERVER_CPU:-0}" "$build/Repl.Host" --urls "http://127.0.0.1:$port" --data-dir "$dir/data" \
  --Logging:LogLevel:Default Warning --Sse:PingInterval 00:00:15 >"$dir/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 1; done
"$counters" collect -p "$server" --counters System.Runtime --format csv -o "$dir/counters.csv" --refresh-interval 1 >"$dir/counters.log" 2>&1 &
collector=$!
sleep 2
# shellcheck disable=SC2086 # S5_ARGS is a list of options
taskset -c "${BENCH_LOAD_CPU:-1}" "$tool" --url "http://127.0.0.1:$port" --server-pid "$server" --subscribers 0 \
  --publishers 64 --rate 0 --duration 10 --warmup 2 --scenario S5 ${S5_ARGS:-} --json >"$dir/bench.json"
sleep 1.5
# The collector ends with the server (a background job here ignores SIGINT, which is how it is stopped by hand).
kill "$server"; wait "$server" 2>/dev/null || true; wait "$collector" || true
python3 - "$dir" "$label" <<'PY'
import csv, json, sys
run, label = sys.argv[1], sys.argv[2]
result = json.loads([line for line in open(run + "/bench.json") if line.startswith("{")][-1])
allocated = sum(float(row[4]) for row in csv.reader(open(run + "/counters.csv"))
                if len(row) > 4 and row[2].startswith("dotnet.gc.heap.total_allocated"))
publishes = result["accepted"] + result["warmupAccepted"]
cpu = result["server"]["cpuS"]
print(f"{label}: {publishes} publishes, {allocated / 1e6:.1f} MB allocated: {allocated / publishes:.0f} B/publish; "
      f"server CPU {cpu} s over {result['accepted']} measured: {cpu * 1e6 / result['accepted']:.0f} µs/publish")
PY
