#!/usr/bin/env bash
# sillyproxy's walkthrough with colorproxy on Docker Swarm, with the update flags that make every proxy
# change a rolling update that loses no request and rolls itself back when the new config is bad.
# Run from the repository root on a Swarm manager (`docker swarm init` for a single node).
# Each step waits for you to press Enter, so you can curl in between: `curl localhost:8080`.
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; read -r -p "(Enter to run) " _ </dev/tty || true; }
show() { printf '$ %s\n' "$*"; "$@"; }

# Flags shared by every service. start-first: the new task must be healthy before the old one stops.
# --stop-grace-period: above SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT (2s + 7s), so the drain is never cut short.
# --update-monitor: long enough for the image's HEALTHCHECK (start period 5s, then 3 checks 5s apart).
SAFE_UPDATES=(
  --update-order start-first --update-parallelism 1 --update-delay 2s
  --update-failure-action rollback --update-monitor 30s
  --rollback-order start-first --rollback-parallelism 1
  --stop-grace-period 15s
)

step "Build the images"
show docker build -t colorproxy -f Dockerfile .
show docker build -t myapp -f myapp.Dockerfile .

step "A backend network, and myapp-v1 (blue) with 2 replicas"
show docker network create --driver overlay backend
show docker service create --name myapp-v1 --network backend --replicas 2 "${SAFE_UPDATES[@]}" myapp

step "The proxy, 2 replicas, sending everything to blue"
show docker service create --name proxy --network backend -p 8080:8080 --replicas 2 "${SAFE_UPDATES[@]}" \
  --env BLUE=http://myapp-v1:8080 colorproxy
echo 'curl localhost:8080   ->   blue <container id, its hostname>'

step "myapp-v2 (green, HTML)"
show docker service create --name myapp-v2 --network backend --replicas 2 "${SAFE_UPDATES[@]}" --env V2=1 myapp

step "Canary: 20% to green"
show docker service update --env-add GREEN=http://myapp-v2:8080/ --env-add GREEN_WEIGHT=1 --env-add BLUE_WEIGHT=4 proxy
echo 'for i in $(seq 100); do curl -s localhost:8080; done | sort | uniq -c'

step "All green"
show docker service update --env-rm GREEN_WEIGHT --env-rm BLUE_WEIGHT --env-rm BLUE proxy

step "Rollback to blue"
show docker service update --env-rm GREEN --env-add BLUE=http://myapp-v1:8080 proxy

step "A bad update: the new task exits 78 and Swarm rolls back by itself"
show docker service update --env-add GREEN_WEIGHT=abc proxy || true
show docker service ps proxy --no-trunc --format '{{.Name}} {{.CurrentState}} {{.Error}}'
show docker service inspect proxy --format '{{.UpdateStatus.State}}: {{.UpdateStatus.Message}}'

step "Clean up"
show docker service rm proxy myapp-v1 myapp-v2
show docker network rm backend
