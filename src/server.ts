// The traffic listener, the admin listener beside it, and the graceful shutdown sequence.
// start() resolves the bound ports; shutdown() runs the SPEC.md sequence and resolves when it is done.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createAdminServer } from './admin.js'
import type { Config } from './config.js'
import { stickyCookie } from './cookies.js'
import { createDrainer, type DrainResult, gracefulStop } from './drain.js'
import { Health } from './health.js'
import type { Registry } from 'prom-client'
import type { Logger } from './logger.js'
import { Metrics } from './metrics.js'
import { createForwarding } from './forwarding.js'
import { MAX_HEADER_FIELDS } from './headers.js'
import { answerAsPlainRequest, isWebSocket } from './plain-upgrade.js'
import {
  type Admitted,
  CONNECT_FAILURES,
  createProxy,
  type ProxyEvents,
  type Route,
  writeRawAnswer,
} from './proxy.js'
import { requestTarget } from './request-target.js'
import { createRouter, shares } from './router.js'
import { Stats, type StatsState } from './stats.js'
import { type Resolver, redactUrl, Upstream } from './upstream.js'

export interface Dependencies {
  logger: Logger
  /** Random number in [0, 1) for the weighted choice. */
  rand?: () => number
  /** Milliseconds clock for socket age, re-resolution, ejection and the stats page. */
  now?: () => number
  resolve?: Resolver
  /**
   * One of WORKERS cluster workers: no admin listener (the primary has it) and no startup summary (the
   * primary says it once).
   */
  worker?: boolean
}

export interface ColorProxy {
  start(): Promise<{ port: number; adminPort: number }>
  /**
   * readyz → 503; keep serving for delayMs; stop accepting and drain for up to config.shutdown.timeoutMs.
   * A second call (a second signal) skips whatever delay is left.
   */
  shutdown(options: { delayMs: number }): Promise<DrainResult>
  /** This process's stats and ejected colors, for a cluster primary to merge. */
  statsState(): { state: StatsState; ejected: string[] }
  /** This process's metrics, for a cluster primary to sum. */
  readonly registry: Registry
}

export function createColorProxy(config: Config, deps: Dependencies): ColorProxy {
  const { logger } = deps
  const routes: (Route & { weight: number })[] = config.colors.map((color) => ({
    name: color.name,
    weight: color.weight,
    upstream: new Upstream(color.upstream, {
      maxSocketAgeMs: config.upstream.maxSocketAgeMs,
      resolveEveryMs: config.upstream.resolveEveryMs,
      connectTimeoutMs: config.timeouts.connectMs,
      resolve: deps.resolve,
      now: deps.now,
    }),
  }))
  const now = deps.now ?? Date.now
  const stats = new Stats(routes, now)
  const health = new Health(
    routes.filter((route) => route.weight > 0).map((route) => route.name),
    {
      after: config.eject.after,
      forMs: config.eject.forMs,
      now,
      onEject(color, failures) {
        logger.warn(
          { color, failures, for_ms: config.eject.forMs },
          `${color} ejected for ${config.eject.forMs} ms after ${failures} connect failures in a row`,
        )
        metrics.ejected(color)
        stats.ejected(color)
      },
    },
  )
  const metrics = new Metrics(routes, () => health.ejected())
  const router = createRouter(routes, {
    rand: deps.rand,
    health,
    sticky: config.sticky,
    overrideHeader: config.overrideHeader,
  })
  const events: ProxyEvents = {
    started: () => metrics.started(),
    done(record) {
      metrics.done(record)
      stats.done(record)
    },
    upstreamFailed(color, reason) {
      metrics.upstreamFailed(color, reason)
      if (CONNECT_FAILURES.has(reason)) health.connectFailed(color)
    },
    upstreamAnswered: (color) => health.answered(color),
    failedOver: (from, to) => metrics.failedOver(from, to),
  }
  const proxy = createProxy({
    colorHeader: config.colorHeader,
    preserveHost: config.preserveHost,
    connectTimeoutMs: config.timeouts.connectMs,
    serverTimeoutMs: config.timeouts.serverMs,
    serverIdleTimeoutMs: config.timeouts.serverIdleMs,
    tunnelTimeoutMs: config.timeouts.tunnelMs,
    logger,
    events,
    failover: config.failover ? (from) => router.weighted(from) : undefined,
    stickyCookie: (color) => stickyCookie(config.sticky.cookie, color, config.sticky.ttlMs),
  })

  const traffic = createServer({
    // TIMEOUT_CLIENT bounds the whole request (headers and body): 408 and close. Node checks every
    // connectionsCheckingInterval, so keep that well under the timeout.
    requestTimeout: config.timeouts.clientMs,
    headersTimeout: config.timeouts.clientMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(50, config.timeouts.clientMs / 4)),
    keepAliveTimeout: config.timeouts.keepAliveMs,
  })
  // Node would drop header fields past its default 2000 array slots silently: colorproxy counts them itself.
  traffic.maxHeadersCount = 0
  const drainer = createDrainer(traffic)
  const forwarding = createForwarding(config.trustedProxies)

  /** The checks every request passes before any color is chosen; a refusal is never a color's error. */
  const admit = (req: IncomingMessage): Admitted | { status: number; text: string } => {
    if (req.rawHeaders.length > MAX_HEADER_FIELDS * 2) {
      return { status: 431, text: `the request has more than ${MAX_HEADER_FIELDS} header fields` }
    }
    const target = requestTarget(req.httpVersionMajor, req.url as string, req.rawHeaders)
    if (!target.ok) return target
    return { path: target.path, forwarded: forwarding(req, 'http') }
  }

  // RFC 9112 section 9.3: a request that says close is the last on its connection. Node parses pipelined
  // requests behind it all the same; none of them is forwarded.
  const closing = new WeakSet<Duplex>()
  traffic.on('request', (req, res) => {
    if (closing.has(req.socket)) return
    if (!res.shouldKeepAlive) closing.add(req.socket)
    const admitted = admit(req)
    if ('status' in admitted) {
      closing.add(req.socket)
      proxy.refuse(req, res, admitted.status, admitted.text, forwarding(req, 'http').client)
      return
    }
    proxy.web(req, res, admitted, router.decide(req, admitted.forwarded.client))
  })
  traffic.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!isWebSocket(req)) return answerAsPlainRequest(traffic, req, socket, head)
    const admitted = admit(req)
    if ('status' in admitted) return writeRawAnswer(socket, admitted.status, admitted.text)
    drainer.trackTunnel(socket)
    proxy.upgrade(req, socket, head, admitted, router.decide(req, admitted.forwarded.client))
  })
  // colorproxy is a reverse proxy: CONNECT gets a 405 that says so (RFC 9110 section 15.5.6), not a reset.
  traffic.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {})
    writeRawAnswer(socket, 405, 'CONNECT is not supported: colorproxy is not a forward proxy', ALLOW)
  })
  traffic.on('clientError', answerClientError)

  let ready = true
  const admin = createAdminServer(config, {
    ready: () => ready,
    metrics: () => metrics.text(),
    stats: async () => stats.snapshot(health.ejected()),
  })

  return {
    registry: metrics.registry,

    statsState: () => ({ state: stats.state(), ejected: health.ejected() }),

    async start() {
      await listen(traffic, config.listen.port, config.listen.host)
      const port = (traffic.address() as AddressInfo).port
      if (deps.worker) return { port, adminPort: 0 }
      await listen(admin, config.admin.port, config.admin.host).catch((error) => {
        traffic.close()
        throw error
      })
      const adminPort = (admin.address() as AddressInfo).port
      logListening(logger, config, port, adminPort)
      return { port, adminPort }
    },

    shutdown: gracefulStop(
      { logger, timeoutMs: config.shutdown.timeoutMs },
      () => {
        ready = false
      },
      async () => {
        logger.info({ in_flight: drainer.inFlight }, 'draining: no new connections')
        const result = await drainer.drain(config.shutdown.timeoutMs)
        if (result.forced > 0) logger.warn({ forced: result.forced }, 'drain timed out: connections closed')
        for (const route of routes) route.upstream.close()
        admin.close()
        admin.closeAllConnections()
        logger.info('stopped')
        return result
      },
    ),
  }
}

const ALLOW = 'Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n'

/** Node's parse errors as statuses; anything else is a 400 (Node's own default). */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'the request headers are larger than 16 KB'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request did not arrive within TIMEOUT_CLIENT'],
  HPE_INVALID_VERSION: [505, 'this port speaks HTTP/1.0 and HTTP/1.1'],
  // An HTTP/2 connection preface (PRI * HTTP/2.0) on the plain port.
  HPE_PAUSED_H2_UPGRADE: [505, 'this port speaks HTTP/1.0 and HTTP/1.1'],
}

/**
 * A request Node could not parse: one plain-text answer and the connection closes, as Node's default
 * handler does, but with the right status (505 for a version it does not speak) and a line saying why.
 * Nothing is written once an answer has begun or is pending on the socket (pipelining): it would jump
 * ahead of it. Bytes after a request that said `Connection: close` are not an error: they are ignored,
 * and the answers already under way finish before Node closes the connection.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'HPE_CLOSED_CONNECTION') {
    socket.pause()
    return
  }
  const [status, text] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'the request is malformed']
  const busy = (socket as Socket).bytesWritten > 0 || (socket as { _httpMessage?: unknown })._httpMessage
  if (error.code !== 'ECONNRESET' && !busy) writeRawAnswer(socket, status, text)
  else socket.destroy()
}

/** The startup summary: each color's share of new traffic, then where colorproxy listens. */
export function logListening(logger: Logger, config: Config, port: number, adminPort: number): void {
  const share = shares(config.colors)
  for (const { name, upstream, weight } of config.colors) {
    logger.info(
      { color: name, upstream: redactUrl(upstream), weight, share_percent: share.get(name) },
      `${name}: ${share.get(name)}% of new traffic`,
    )
  }
  logger.info({ port, admin_port: adminPort }, 'listening')
}

export async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host)
  // once() rejects if 'error' (EADDRINUSE, EACCES) comes first.
  await once(server, 'listening')
}
