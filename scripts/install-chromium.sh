#!/bin/sh
# The Web UI check (test/integration/web-ui.test.ts) opens the Temporal Web UI in headless Chromium.
# Installs it from Debian packages when it is missing (WHENFLOW_CHROMIUM names another binary).
set -e
CHROMIUM="${WHENFLOW_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "chromium found: $CHROMIUM"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
