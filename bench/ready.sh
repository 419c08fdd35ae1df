#!/usr/bin/env bash
# Start-up cost of a standalone node: wall seconds from launch to the first /readyz 200, and the node's CPU seconds
# then (user + system, /proc/PID/stat). Each start on a fresh data directory (the journal on disk), pinned like the
# bench's server.
#   bench/ready.sh BUILD[,BUILD...] [STARTS] [PORT]   BUILD: a published Repl.Host (bench/.out/repl, bench/.out/vs-REV)
# Several builds are alternated start by start (one sitting: the machine's load falls on each alike), and each gets
# a last line with the median and range of its STARTS starts.
# Environment: BENCH_SERVER_CPU (taskset list, default 0), READY_ENV (extra environment, e.g. "DOTNET_ReadyToRun=0").
set -euo pipefail
builds="${1:?usage: bench/ready.sh BUILD[,BUILD...] [STARTS] [PORT]}" starts="${2:-3}" port="${3:-9390}"
IFS=, read -ra builds <<<"$builds"
results="$(mktemp "${TMPDIR:-/tmp}/repl-ready.XXXXXX")"
trap 'rm -f "$results"' EXIT
for i in $(seq 1 "$starts"); do
  for build in "${builds[@]}"; do
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
    wall=$(awk "BEGIN { printf \"%.2f\", $ready - $began }")
    echo "$build $wall $cpu" >>"$results"
    printf '%s start %d: ready after %s s, %s CPU s; load %s\n' "$build" "$i" "$wall" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
for build in "${builds[@]}"; do
  awk -v build="$build" '
    function median(values, n,   sorted, i, j, t) {
      for (i = 1; i <= n; i++) sorted[i] = values[i]
      for (i = 2; i <= n; i++) for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) { t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t }
      low = sorted[1]; high = sorted[n]
      return n % 2 ? sorted[(n + 1) / 2] : (sorted[n / 2] + sorted[n / 2 + 1]) / 2
    }
    $1 == build { n++; wall[n] = $2; cpu[n] = $3 }
    END {
      w = median(wall, n); wl = low; wh = high; c = median(cpu, n)
      printf "%s: ready after %.2f s (median of %d, %.2f-%.2f), %.2f CPU s (%.2f-%.2f)\n", build, w, n, wl, wh, c, low, high
    }' "$results"
done
