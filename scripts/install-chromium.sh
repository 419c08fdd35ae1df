#!/usr/bin/env bash
# Installs Debian's chromium for the browser end-to-end tests (clients/js/e2e,
# driven by playwright-core with executablePath /usr/bin/chromium).
# Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium already installed: /usr/bin/chromium"
  /usr/bin/chromium --version 2>/dev/null | head -n 1 || true
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium

/usr/bin/chromium --version 2>/dev/null | head -n 1 || true
