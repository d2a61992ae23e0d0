# colorproxy: the edge proxy. Multi-stage: compile with dev dependencies, run with production ones only.
# Image budget: node:26-alpine plus under 20 MB of app (dist/src, dist/lib and production node_modules; the image
# smoke test measures it).

FROM node:26-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY lib ./lib
COPY myapp ./myapp
COPY scripts ./scripts
RUN npm run build

FROM node:26-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# What no running program reads leaves with the build: source maps, type declarations, docs, and the
# packages' own tests and examples (about a third of node_modules); every LICENSE stays.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
    -o -name '*.md' -o -name '*.markdown' \) -delete \
  && for folder in test tests __tests__ example examples docs benchmark benchmarks; do \
    rm -rf node_modules/*/$folder node_modules/@*/*/$folder; done

FROM node:26-alpine
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/lib ./dist/lib
USER node
EXPOSE 8080 8081 8443
# SIGTERM starts the graceful drain (readyz 503, SHUTDOWN_DELAY, then SHUTDOWN_TIMEOUT); give the task a
# --stop-grace-period above their sum (9 s by default).
STOPSIGNAL SIGTERM
# Liveness from node itself (no curl in the image), on the admin port.
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ADMIN_PORT || 8081) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself (a shell form would put sh in between and swallow it).
ENTRYPOINT ["node", "dist/src/main.js"]
