#!/usr/bin/env bash
# The whole test suite: the release build's tests, the Python checks of the ONNX exports against
# the engine (onnxruntime, in the pinned virtual environment), then the C++ tests again under
# ASan+UBSan. The C++ tests read committed fixtures only; nothing is downloaded but the
# pinned PyPI packages, once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
run_ctest() {
  local preset=$1
  echo "== $preset: build"
  cmake --preset "$preset" > /dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  echo "== $preset: tests"
  ctest --preset "$preset" --no-tests=error -j "$(nproc)"
}
run_ctest release
echo "== python: the ONNX exports against the engine"
venv=$(scripts/setup-venv.sh)
"$venv/bin/python" tests/python/test_onnx_export.py --binary build/release/clipclap
"$venv/bin/python" tests/python/test_export_script.py --binary build/release/clipclap
echo "== python: the official OpenAI client against clipclap serve"
"$venv/bin/python" tests/python/test_openai_client.py --binary build/release/clipclap
run_ctest asan
