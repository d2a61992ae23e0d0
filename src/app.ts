// createApp(config, deps): the wiring, and nothing else. It builds each color's upstream, ejection, the
// stats, the metrics, the router and the two forwarders, and connects what forwarding reports to those who
// count it. It opens no socket: server.ts listens, service.ts runs the lifecycle.
import type { Registry } from 'prom-client'
import type { Logger } from '../lib/logger.js'
import { type BasicAuth, createBasicAuth } from './basic-auth.js'
import type { Config } from './config.js'
import { stickyCookie } from './cookies.js'
import { Ejection } from './ejection.js'
import type { ProxyEvents } from './events.js'
import type { ForwardOptions, Route } from './exchange.js'
import { CONNECT_FAILURES } from './failures.js'
import { createHttpForwarder, type HttpForwarder } from './forward-http.js'
import { createWsForwarder, type WsForwarder } from './forward-ws.js'
import { Metrics } from './metrics.js'
import { createRouter, type Router } from './router.js'
import { Stats, type StatsSnapshot, type StatsState } from './stats.js'
import { type Resolver, Upstream } from './upstream.js'

export interface Dependencies {
  logger: Logger
  /** Random number in [0, 1) for the weighted choice. */
  rand?: () => number
  /** Milliseconds clock for socket age, re-resolution, ejection and the stats page. */
  now?: () => number
  resolve?: Resolver
}

export interface App {
  /** USERS: basic auth for both listeners; undefined without USERS. */
  auth: BasicAuth | undefined
  router: Router<Route & { weight: number }>
  http: HttpForwarder
  ws: WsForwarder
  /** Where forwarding reports: refusals are told here too. */
  forwardOptions: ForwardOptions
  registry: Registry
  metricsText(): Promise<{ type: string; body: string }>
  stats(): Promise<StatsSnapshot>
  /** This process's stats and ejected colors, for a cluster primary to merge. */
  statsState(): { state: StatsState; ejected: string[] }
  /** Closes every upstream's pooled connections. */
  close(): void
}

export function createApp(config: Config, deps: Dependencies): App {
  const now = deps.now ?? Date.now
  const routes = config.colors.map((color) => ({
    name: color.name,
    weight: color.weight,
    upstream: new Upstream(color.upstream, {
      maxSocketAgeMs: config.upstream.maxSocketAgeMs,
      resolveEveryMs: config.upstream.resolveEveryMs,
      connectTimeoutMs: config.timeouts.connectMs,
      trust: config.upstreamTls,
      resolve: deps.resolve,
      now: deps.now,
    }),
  }))
  const weighted = routes.filter((route) => route.weight > 0).map((route) => route.name)
  const ejection = new Ejection(weighted, { after: config.eject.after, forMs: config.eject.forMs, now })
  const stats = new Stats(routes, now)
  const metrics = new Metrics(routes, () => ejection.ejected())
  ejection.onEject((color, failures) => {
    deps.logger.warn(
      { color, failures, for_ms: config.eject.forMs },
      `${color} ejected for ${config.eject.forMs} ms after ${failures} connect failures in a row`,
    )
    metrics.ejected(color)
    stats.ejected(color)
  })
  const router = createRouter(routes, {
    rand: deps.rand,
    ejection,
    sticky: config.sticky,
    overrideHeader: config.overrideHeader,
  })
  const events = observers(metrics, stats, ejection)
  const forwardOptions = forwardingOptions(config, deps.logger, events, router)
  const auth = config.users && createBasicAuth(config.users)
  return {
    auth,
    router,
    http: createHttpForwarder(forwardOptions),
    ws: createWsForwarder(forwardOptions),
    forwardOptions,
    registry: metrics.registry,
    metricsText: () => metrics.text(),
    stats: async () => stats.snapshot(ejection.ejected()),
    statsState: () => ({ state: stats.state(), ejected: ejection.ejected() }),
    close() {
      routes.forEach((route) => route.upstream.close())
      auth?.close()
    },
  }
}

/** Who hears what forwarding reports: the metrics, the stats page and ejection. */
function observers(metrics: Metrics, stats: Stats, ejection: Ejection): ProxyEvents {
  return {
    started: () => metrics.started(),
    done(record) {
      metrics.done(record)
      stats.done(record)
    },
    upstreamFailed(color, reason) {
      metrics.upstreamFailed(color, reason)
      if (CONNECT_FAILURES.has(reason)) ejection.connectFailed(color)
    },
    upstreamAnswered: (color) => ejection.answered(color),
    failedOver: (from, to) => metrics.failedOver(from, to),
  }
}

function forwardingOptions(
  config: Config,
  logger: Logger,
  events: ProxyEvents,
  router: Router<Route & { weight: number }>,
): ForwardOptions {
  const { timeouts, sticky } = config
  return {
    colorHeader: config.colorHeader,
    basicAuth: config.users !== undefined,
    preserveHost: config.preserveHost,
    timeouts: {
      connectMs: timeouts.connectMs,
      serverMs: timeouts.serverMs,
      serverIdleMs: timeouts.serverIdleMs,
      tunnelMs: timeouts.tunnelMs,
    },
    logger,
    now: performance.now.bind(performance),
    events,
    failover: config.failover ? (from) => router.weighted(from) : undefined,
    stickyCookie: (color) => stickyCookie(sticky.cookie, color, sticky.ttlMs),
  }
}
