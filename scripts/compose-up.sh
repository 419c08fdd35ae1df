#!/usr/bin/env bash
# Runs the containerised cluster of docker/compose.yml (2 lighthouses, 3 etcd, 3 brokers, nginx) on this machine
# with podman, no registry needed: installs podman (scripts/install-podman.sh) and docker-compose, builds the local
# Debian base image when it is missing (scripts/build-base-image.sh; kept, so only the first run pays), publishes
# Repl.Host self-contained into artifacts/repl-linux-x64, builds the Repl image on that base (docker/Dockerfile,
# APP=prebuilt), starts the stack with docker-compose on podman's API socket and waits until every broker's
# /readyz answers 200 on its published port. Stop it with scripts/compose-down.sh.
# With Docker elsewhere, `docker compose -f docker/compose.yml up --build -d` is all it takes (README, Containers).
#
# Environment:
#   REPL_COMPOSE_PROJECT   compose project name (repl); containers are <project>_<service>_1
#   REPL_PORT_LB           nginx's published port (8080); REPL_PORT_REPL1..3 the brokers' (8081-8083)
#   REPL_READY_TIMEOUT     seconds to wait for the brokers' readiness (180)
#   REPL_SKIP_PUBLISH=1    use artifacts/repl-linux-x64 as it is (no dotnet publish)
#   REPL_BASE_IMAGE        the local base image (localhost/repl-base:bookworm)
set -euo pipefail
cd "$(dirname "$0")/.."
export COMPOSE_STATE="$PWD/.compose"
PROJECT="${REPL_COMPOSE_PROJECT:-repl}"
TIMEOUT="${REPL_READY_TIMEOUT:-180}"
export REPL_BASE_IMAGE="${REPL_BASE_IMAGE:-localhost/repl-base:bookworm}"
# The compose file's images, all local: the Repl image, and etcd and nginx from the base's Debian packages.
# (Full names: podman's Docker API reads a short name as docker.io/library/....)
export REPL_IMAGE=localhost/repl:latest REPL_ETCD_IMAGE="$REPL_BASE_IMAGE" REPL_NGINX_IMAGE="$REPL_BASE_IMAGE" REPL_APP=prebuilt
export REPL_PORT_LB="${REPL_PORT_LB:-8080}" REPL_PORT_REPL1="${REPL_PORT_REPL1:-8081}" \
  REPL_PORT_REPL2="${REPL_PORT_REPL2:-8082}" REPL_PORT_REPL3="${REPL_PORT_REPL3:-8083}"
step() { printf '==> %s (at %ss)\n' "$1" "$SECONDS"; }

step "podman and docker-compose"
scripts/install-podman.sh >/dev/null
scripts/install-docker-compose.sh >/dev/null
step "base image"
scripts/build-base-image.sh
if [ "${REPL_SKIP_PUBLISH:-}" != 1 ]; then
  step "dotnet publish Repl.Host (self-contained, linux-x64)"
  dotnet publish Repl.Host -c Release -r linux-x64 --self-contained -o artifacts/repl-linux-x64 -nologo -v q
fi
[ -x artifacts/repl-linux-x64/Repl.Host ] || { echo "artifacts/repl-linux-x64/Repl.Host missing (unset REPL_SKIP_PUBLISH)" >&2; exit 1; }
step "image $REPL_IMAGE"
mkdir -p "$COMPOSE_STATE"
previous="$(podman image inspect --format '{{.Id}}' "$REPL_IMAGE" 2>/dev/null || true)"
# (podman warns that an OCI image drops HEALTHCHECK: here nothing could run it anyway, see below.)
podman build -f docker/Dockerfile --build-arg APP=prebuilt --build-arg BASE="$REPL_BASE_IMAGE" -t "$REPL_IMAGE" . \
  >"$COMPOSE_STATE/build.log" 2>&1 || { tail -30 "$COMPOSE_STATE/build.log" >&2; exit 1; }
# The image it replaces, unless a container still uses it (compose up recreates them, the next run removes it);
# the build's cached layers stay (podman image prune removes what no image uses).
if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$REPL_IMAGE")" ]; then
  podman rmi "$previous" >/dev/null 2>&1 || true
fi

step "compose up (project $PROJECT)"
# shellcheck source=scripts/podman-service.sh
. scripts/podman-service.sh
docker-compose -p "$PROJECT" -f docker/compose.yml up -d --no-build

# No health-check conditions (podman runs them from systemd timers, and there is no systemd here): poll instead.
step "waiting for the brokers' /readyz"
deadline=$((SECONDS + TIMEOUT))
declare -A ready=()
while :; do
  for i in 1 2 3; do
    port_var="REPL_PORT_REPL$i"
    [ -n "${ready[$i]:-}" ] && continue
    if curl -fs -m 2 -o /dev/null "http://127.0.0.1:${!port_var}/readyz"; then ready[$i]=1; echo "repl$i ready on http://127.0.0.1:${!port_var}"; fi
  done
  [ "${#ready[@]}" -eq 3 ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    for i in 1 2 3; do
      [ -n "${ready[$i]:-}" ] && continue
      port_var="REPL_PORT_REPL$i"
      echo "repl$i NOT ready: http://127.0.0.1:${!port_var}/readyz did not answer 200 in ${TIMEOUT}s; its last lines (podman logs ${PROJECT}_repl${i}_1):" >&2
      podman logs --tail 15 "${PROJECT}_repl${i}_1" >&2 || true
    done
    exit 1
  fi
  sleep 1
done
curl -fs -m 5 -o /dev/null "http://127.0.0.1:$REPL_PORT_LB/healthz" \
  || { echo "nginx does not answer on http://127.0.0.1:$REPL_PORT_LB (podman logs ${PROJECT}_lb_1)" >&2; exit 1; }
step "up"
echo "nginx:   http://127.0.0.1:$REPL_PORT_LB"
echo "brokers: http://127.0.0.1:$REPL_PORT_REPL1 http://127.0.0.1:$REPL_PORT_REPL2 http://127.0.0.1:$REPL_PORT_REPL3  (GET /cluster for the view)"
