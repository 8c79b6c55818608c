#!/usr/bin/env bash
# Installs the system dependencies of clipclap from Debian's packages.
#   setup-deps.sh            everything: building, testing, benchmarking (the README's commands, .ci/run)
#   setup-deps.sh build      only what the release binary needs to build (the image's build stage)
#   setup-deps.sh runtime    only the shared libraries the release binary runs with (the image)
# Safe to run again (apt skips what is there).
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config
  libopenblas-dev libdnnl-dev                      # GEMM: oneDNN (OpenBLAS only for bench/gemm_backends, see README)
  libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev   # image decoders (libjpeg-turbo = Pillow's)
  libsndfile1-dev libsoxr-dev                      # audio decoding (libsndfile = soundfile) and resampling
  libvorbis-dev libogg-dev                         # Vorbis headers checked before libsndfile sees them
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev   # MP4/M4A, WebM, Matroska, AAC audio and video (FFmpeg)
  libutf8proc-dev                                  # NFC and Unicode categories for the tokenizer
  libssl-dev                                       # SHA-256 (OpenSSL's libcrypto)
  nlohmann-json3-dev                               # config.json, tokenizer.json, CLI output
  libprotobuf-dev protobuf-compiler                # ONNX export of the trained projection
  libcurl4-openssl-dev                             # pull and push (Hugging Face hub over HTTPS)
  libboost1.81-dev                                 # serve's HTTP layer (Boost.Beast, Asio; header-only)
  libgtest-dev libcpp-httplib-dev                  # the tests (CMake configures them with the build)
)
test_packages=(
  clang-14 libclang-rt-14-dev libomp-14-dev           # the sanitizer and fuzzing builds (ASan, UBSan, TSan, libFuzzer)
  wrk                                              # serve's load benchmark
  ffmpeg                                           # makes the video fixtures, and is the reference for FFmpeg-decoded media
  chromium chromium-driver                         # the playground's browser tests (headless, through Selenium)
)
# What `ldd build/release/clipclap` lists, as Debian 12 packages; ca-certificates for `pull`.
runtime_packages=(
  libdnnl2 libgomp1 libjpeg62-turbo libpng16-16 libwebp7 libwebpdemux2 libgif7
  libsndfile1 libsoxr0 libvorbis0a libogg0 libavformat59 libavcodec59 libavutil57 libswscale6
  libutf8proc2 libprotobuf32 libcurl4 libssl3 ca-certificates
)
case "${1:-all}" in
  all) packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  build) packages=("${build_packages[@]}") ;;
  runtime) packages=("${runtime_packages[@]}") ;;
  *) echo "setup-deps: unknown set '$1' (all, build, runtime)" >&2; exit 2 ;;
esac

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
