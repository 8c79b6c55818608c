#!/usr/bin/env bash
# Starts `clipclap serve` on the models in ./models (or $CLIPCLAP_MODELS), or, when there is no
# real model, on the committed demo bundle with a loud warning: its weights are random.
#   scripts/serve.sh [extra serve flags...]      e.g. --port 9000 --api-key KEY
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/clipclap
models=${CLIPCLAP_MODELS:-models}
if [ -d "$models" ] && "$bin" models --models-dir "$models" > /dev/null 2>&1; then
  exec "$bin" serve --models-dir "$models" "$@"
fi
cat >&2 <<'WARN'
############################################################################################
# WARNING: no model found in ./models, so this serves the DEMO bundle
# tests/fixtures/models/clipclap-tiny. Its weights are RANDOM: its vectors are deterministic
# and exercise every code path, but mean nothing. For real vectors:
#   build/release/clipclap pull openai/clip-vit-base-patch32 ... (see README, "The clipclap
#   bundle") and put the bundle (or any CLIP/CLAP checkpoint) under ./models.
############################################################################################
WARN
exec "$bin" serve --model tests/fixtures/models/clipclap-tiny "$@"
