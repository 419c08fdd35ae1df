#!/usr/bin/env bash
# Installs etcd (server + etcdctl) for the cluster tests and local clusters. Debian ships 3.4.23, whose JSON
# gateway serves /v3/... (3.3 used /v3beta/). Debian's package may enable a system etcd on :2379; tests start
# their own processes on free ports, so that is harmless.
set -euo pipefail
"$(dirname "$0")/apt-install.sh" etcd etcd-server etcd-client
etcd --version | sed -n 1p
