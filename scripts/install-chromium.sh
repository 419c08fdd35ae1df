#!/usr/bin/env bash
# Installs Debian's chromium for the browser end-to-end tests (clients/js/e2e, driven by playwright-core
# with executablePath /usr/bin/chromium).
set -euo pipefail
"$(dirname "$0")/apt-install.sh" /usr/bin/chromium chromium
