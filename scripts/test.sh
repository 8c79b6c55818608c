#!/usr/bin/env bash
# The whole test suite: the release build's tests; the Python checks (the ONNX exports with
# onnxruntime, the official OpenAI client and LangChain against the server, hostile clients
# against it, the Python package installed with pip into a clean venv, bulk embedding with
# --manifest and on Ray, a real Weaviate calling it, the image's entry point and the Helm chart); the
# C++ tests again under ASan+UBSan with clang, followed by each fuzz target under libFuzzer;
# then the batcher's and the server's tests under ThreadSanitizer. The C++ tests read committed
# fixtures only; nothing is downloaded but the pinned PyPI packages and Go modules, once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
stage() { echo "== $* ($(date -u +%H:%M:%S))"; }
build() {
  stage "$1: build"
  cmake --preset "$1" > /dev/null
  cmake --build --preset "$1" -j "$(nproc)"
}
# The sanitizer builds need nothing from the tests before them, which leave a core idle much of
# the time (the release tests wait on servers, and run the soak test alone; the Python checks use
# one core): each compiles beside them at the lowest priority, so that the tests' timings are theirs.
build_beside() {
  stage "$1: build, beside what follows (log: build/$1-build.log)"
  mkdir -p build
  (cmake --preset "$1" > /dev/null && nice -n 19 cmake --build --preset "$1" -j "$(nproc)") > "build/$1-build.log" 2>&1 &
  building=$!
}
wait_for_build() {
  stage "$1: waiting for its build"
  wait "$building" || { tail -n 60 "build/$1-build.log"; exit 1; }
}
# Weaviate, helm, kubeconform and Kubernetes' schemas, built from the Go module proxy once per
# machine (scripts/setup-go-tools.sh; about 8 minutes of 2 cores the first time), beside the rest.
go_tools_beside() {
  stage "go tools: build, beside what follows (log: build/go-tools.log)"
  mkdir -p build
  nice -n 19 scripts/setup-go-tools.sh > build/go-tools.log 2>&1 &
  go_tools=$!
}
wait_for_go_tools() {
  stage "go tools: waiting for their build"
  wait "$go_tools" || { tail -n 60 build/go-tools.log; exit 1; }
  tools=$(tail -n 1 build/go-tools.log)
}
run_tests() {
  stage "$1: tests"
  ctest --preset "$1" --no-tests=error -j "$(nproc)"
}
go_tools_beside
build release
build_beside asan
run_tests release
stage "python: the ONNX exports against the engine"
venv=$(scripts/setup-venv.sh)
"$venv/bin/python" tests/python/test_onnx_export.py --binary build/release/clipclap
"$venv/bin/python" tests/python/test_export_script.py --binary build/release/clipclap
stage "python: the official OpenAI client against clipclap serve"
"$venv/bin/python" tests/python/test_openai_client.py --binary build/release/clipclap
stage "python: the playground and /docs in headless chromium (screenshots: build/artifacts)"
"$venv/bin/python" tests/python/test_playground.py --binary build/release/clipclap --artifacts build/artifacts
stage "python: serve's answers against its OpenAPI document"
"$venv/bin/python" tests/python/test_openapi.py --binary build/release/clipclap
stage "python: LangChain's OpenAIEmbeddings against clipclap serve"
"$venv/bin/python" tests/python/test_langchain.py --binary build/release/clipclap
stage "python: hostile clients against clipclap serve"
"$venv/bin/python" tests/python/test_hostile.py --binary build/release/clipclap
stage "python: pip install . into a clean venv; the package, --manifest killed and resumed, Ray with a worker killed"
pyvenv=build/python-venv
rm -rf "$pyvenv" && python3 -m venv "$pyvenv"
"$pyvenv/bin/pip" install -q --upgrade pip
# The pinned versions of scripts/requirements.txt, as constraints: the package's own dependencies
# (numpy; ray and pyarrow with [ray]) and what the test feeds it (PIL images, soundfile's samples).
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$pyvenv/bin/pip" install -q -c scripts/requirements.txt ".[ray]" pillow soundfile
"$pyvenv/bin/python" tests/python/test_python_package.py --binary build/release/clipclap
wait_for_go_tools
stage "python: Weaviate (multi2vec-bind) calling clipclap serve"
"$venv/bin/python" tests/python/test_weaviate.py --binary build/release/clipclap --tools "$tools"
stage "python: the image's entry point and the Helm chart"
"$venv/bin/python" tests/python/test_deploy.py --binary build/release/clipclap --tools "$tools"
wait_for_build asan
build_beside tsan
run_tests asan
wait_for_build tsan
run_tests tsan
stage "done"
