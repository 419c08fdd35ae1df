#!/usr/bin/env bash
# Starts a local Repl cluster on loopback: 3 etcd members (client ports 2379/2381/2383), 2 lighthouses (Akka seeds
# akka.tcp://repl@127.0.0.1:4053 and :4054, HTTP /cluster on 9101/9102) and 3 Repl brokers (http://127.0.0.1:9001-9003,
# Akka remoting on 4055-4057) that join them; data and logs under ./.cluster. Uses Debian's etcd
# (scripts/install-etcd.sh). Stop it with scripts/cluster-down.sh.
#
# Environment (the defaults give the layout above; bench/run.sh sets them for its cluster scenarios):
#   REPL_CLUSTER_DIR        data, logs and pid files (./.cluster)
#   REPL_CLUSTER_ETCD_PORT  first etcd client port; member i uses PORT+2(i-1) for clients, +1 for peers (2379)
#   REPL_CLUSTER_NODE_PORT  node i listens on PORT+i-1 (9001), lighthouse i on PORT+100+i-1 (9101)
#   REPL_CLUSTER_AKKA_PORT  lighthouse i's Akka port is PORT+i-1, node i's PORT+1+i (4053)
#   REPL_CLUSTER_CPU        taskset CPU list for every etcd and node process (unset: not pinned)
#   REPL_HOST_DLL           the Repl.Host.dll to run (unset: build Repl.Host in $CONFIGURATION, Release)
#   REPL_ETCD_ARGS          extra etcd flags, REPL_NODE_ARGS extra node arguments (word-split)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${REPL_CLUSTER_DIR:-$PWD/.cluster}"
CONFIGURATION="${CONFIGURATION:-Release}"
ETCD_PORT="${REPL_CLUSTER_ETCD_PORT:-2379}"
NODE_PORT="${REPL_CLUSTER_NODE_PORT:-9001}"
AKKA_PORT="${REPL_CLUSTER_AKKA_PORT:-4053}"
read -r -a ETCD_ARGS <<<"${REPL_ETCD_ARGS:-}"
read -r -a NODE_ARGS <<<"${REPL_NODE_ARGS:-}"
PIN=()
[ -n "${REPL_CLUSTER_CPU:-}" ] && PIN=(taskset -c "$REPL_CLUSTER_CPU")
command -v etcd >/dev/null || { echo "etcd not found: run scripts/install-etcd.sh" >&2; exit 1; }
mkdir -p "$ROOT"

ETCD_CLUSTER="e1=http://127.0.0.1:$((ETCD_PORT + 1)),e2=http://127.0.0.1:$((ETCD_PORT + 3)),e3=http://127.0.0.1:$((ETCD_PORT + 5))"
ETCD_URLS="http://127.0.0.1:$ETCD_PORT,http://127.0.0.1:$((ETCD_PORT + 2)),http://127.0.0.1:$((ETCD_PORT + 4))"
for i in 1 2 3; do
  client=$((ETCD_PORT + 2 * (i - 1))); peer=$((client + 1))
  if [ -f "$ROOT/etcd-e$i.pid" ] && kill -0 "$(cat "$ROOT/etcd-e$i.pid")" 2>/dev/null; then continue; fi
  "${PIN[@]}" etcd --name "e$i" --data-dir "$ROOT/etcd-e$i" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new --initial-cluster-token repl-local \
    --logger zap --log-outputs stderr "${ETCD_ARGS[@]}" >"$ROOT/etcd-e$i.log" 2>&1 &
  echo $! >"$ROOT/etcd-e$i.pid"
done

DLL="${REPL_HOST_DLL:-}"
if [ -z "$DLL" ]; then
  dotnet build Repl.Host -c "$CONFIGURATION" -nologo -v q >/dev/null
  DLL="Repl.Host/bin/$CONFIGURATION/net10.0/Repl.Host.dll"
fi
# Akka remoting has no authentication: everything here binds to loopback (CLUSTER_IP 127.0.0.1).
SEEDS="akka.tcp://repl@127.0.0.1:$AKKA_PORT,akka.tcp://repl@127.0.0.1:$((AKKA_PORT + 1))"
for i in 1 2; do
  if [ -f "$ROOT/lighthouse-l$i.pid" ] && kill -0 "$(cat "$ROOT/lighthouse-l$i.pid")" 2>/dev/null; then continue; fi
  CLUSTER_IP=127.0.0.1 CLUSTER_PORT=$((AKKA_PORT + i - 1)) CLUSTER_SEEDS="$SEEDS" \
    "${PIN[@]}" dotnet "$DLL" --role lighthouse --urls "http://127.0.0.1:$((NODE_PORT + 100 + i - 1))" \
    >"$ROOT/lighthouse-l$i.log" 2>&1 &
  echo $! >"$ROOT/lighthouse-l$i.pid"
done
for i in 1 2 3; do
  port=$((NODE_PORT + i - 1))
  if [ -f "$ROOT/node-n$i.pid" ] && kill -0 "$(cat "$ROOT/node-n$i.pid")" 2>/dev/null; then continue; fi
  CLUSTER_IP=127.0.0.1 CLUSTER_PORT=$((AKKA_PORT + 1 + i)) CLUSTER_SEEDS="$SEEDS" \
    "${PIN[@]}" dotnet "$DLL" --config hocon/cluster-node.json --etcd "$ETCD_URLS" --node-id "n$i" \
    --urls "http://127.0.0.1:$port" --advertise-url "http://127.0.0.1:$port" --data-dir "$ROOT/node-n$i" \
    "${NODE_ARGS[@]}" >"$ROOT/node-n$i.log" 2>&1 &
  echo $! >"$ROOT/node-n$i.pid"
done

# Ready: /readyz answers 200 (an Up member of the Akka cluster; a broker also commits a canary through etcd).
wait_ready() { # name port log
  for _ in $(seq 1 120); do
    if curl -fs -o /dev/null "http://127.0.0.1:$2/readyz"; then return 0; fi
    sleep 0.5
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$2/readyz" || { echo "$1 not ready; see $3" >&2; exit 1; }
}
for i in 1 2 3; do wait_ready "node n$i" $((NODE_PORT + i - 1)) "$ROOT/node-n$i.log"; done
for i in 1 2; do wait_ready "lighthouse l$i" $((NODE_PORT + 100 + i - 1)) "$ROOT/lighthouse-l$i.log"; done
echo "etcd:  $ETCD_URLS"
echo "lighthouses: $SEEDS  (GET http://127.0.0.1:$((NODE_PORT + 100))/cluster)"
echo "nodes: http://127.0.0.1:$NODE_PORT http://127.0.0.1:$((NODE_PORT + 1)) http://127.0.0.1:$((NODE_PORT + 2))  (GET /cluster for the view)"
