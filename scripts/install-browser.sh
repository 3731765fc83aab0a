#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (tests/web/test_web_e2e.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Playwright's own
# browser download is not used because only package registries are reachable.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium
