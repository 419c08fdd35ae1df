#!/usr/bin/env bash
# Installs etcd (server + etcdctl) for the cluster tests and local clusters.
# Idempotent: does nothing when etcd is already on PATH. Debian ships 3.4.23,
# whose JSON gateway serves /v3/... (3.3 used /v3beta/).
set -euo pipefail

if command -v etcd >/dev/null 2>&1; then
  echo "etcd already installed: $(command -v etcd)"
  etcd --version | sed -n 1p
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y etcd-server etcd-client

# Debian's package enables a system etcd service on :2379; tests start their
# own processes on free ports, so a running system service is harmless.
etcd --version | sed -n 1p
