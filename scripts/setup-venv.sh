#!/usr/bin/env bash
# Creates (once) the Python virtual environment used by the fixture, export and bench scripts,
# and prints its path. It lives outside the repo, keyed by the requirements' hash, so fresh
# clones on the same machine reuse it. Override the location with CLIPCLAP_VENV.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
req="$here/requirements.txt"
hash=$(cat "$req" "$0" | sha256sum | cut -c1-12)
venv="${CLIPCLAP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/clipclap/venv-$hash}"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "setup-venv: creating $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$req" >&2
  # open_clip_torch is needed only for the BPE vocabulary file it ships (MIT-licensed data);
  # its torch/timm dependencies are not needed for that.
  "$venv/bin/pip" install -q --no-deps open_clip_torch==3.3.0 >&2
  touch "$venv/.complete"
fi
echo "$venv"
