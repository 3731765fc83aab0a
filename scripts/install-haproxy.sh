#!/usr/bin/env bash
# Installs Debian's HAProxy for the replicas end-to-end test (tests/test_replicas_haproxy.py).
# Idempotent: does nothing when haproxy is already on the PATH.
set -euo pipefail

if command -v haproxy >/dev/null 2>&1; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends haproxy
