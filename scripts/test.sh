#!/usr/bin/env bash
# The whole test suite: the release build's tests; the Python checks (the ONNX exports with
# onnxruntime, the official OpenAI client against the server, hostile clients against it); the
# C++ tests again under ASan+UBSan with clang, followed by each fuzz target under libFuzzer;
# then the batcher's and the server's tests under ThreadSanitizer. The C++ tests read committed
# fixtures only; nothing is downloaded but the pinned PyPI packages, once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
stage() { echo "== $* ($(date -u +%H:%M:%S))"; }
run_ctest() {
  local preset=$1
  stage "$preset: build"
  cmake --preset "$preset" > /dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  stage "$preset: tests"
  ctest --preset "$preset" --no-tests=error -j "$(nproc)"
}
run_ctest release
stage "python: the ONNX exports against the engine"
venv=$(scripts/setup-venv.sh)
"$venv/bin/python" tests/python/test_onnx_export.py --binary build/release/clipclap
"$venv/bin/python" tests/python/test_export_script.py --binary build/release/clipclap
stage "python: the official OpenAI client against clipclap serve"
"$venv/bin/python" tests/python/test_openai_client.py --binary build/release/clipclap
stage "python: hostile clients against clipclap serve"
"$venv/bin/python" tests/python/test_hostile.py --binary build/release/clipclap
run_ctest asan
run_ctest tsan
stage "done"
