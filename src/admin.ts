// The admin listener: /healthz, /readyz, /config. Never proxied. Metrics and the stats page will be
// added as further entries of the same route table.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Config } from './config.js'
import { shares } from './router.js'
import { redactUrl } from './upstream.js'

export interface AdminState {
  /** False once shutdown has begun: /readyz answers 503 so the orchestrator stops routing here. */
  ready(): boolean
}

export type AdminRoute = (req: IncomingMessage, res: ServerResponse) => void

export function createAdminServer(config: Config, state: AdminState): Server {
  const view = JSON.stringify(configView(config), null, 2)
  const routes: Record<string, AdminRoute> = {
    // Liveness: the process runs; it does not depend on upstreams, so a dead backend never restarts us.
    '/healthz': (_req, res) => text(res, 200, 'ok\n'),
    '/readyz': (_req, res) => (state.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'shutting down\n')),
    '/config': (_req, res) => send(res, 200, 'application/json', `${view}\n`),
  }
  return createServer((req, res) => {
    const path = String(req.url).split('?', 1)[0] as string
    const route = routes[path]
    if (!route) return text(res, 404, 'not found\n')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      return text(res, 405, 'method not allowed\n')
    }
    route(req, res)
  })
}

/** The effective configuration, with upstream credentials redacted. */
export function configView(config: Config): object {
  const share = shares(config.colors)
  return {
    colors: config.colors.map((color) => ({
      name: color.name,
      upstream: redactUrl(color.upstream),
      weight: color.weight,
      share_percent: share.get(color.name),
    })),
    listen: config.listen,
    admin: config.admin,
    color_header: config.colorHeader,
    preserve_host: config.preserveHost,
    timeouts_ms: {
      connect: config.timeouts.connectMs,
      server: config.timeouts.serverMs,
      client: config.timeouts.clientMs,
      http_keep_alive: config.timeouts.keepAliveMs,
      tunnel: config.timeouts.tunnelMs,
    },
    upstream_ms: {
      max_socket_age: config.upstream.maxSocketAgeMs,
      resolve_every: config.upstream.resolveEveryMs,
    },
    shutdown_ms: { delay: config.shutdown.delayMs, timeout: config.shutdown.timeoutMs },
    log: config.log,
  }
}

function text(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/plain; charset=utf-8', body)
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}
