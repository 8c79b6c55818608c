#!/usr/bin/env bash
# Builds (once) the Go programs the integration tests run, from the Go module proxy at pinned
# versions, and prints the folder holding them: Weaviate (its multi2vec-bind/-clip modules call
# `clipclap serve`), helm and kubeconform (they lint the chart), and Kubernetes' JSON schemas for
# kubeconform, made from the API's OpenAPI document in the k8s.io/kubernetes module (kubeconform
# would fetch them from GitHub). Like the venv, the folder lives outside the repo, keyed by this
# script's hash; override it with CLIPCLAP_GO_TOOLS.
#   setup-go-tools.sh [weaviate|helm|kubeconform|k8s-schemas ...]   (default: all four)
set -euo pipefail
weaviate=github.com/weaviate/weaviate/cmd/weaviate-server@v1.35.2
helm=helm.sh/helm/v3/cmd/helm@v3.19.0
kubeconform=github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
kubernetes=k8s.io/kubernetes@v1.31.4
here=$(cd "$(dirname "$0")" && pwd)
hash=$(cat "$0" "$here/k8s_schemas.py" | sha256sum | cut -c1-12)
dir="${CLIPCLAP_GO_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/clipclap/go-tools-$hash}"
mkdir -p "$dir"
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(weaviate helm kubeconform k8s-schemas)
for tool in "${tools[@]}"; do
  if [ "$tool" = k8s-schemas ]; then
    if [ ! -f "$dir/k8s-schemas/.complete" ]; then
      echo "setup-go-tools: Kubernetes schemas from $kubernetes's OpenAPI document" >&2
      module_dir=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "$kubernetes" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
      rm -rf "$dir/k8s-schemas"
      python3 "$here/k8s_schemas.py" --swagger "$module_dir/api/openapi-spec/swagger.json" --out "$dir/k8s-schemas" >&2
      touch "$dir/k8s-schemas/.complete"
    fi
    continue
  fi
  case "$tool" in
    weaviate) module=$weaviate binary=weaviate-server ;;
    helm) module=$helm binary=helm ;;
    kubeconform) module=$kubeconform binary=kubeconform ;;
    *) echo "setup-go-tools: unknown tool '$tool' (weaviate, helm, kubeconform, k8s-schemas)" >&2; exit 2 ;;
  esac
  if [ ! -x "$dir/$binary" ]; then
    echo "setup-go-tools: building $module (once; Weaviate takes about 7 minutes on 2 cores)" >&2
    # go install writes the binary only when the build succeeds: no half-built tool is left.
    GOBIN="$dir" GOFLAGS=-trimpath CGO_ENABLED=0 go install "$module" >&2
  fi
done
echo "$dir"
