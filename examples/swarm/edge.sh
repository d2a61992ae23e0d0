#!/usr/bin/env bash
# colorproxy as the Swarm's edge: certificates and users as Docker secrets, 80 redirecting to 443.
# Run on a manager, with the colorproxy and myapp images on every node (README.md here).
set -euo pipefail

# A certificate chain and its key, joined in one PEM file (certbot: fullchain.pem + privkey.pem).
cat site.crt site.key | docker secret create site.pem -
# Users in htpasswd form: bcrypt (htpasswd -nbB) or SHA-512 crypt (mkpasswd -m sha-512).
htpasswd -nbB alice 'a long password' | docker secret create colorproxy_users -

docker network create --driver overlay --attachable backend
docker service create --name myapp-v1 --network backend --replicas 2 myapp

# Every file under /run/secrets/certs is served by the names in its own certificate (SNI).
docker service create --name proxy --network backend --replicas 2 \
  --publish 80:8080 --publish 443:8443 \
  --secret source=site.pem,target=/run/secrets/certs/site.pem \
  --secret source=colorproxy_users,target=users \
  --env TLS_CERTS_DIR=/run/secrets/certs \
  --env USERS_FILE=/run/secrets/users \
  --env HTTPS_REDIRECT=true --env HSTS=31536000 \
  --env BLUE=http://myapp-v1:8080 \
  --update-order start-first --update-failure-action rollback --stop-grace-period 15s \
  colorproxy

# curl -si http://shop.example.com/a?b=1       -> 308 Location: https://shop.example.com/a?b=1
# curl -u alice --http2 https://shop.example.com/ -> blue <task>
# A second site's certificate: one more secret in the same folder, picked up without a restart of the logic
# (docker service update --secret-add source=api.pem,target=/run/secrets/certs/api.pem proxy).
