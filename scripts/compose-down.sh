#!/usr/bin/env bash
# Stops what scripts/compose-up.sh started: the compose project's containers and network (docker-compose down), then
# the podman API service if compose-up.sh started it. --volumes also deletes the named volumes (etcd's and the
# brokers' data), so the next compose-up.sh starts a new cluster. Images (the base included) are kept.
#   REPL_COMPOSE_PROJECT   compose project name (repl)
set -euo pipefail
cd "$(dirname "$0")/.."
export COMPOSE_STATE="$PWD/.compose"
PROJECT="${REPL_COMPOSE_PROJECT:-repl}"
args=()
[ "${1:-}" = "--volumes" ] && args+=(--volumes)
command -v podman >/dev/null || { echo "podman not installed: nothing to stop"; exit 0; }
# shellcheck source=scripts/podman-service.sh
. scripts/podman-service.sh
docker-compose -p "$PROJECT" -f docker/compose.yml down --remove-orphans "${args[@]}"
if [ -f "$COMPOSE_STATE/podman-service.pid" ]; then
  kill "$(cat "$COMPOSE_STATE/podman-service.pid")" 2>/dev/null || true
  rm -f "$COMPOSE_STATE/podman-service.pid"
fi
echo "compose project $PROJECT stopped"
