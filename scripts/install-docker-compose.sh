#!/usr/bin/env bash
# Installs Debian's docker-compose (used only to validate docker/compose.yml; no Docker engine is needed).
set -euo pipefail
if command -v docker-compose >/dev/null 2>&1; then exit 0; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-compose >/dev/null
