#!/usr/bin/env bash
# A progressive rollout on Swarm: one `docker service update` makes green the canary on every proxy
# replica; each replica steps it up (5 → 25 → 50 → 100% of new traffic, one step a minute), judges its
# error rate and p99 at every step, and aborts by itself. With CANARY_ABORT_HEALTH=true an abort fails the
# replica's /healthz, so Swarm, watching the health check for the steps' length, rolls the whole service
# back to its previous environment: green is gone and nobody had to be awake.
# Run on a manager, with the colorproxy and myapp images on every node (README.md here).
set -euo pipefail

docker network create --driver overlay --attachable backend
docker service create --name myapp-v1 --network backend --replicas 2 myapp
docker service create --name myapp-v2 --network backend --replicas 2 --env V2=1 myapp
docker service create --name proxy --network backend --replicas 2 --publish 80:8080 \
  --env BLUE=http://myapp-v1:8080 --env CANARY_ABORT_HEALTH=true \
  --health-interval 5s --health-retries 3 \
  --stop-grace-period 15s \
  colorproxy

# The rollout. --update-parallelism 0 updates every replica at once, so all of them run the same steps;
# --update-monitor covers the 4 steps of 1 minute and a little more (Swarm checks each task's health
# until it ends); --update-failure-action rollback puts BLUE alone back if a health check fails in it.
docker service update \
  --env-add GREEN=http://myapp-v2:8080 \
  --env-add CANARY=green --env-add CANARY_STEPS=5,25,50,100 --env-add CANARY_INTERVAL=1m \
  --env-add CANARY_MAX_ERROR_RATE=1 --env-add CANARY_MAX_P99=1s \
  --update-parallelism 0 --update-order start-first \
  --update-monitor 5m --update-failure-action rollback \
  proxy

# Promoted: green has 100% of new traffic on every replica. Make it the plain configuration (blue gone),
# one replica at a time as usual:
docker service update --env-rm BLUE --env-rm CANARY --env-rm CANARY_STEPS --env-rm CANARY_INTERVAL \
  --env-rm CANARY_MAX_ERROR_RATE --env-rm CANARY_MAX_P99 \
  --update-parallelism 1 --update-monitor 30s proxy

# Aborted instead: the update above has already been rolled back (docker service inspect proxy shows
# UpdateStatus rollback_completed); each replica's log says why, e.g.
#   canary green aborted at 5%: error rate 7.4% > 1% over 212 answers
# Dark launch first: CANARY_STEPS=0,5,25,50,100 with MIRROR=green judges green on copies of GET/HEAD
# requests for one interval before any user sees it.
