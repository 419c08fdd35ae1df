#!/usr/bin/env bash
# Installs Debian's podman (4.3) and debootstrap for scripts/compose-up.sh and the container test (no Docker engine
# on these machines: podman needs no daemon and no registry), and gives containers the rlimits this VM's runc needs:
# without default_ulimits under [containers] in /etc/containers/containers.conf, runc cannot set the rlimits and no
# container starts. Idempotent; uses sudo when not root.
# docker/compose.yml is run by docker-compose (scripts/install-docker-compose.sh) on podman's Docker API socket:
# Debian's podman-compose 1.0.3 ignores the network's subnet and a service's ipv4_address (nginx's fixed address).
set -euo pipefail
dir="$(dirname "$0")"
"$dir/apt-install.sh" podman podman
"$dir/apt-install.sh" debootstrap debootstrap
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
conf=/etc/containers/containers.conf
limits='default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'
if ! grep -qs '^[[:space:]]*default_ulimits' "$conf"; then
  $SUDO mkdir -p /etc/containers
  if grep -qs '^\[containers\]' "$conf"; then
    # Right under the existing [containers] table header.
    $SUDO sed -i "/^\[containers\]/a $limits" "$conf"
  else
    printf '[containers]\n%s\n' "$limits" | $SUDO tee -a "$conf" >/dev/null
  fi
  echo "$conf: $limits"
fi
podman --version
