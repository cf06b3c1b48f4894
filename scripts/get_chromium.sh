#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/test_browser.py), unless one is already there.
# Fails loudly when it cannot be installed: CI must not skip the browser tests.
set -euo pipefail
command -v chromium >/dev/null && exit 0
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q chromium >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; }
chromium --version
