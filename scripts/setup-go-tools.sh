#!/usr/bin/env bash
# Builds (once) the Go programs the integration tests run, from the Go module proxy at pinned
# versions, and prints the folder holding them: Weaviate (its multi2vec-bind/-clip modules call
# `clipclap serve`), helm and kubeconform (they lint the chart). Like the venv, the folder lives
# outside the repo, keyed by this script's hash; override it with CLIPCLAP_GO_TOOLS.
#   setup-go-tools.sh [weaviate|helm|kubeconform ...]   (default: all three)
set -euo pipefail
weaviate=github.com/weaviate/weaviate/cmd/weaviate-server@v1.35.2
helm=helm.sh/helm/v3/cmd/helm@v3.19.0
kubeconform=github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
hash=$(sha256sum "$0" | cut -c1-12)
dir="${CLIPCLAP_GO_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/clipclap/go-tools-$hash}"
mkdir -p "$dir"
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(weaviate helm kubeconform)
for tool in "${tools[@]}"; do
  case "$tool" in
    weaviate) module=$weaviate binary=weaviate-server ;;
    helm) module=$helm binary=helm ;;
    kubeconform) module=$kubeconform binary=kubeconform ;;
    *) echo "setup-go-tools: unknown tool '$tool' (weaviate, helm, kubeconform)" >&2; exit 2 ;;
  esac
  if [ ! -x "$dir/$binary" ]; then
    echo "setup-go-tools: building $module (once; Weaviate takes about 7 minutes on 2 cores)" >&2
    # go install writes the binary only when the build succeeds: no half-built tool is left.
    GOBIN="$dir" GOFLAGS=-trimpath CGO_ENABLED=0 go install "$module" >&2
  fi
done
echo "$dir"
