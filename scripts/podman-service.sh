# Sourced by compose-up.sh and compose-down.sh: makes sure podman's Docker-compatible API answers (there is no
# systemd unit to socket-activate it here, so `podman system service` runs in the background, its pid in
# $COMPOSE_STATE/podman-service.pid) and exports DOCKER_HOST for docker-compose.
podman_socket="$(podman info --format '{{.Host.RemoteSocket.Path}}')"
podman_socket="${podman_socket#unix://}"
export DOCKER_HOST="unix://$podman_socket"
if ! curl -fs --unix-socket "$podman_socket" -o /dev/null http://d/_ping; then
  mkdir -p "$COMPOSE_STATE" "$(dirname "$podman_socket")"
  podman system service --time=0 "unix://$podman_socket" >"$COMPOSE_STATE/podman-service.log" 2>&1 &
  echo $! >"$COMPOSE_STATE/podman-service.pid"
  for _ in $(seq 1 50); do curl -fs --unix-socket "$podman_socket" -o /dev/null http://d/_ping && break; sleep 0.2; done
  curl -fs --unix-socket "$podman_socket" -o /dev/null http://d/_ping \
    || { echo "podman system service did not answer on $podman_socket; see $COMPOSE_STATE/podman-service.log" >&2; exit 1; }
fi
