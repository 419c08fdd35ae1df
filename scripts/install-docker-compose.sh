#!/usr/bin/env bash
# Installs Debian's docker-compose (used only to validate docker/compose.yml; no Docker engine is needed).
set -euo pipefail
"$(dirname "$0")/apt-install.sh" docker-compose docker-compose
