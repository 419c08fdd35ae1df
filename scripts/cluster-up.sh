#!/usr/bin/env bash
# Starts a local Repl cluster on loopback: 3 etcd members (client ports 2379/2381/2383) and 3 Repl nodes
# (http://127.0.0.1:9001-9003), data and logs under ./.cluster. Uses Debian's etcd (scripts/install-etcd.sh).
# Stop it with scripts/cluster-down.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD/.cluster"
CONFIGURATION="${CONFIGURATION:-Release}"
command -v etcd >/dev/null || { echo "etcd not found: run scripts/install-etcd.sh" >&2; exit 1; }
mkdir -p "$ROOT"

ETCD_CLUSTER="e1=http://127.0.0.1:2380,e2=http://127.0.0.1:2382,e3=http://127.0.0.1:2384"
ETCD_URLS="http://127.0.0.1:2379,http://127.0.0.1:2381,http://127.0.0.1:2383"
for i in 1 2 3; do
  client=$((2377 + 2 * i)); peer=$((client + 1))
  if [ -f "$ROOT/etcd-e$i.pid" ] && kill -0 "$(cat "$ROOT/etcd-e$i.pid")" 2>/dev/null; then continue; fi
  etcd --name "e$i" --data-dir "$ROOT/etcd-e$i" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new --initial-cluster-token repl-local \
    --logger zap --log-outputs stderr >"$ROOT/etcd-e$i.log" 2>&1 &
  echo $! >"$ROOT/etcd-e$i.pid"
done

dotnet build Repl.Host -c "$CONFIGURATION" -nologo -v q >/dev/null
DLL="Repl.Host/bin/$CONFIGURATION/net10.0/Repl.Host.dll"
for i in 1 2 3; do
  port=$((9000 + i))
  if [ -f "$ROOT/node-n$i.pid" ] && kill -0 "$(cat "$ROOT/node-n$i.pid")" 2>/dev/null; then continue; fi
  dotnet "$DLL" --config hocon/cluster-node.json --etcd "$ETCD_URLS" --node-id "n$i" \
    --urls "http://127.0.0.1:$port" --advertise-url "http://127.0.0.1:$port" --data-dir "$ROOT/node-n$i" \
    >"$ROOT/node-n$i.log" 2>&1 &
  echo $! >"$ROOT/node-n$i.pid"
done

for i in 1 2 3; do
  port=$((9000 + i))
  for _ in $(seq 1 120); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; then break; fi
    sleep 0.5
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" || { echo "node n$i not ready; see $ROOT/node-n$i.log" >&2; exit 1; }
done
echo "etcd:  $ETCD_URLS"
echo "nodes: http://127.0.0.1:9001 http://127.0.0.1:9002 http://127.0.0.1:9003  (GET /cluster for the view)"
