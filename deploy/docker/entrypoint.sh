#!/usr/bin/env bash
# The clipclap image's entry point (run directly by the tests, which have no container runtime).
#   entrypoint.sh serve [serve flags...]   serve the models (the default)
#   entrypoint.sh pull                     fetch $CLIPCLAP_MODELS (hub repositories) into the HF cache
#                                          on the models volume: the Helm chart's init step
#   entrypoint.sh health                   exit 0 when /healthz answers 200 (the HEALTHCHECK)
#   entrypoint.sh clipclap ARGS...         any clipclap command
# Environment:
#   CLIPCLAP_MODELS      space-separated hub repositories (org/name[@revision]) to serve, from the
#                        HF cache under $HF_HOME (pulled by `entrypoint.sh pull`, never at serve)
#   CLIPCLAP_MODELS_DIR  else: serve every model found under this folder (default /models)
#   CLIPCLAP_PORT        port (default 8080); CLIPCLAP_HOST (default 0.0.0.0)
#   CLIPCLAP_THREADS, CLIPCLAP_MAX_BATCH, CLIPCLAP_TIMEOUT_S, CLIPCLAP_WEAVIATE_MODEL
#                        serve's --threads, --max-batch, --timeout-s, --weaviate-model
#   CLIPCLAP_API_KEY, CLIPCLAP_METRICS_KEY   read by serve itself
#   CLIPCLAP_BIN         the binary (default: clipclap on PATH)
set -euo pipefail
bin=${CLIPCLAP_BIN:-clipclap}
port=${CLIPCLAP_PORT:-8080}
command=${1:-serve}
[ $# -gt 0 ] && shift

case "$command" in
  serve)
    flags=(--host "${CLIPCLAP_HOST:-0.0.0.0}" --port "$port")
    if [ -n "${CLIPCLAP_MODELS:-}" ]; then
      for m in $CLIPCLAP_MODELS; do flags+=(--model "${m%@*}"); done
      export HF_HUB_OFFLINE=1  # models come from the init step, never from a pod starting
    else
      flags+=(--models-dir "${CLIPCLAP_MODELS_DIR:-/models}")
    fi
    [ -n "${CLIPCLAP_THREADS:-}" ] && flags+=(--threads "$CLIPCLAP_THREADS")
    [ -n "${CLIPCLAP_MAX_BATCH:-}" ] && flags+=(--max-batch "$CLIPCLAP_MAX_BATCH")
    [ -n "${CLIPCLAP_TIMEOUT_S:-}" ] && flags+=(--timeout-s "$CLIPCLAP_TIMEOUT_S")
    [ -n "${CLIPCLAP_WEAVIATE_MODEL:-}" ] && flags+=(--weaviate-model "$CLIPCLAP_WEAVIATE_MODEL")
    exec "$bin" serve "${flags[@]}" "$@"  # exec: SIGTERM reaches clipclap, which drains
    ;;
  pull)
    if [ -z "${CLIPCLAP_MODELS:-}" ]; then
      echo "entrypoint: pull: set CLIPCLAP_MODELS to the hub repositories to fetch" >&2
      exit 2
    fi
    for m in $CLIPCLAP_MODELS; do "$bin" pull "$m" "$@"; done
    ;;
  health)
    # No curl in the image: bash's /dev/tcp, one HTTP/1.0 request, the status line checked.
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 3 status <&3 || exit 1
    [[ "$status" == "HTTP/1."?" 200"* ]]
    ;;
  clipclap) exec "$bin" "$@" ;;
  *)
    echo "entrypoint: unknown command '$command' (serve, pull, health, clipclap)" >&2
    exit 2
    ;;
esac
