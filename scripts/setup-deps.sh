#!/usr/bin/env bash
# Installs every system dependency of clipclap from Debian's packages.
# Called by the README's commands and by .ci/run; safe to run again (apt skips what is there).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  clang-14 libclang-rt-14-dev libomp-14-dev           # the sanitizer and fuzzing builds (ASan, UBSan, TSan, libFuzzer)
  libopenblas-dev libdnnl-dev                      # GEMM: oneDNN (OpenBLAS only for bench/gemm_backends, see README)
  libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev   # image decoders (libjpeg-turbo = Pillow's)
  libsndfile1-dev libsoxr-dev                      # audio decoding (libsndfile = soundfile) and resampling
  libvorbis-dev libogg-dev                         # Vorbis headers checked before libsndfile sees them
  libutf8proc-dev                                  # NFC and Unicode categories for the tokenizer
  nlohmann-json3-dev                               # config.json, tokenizer.json, CLI output
  libprotobuf-dev protobuf-compiler                # ONNX export of the trained projection
  libcurl4-openssl-dev                             # pull and push (Hugging Face hub over HTTPS)
  libboost1.81-dev                                 # serve's HTTP layer (Boost.Beast, Asio; header-only)
  libcpp-httplib-dev                               # the tests' HTTP client and imitation hub
  wrk                                              # serve's load benchmark
  libgtest-dev                                     # tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#packages[@]} Debian packages present"
  exit 0
fi
echo "setup-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
