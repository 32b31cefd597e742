#!/usr/bin/env bash
# Installs the Debian packages the tests need, when missing:
#   docker-compose  validates deploy/docker-compose.yml without an engine
#   chromium, chromium-driver  drive the Django admin in a real browser (end-to-end test)
#   openssl         a TLS 1.1-only server for the egress tests
# Idempotent; needs root (CI runs as root).
set -euo pipefail
need=()
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
