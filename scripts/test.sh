#!/usr/bin/env bash
# The whole test suite: the release build's tests, then the same tests under ASan+UBSan.
# The C++ tests read committed fixtures only: no Python and no network are needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
for preset in release asan; do
  echo "== $preset: build"
  cmake --preset "$preset" > /dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  echo "== $preset: tests"
  ctest --preset "$preset" --no-tests=error -j "$(nproc)"
done
