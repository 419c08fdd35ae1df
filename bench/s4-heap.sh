#!/usr/bin/env bash
# Where S4's memory per connection goes: heap snapshots of a server with 0 and with N idle SSE streams, and the
# difference by type divided by N. See bench/README.md, "Where S4's memory per connection goes".
#
#   bench/s4-heap.sh DIR LABEL [RUNS]   DIR: a published Repl.Host (dotnet publish Repl.Host -c Release -o DIR);
#                                       RUNS fresh servers (default 2), each dumped at 0 and at N streams
#   bench/s4-heap.sh --table A B        per-connection bytes by type of runs labelled A and B, side by side
#
# Each run starts the server as bench/run.sh starts S4's (pinned to BENCH_SERVER_CPU, journal on disk), dumps its
# heap with dotnet-gcdump (a full blocking GC: live objects only), opens S4_STREAMS streams (default 9,000) with
# Repl.Bench on BENCH_LOAD_CPU at 1 publish a second, so they are idle, dumps again once all are open, and writes
# OUT/LABEL-RUN-{0,N}.txt (the `dotnet-gcdump report`) and one line of VmRSS to OUT/rss.tsv.
# Environment: S4_HEAP_OUT (default bench/.out/s4-heap), S4_STREAMS, GCDUMP (default dotnet-gcdump on PATH, else
# /work/tools/dotnet-gcdump), BENCH_PORT (default 9350), BENCH_SERVER_CPU / BENCH_LOAD_CPU (default 0 / 1).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${S4_HEAP_OUT:-$PWD/bench/.out/s4-heap}"
streams="${S4_STREAMS:-9000}"
mkdir -p "$out"

# table A B: bytes per connection by type, (dump at N - dump at 0) / N, the mean over each label's runs. Array
# size classes ("System.Byte[] (Bytes > 1K)") are summed into their type; types under 8 B a connection are left out.
if [[ ${1:-} == --table ]]; then
  a="$2" b="$3"
  awk -v A="$a" -v B="$b" -v N="$streams" '
    FNR == 1 { f = FILENAME; sub(/.*\//, "", f); zero = (f ~ /-0\.txt$/); sign = zero ? -1 : 1
               label = f; sub(/-[0-9]+-[0-9]+\.txt$/, "", label); if (!zero) runs[label]++ }
    $1 ~ /^[0-9,]+$/ && $2 ~ /^[0-9,]+$/ && NF >= 3 {
      bytes = $1; gsub(/,/, "", bytes); count = $2; gsub(/,/, "", count)
      type = $0; sub(/^ *[0-9,]+ +[0-9,]+ +/, "", type); sub(/ \(Bytes > [0-9]+K\)/, "", type); sub(/  \[.*$/, "", type)
      by[label, type] += sign * bytes * count; cn[label, type] += sign * count; types[type] = 1 }
    END {
      for (t in types) {
        x = by[A, t] / runs[A] / N; y = by[B, t] / runs[B] / N; tx += x; ty += y
        if (x < 8 && y < 8 && x > -8 && y > -8) continue
        printf "%8.0f %6.2f %8.0f %6.2f %7.0f  %s\n", x, cn[A, t] / runs[A] / N, y, cn[B, t] / runs[B] / N, y - x, t }
      printf "%8.0f %6s %8.0f %6s %7.0f  %s\n", tx, "", ty, "", ty - tx, "(all types)"
    }' "$out/$a"-*-*.txt "$out/$b"-*-*.txt | sort -k3,3 -n -r |
    { printf "%8s %6s %8s %6s %7s  %s\n" "$a B" objs "$b B" objs diff type; cat; }
  exit 0
fi

build="$1" label="$2" runs="${3:-2}"
gcdump="${GCDUMP:-$(command -v dotnet-gcdump || echo /work/tools/dotnet-gcdump)}"
port="${BENCH_PORT:-9350}" server_cpu="${BENCH_SERVER_CPU:-0}" load_cpu="${BENCH_LOAD_CPU:-1}"
bench="$out/bench/Repl.Bench"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[[ -x $bench ]] || dotnet publish bench/Repl.Bench -c Release -o "$out/bench" --nologo -v quiet
[[ -f $out/rss.tsv ]] || printf 'label\trun\tstreams\tserver_conns\trss_0_kb\trss_n_kb\tkb_per_conn\n' >"$out/rss.tsv"

server_pid="" bench_pid="" data=""
cleanup() {
  [[ -n $bench_pid ]] && kill "$bench_pid" 2>/dev/null || true
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [[ -n $data ]] && rm -rf "$data" || true
  server_pid="" bench_pid="" data=""
}
trap cleanup EXIT
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# Established connections the server holds on its port (streams plus the publisher).
conns() { ss -Htn state established "( sport = :$port )" | wc -l; }

for run in $(seq 1 "$runs"); do
  data="$(mktemp -d "${TMPDIR:-/tmp}/s4-heap.XXXXXX")"
  taskset -c "$server_cpu" "$build/Repl.Host" --urls "http://127.0.0.1:$port" --data-dir "$data" \
    --Logging:LogLevel:Default Warning --Sse:PingInterval 00:00:15 --Limits:MaxStreamsPerIp 100000 \
    >"$out/$label-$run-server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 150); do curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break; sleep 0.2; done
  sleep 2
  rss0=$(rss "$server_pid")
  "$gcdump" collect -p "$server_pid" -o "$out/$label-$run-0.gcdump" >/dev/null
  "$gcdump" report "$out/$label-$run-0.gcdump" >"$out/$label-$run-0.txt" 2>/dev/null

  DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 taskset -c "$load_cpu" "$bench" --url "http://127.0.0.1:$port" \
    --subscribers "$streams" --publishers 1 --rate 1 --duration 3600 --warmup 0 --topic bench --json \
    >"$out/$label-$run-bench.json" 2>"$out/$label-$run-bench.log" &
  bench_pid=$!
  for _ in $(seq 1 600); do (($(conns) > streams)) && break; sleep 1; done
  sleep 10 # every graph started and its first round written
  rssn=$(rss "$server_pid") held=$(conns)
  "$gcdump" collect -t 120 -p "$server_pid" -o "$out/$label-$run-$streams.gcdump" >/dev/null
  "$gcdump" report "$out/$label-$run-$streams.gcdump" >"$out/$label-$run-$streams.txt" 2>/dev/null
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%.2f\n' "$label" "$run" "$streams" "$held" "$rss0" "$rssn" \
    "$(echo "($rssn - $rss0) / $streams" | bc -l)" | tee -a "$out/rss.tsv"
  cleanup
done
