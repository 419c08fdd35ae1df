#!/usr/bin/env bash
# Freezes one broker of a running local cluster (scripts/cluster-up.sh) with SIGSTOP for S seconds, continues it, and
# prints what another broker's /cluster showed meanwhile: when the frozen broker was first unreachable, down, removed,
# reachable again, whether its process exited (a downed member shuts itself down), and what a publish through it
# answered after it continued; publishes through another broker meanwhile (the handover's gap when the frozen broker
# ran the sequencer: a stall long enough to get it downed is a kill -9 as the others see it). See docs/cluster.md,
# "Downing".
#
#   bench/cluster-stall.sh NODE SECONDS     e.g. bench/cluster-stall.sh 1 8 (broker n1 for 8 s)
#
# Environment: scripts/cluster-up.sh's REPL_CLUSTER_DIR and REPL_CLUSTER_NODE_PORT (which cluster), STALL_WATCH (s to
# watch after SIGCONT, default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
node="$1" seconds="$2"
ROOT="${REPL_CLUSTER_DIR:-$PWD/.cluster}"
NODE_PORT="${REPL_CLUSTER_NODE_PORT:-9001}"
watch="${STALL_WATCH:-15}"
pid="$(cat "$ROOT/node-n$node.pid")"
port=$((NODE_PORT + node - 1))
observer=$((NODE_PORT + node % 3)) # the next broker
address="$(curl -fsS "http://127.0.0.1:$port/cluster" | jq -r .akka.self)"
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$port/topics" -H 'content-type: application/json' -d '{"name":"stall"}' || true
now_ms() { date +%s%3N; }
t0="$(now_ms)"
at() { awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%5.1f s", ms / 1000 }'; }

kill -STOP "$pid"
echo "$(at)  SIGSTOP n$node ($address), observed from :$observer; load $(cut -d' ' -f1 /proc/loadavg)"
last=""
observe() {
  local seen
  seen="$(curl -fs -m 1 "http://127.0.0.1:$observer/cluster" |
    jq -r --arg a "$address" '[.akka.members[] | select(.address == $a)] | if length == 0 then "removed" else .[0] | "\(.status)\(if .reachable then "" else " unreachable" end)" end' 2>/dev/null || echo "?")"
  if [ "$seen" != "$last" ]; then echo "$(at)  n$node is $seen"; last="$seen"; fi
}
# Publishes through the observer meanwhile: when the frozen broker runs the sequencer, this is the handover's gap.
failing=""
publish_elsewhere() {
  local code
  code="$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$observer/topics/stall" -H 'content-type: application/json' -d '{"value":"meanwhile"}' || true)"
  if [ "$code" != 201 ] && [ -z "$failing" ]; then failing="$(at)"; echo "$(at)  publishes through :$observer fail ($code)"; fi
  if [ "$code" = 201 ] && [ -n "$failing" ]; then echo "$(at)  publishes through :$observer commit again"; failing=""; fi
}
while [ $(($(now_ms) - t0)) -lt $((seconds * 1000)) ]; do observe; publish_elsewhere; sleep 0.1; done
kill -CONT "$pid"
echo "$(at)  SIGCONT n$node"
continued="$(now_ms)"
answer=""
while [ $(($(now_ms) - continued)) -lt $((watch * 1000)) ]; do
  observe
  publish_elsewhere
  if ! kill -0 "$pid" 2>/dev/null; then echo "$(at)  n$node's process exited (downed)"; break; fi
  if [ "$answer" != 201 ]; then
    code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/topics/stall" -H 'content-type: application/json' -d '{"value":"after the stall"}' || true)"
    [ "$code" = "$answer" ] || echo "$(at)  a publish through n$node answered $code"
    answer="$code"
  fi
  sleep 0.25
done
echo "$(at)  done: n$node is ${last:-?}"
