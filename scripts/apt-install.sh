#!/usr/bin/env bash
# apt-install.sh CHECK PACKAGE...: installs Debian PACKAGEs unless CHECK (a command name, or an absolute
# path) is already there. Idempotent; uses sudo when not root. The install-*.sh scripts call it.
set -euo pipefail
check="$1"; shift
if { [[ "$check" = /* ]] && [ -x "$check" ]; } || { [[ "$check" != /* ]] && command -v "$check" >/dev/null 2>&1; }; then
  echo "$check already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "$@"
