#!/usr/bin/env bash
# Stops what scripts/cluster-up.sh started (by the pids it recorded). --clean also deletes ./.cluster
# (or $REPL_CLUSTER_DIR, as for cluster-up.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${REPL_CLUSTER_DIR:-$PWD/.cluster}"
for pidfile in "$ROOT"/node-*.pid "$ROOT"/lighthouse-*.pid "$ROOT"/etcd-*.pid; do
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
done
if [ "${1:-}" = "--clean" ]; then rm -rf "$ROOT"; fi
echo "cluster stopped"
