#!/usr/bin/env bash
# Installs the Debian dependencies and builds the release binary: build/release/clipclap.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
cmake --preset release > /dev/null
cmake --build --preset release -j "$(nproc)"
