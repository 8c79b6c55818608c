#!/usr/bin/env bash
# Makes the committed clipclap test bundle from the tiny fixtures with the built binary:
#   tests/fixtures/train/projection-tiny   train-projection (text bridge + audio-caption pairs, seed 0)
#   tests/fixtures/models/clipclap-tiny    assemble (clip-tiny-a + clap-tiny-a + that projection)
# CLIP's tokenizer files become links to tests/fixtures/clip-tokenizer, as in the other fixtures.
# tests/test_bundle.cpp checks that assembling again gives the same weights.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/clipclap}
f=tests/fixtures
rm -rf "$f/train/projection-tiny"
"$bin" train-projection --clip $f/models/clip-tiny-a --clap $f/models/clap-tiny-a \
  --captions $f/train/captions.txt --pairs $f/train/pairs.csv --out $f/train/projection-tiny --cache "" --threads 1
"$bin" assemble --clip $f/models/clip-tiny-a --clap $f/models/clap-tiny-a --projection $f/train/projection-tiny \
  --out $f/models/clipclap-tiny --overwrite
for t in tokenizer.json tokenizer_config.json special_tokens_map.json vocab.json merges.txt; do
  if [ -e "$f/models/clipclap-tiny/$t" ]; then
    rm "$f/models/clipclap-tiny/$t"
    ln -s "../../clip-tokenizer/$t" "$f/models/clipclap-tiny/$t"
  fi
done
du -sh $f/models/clipclap-tiny $f/train/projection-tiny
