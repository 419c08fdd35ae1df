#!/usr/bin/env bash
# Start-up cost of a standalone node: wall seconds from launch to the first /readyz 200, and the node's CPU seconds
# then (user + system, /proc/PID/stat). Each start on a fresh data directory, pinned like the bench's server.
#   bench/ready.sh BUILD [STARTS] [PORT]      BUILD: a published Repl.Host (bench/.out/repl, bench/.out/vs-REV)
# Environment: BENCH_SERVER_CPU (taskset list, default 0), READY_ENV (extra environment, e.g. "DOTNET_ReadyToRun=0").
set -euo pipefail
build="${1:?usage: bench/ready.sh BUILD [STARTS] [PORT]}" starts="${2:-3}" port="${3:-9390}"
for i in $(seq 1 "$starts"); do
  dir="$(mktemp -d "${TMPDIR:-/tmp}/repl-ready.XXXXXX")"
  began=$(date +%s.%N)
  # shellcheck disable=SC2086 # READY_ENV is a list of assignments
  env ${READY_ENV:-} taskset -c "${BENCH_SERVER_CPU:-0}" "$build/Repl.Host" --urls "http://127.0.0.1:$port" --data-dir "$dir" \
    --Logging:LogLevel:Default Warning >"$dir.log" 2>&1 &
  pid=$!
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "the node exited; see $dir.log" >&2; exit 1; fi
    sleep 0.02
  done
  ready=$(date +%s.%N)
  cpu=$(awk '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / 100 }' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir" "$dir.log"
  printf 'start %d: ready after %.2f s, %s CPU s; load %s\n' "$i" "$(awk "BEGIN { print $ready - $began }")" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)"
done
