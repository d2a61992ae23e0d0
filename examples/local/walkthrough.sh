#!/usr/bin/env bash
# sillyproxy's walkthrough with colorproxy on one machine, no Docker: each `docker service update` of the
# proxy becomes a restart of the proxy with the updated environment (Swarm does the same, one replica at a
# time). Run from the repository after `npm install`. Ports: BLUE_PORT (7999), GREEN_PORT (7998), PORT (8080),
# ADMIN_PORT (8081).
set -euo pipefail
cd "$(dirname "$0")/../.."
BLUE_PORT=${BLUE_PORT:-7999} GREEN_PORT=${GREEN_PORT:-7998}
export PORT=${PORT:-8080} ADMIN_PORT=${ADMIN_PORT:-8081} LOG_LEVEL=${LOG_LEVEL:-warn}
pids=()
trap 'kill -INT "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
# Waits until a URL answers (the program logs "listening" a moment after it starts).
ready() { for _ in $(seq 50); do curl -sf -o /dev/null "$1" && return; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
proxy() {
  [ -n "${proxy_pid:-}" ] && kill -INT "$proxy_pid" && wait "$proxy_pid" 2>/dev/null || true
  env "$@" node dist/src/main.js & proxy_pid=$!
  pids+=("$proxy_pid")
  ready "http://localhost:$ADMIN_PORT/readyz"
}

say "myapp-v1 (blue), straight to the backend: no Color header"
HOSTNAME=e99a62b52d1d PORT=$BLUE_PORT node dist/myapp/main.js & pids+=($!)
ready "http://localhost:$BLUE_PORT"
curl -s "localhost:$BLUE_PORT"

say "the proxy in front: -e BLUE=http://myapp-v1:8080"
proxy BLUE="http://localhost:$BLUE_PORT"
curl -s "localhost:$PORT"

say "myapp-v2 (green, HTML)"
V2=1 HOSTNAME=be0dc0efaba2 PORT=$GREEN_PORT node dist/myapp/main.js & pids+=($!)
ready "http://localhost:$GREEN_PORT"
curl -s "localhost:$GREEN_PORT"

say "canary: --env-add GREEN=http://myapp-v2:8080/ --env-add GREEN_WEIGHT=1 --env-add BLUE_WEIGHT=4 (1000 requests)"
proxy BLUE="http://localhost:$BLUE_PORT" GREEN="http://localhost:$GREEN_PORT/" BLUE_WEIGHT=4 GREEN_WEIGHT=1
for _ in $(seq 1000); do curl -s "localhost:$PORT"; done | sort | uniq -c

say "all green: --env-rm GREEN_WEIGHT --env-rm BLUE_WEIGHT --env-rm BLUE"
proxy GREEN="http://localhost:$GREEN_PORT/"
curl -s "localhost:$PORT"

say "rollback: --env-rm GREEN --env-add BLUE=http://myapp-v1:8080"
proxy BLUE="http://localhost:$BLUE_PORT"
curl -s "localhost:$PORT"

say "a bad update never starts (exit 78): --env-add GREEN_WEIGHT=abc --env-add GREEN=myapp-v2:8080"
status=0
BLUE="http://localhost:$BLUE_PORT" GREEN=myapp-v2:8080 GREEN_WEIGHT=abc node dist/src/main.js || status=$?
echo "exit $status"
