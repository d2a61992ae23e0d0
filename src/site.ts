// One site (SITES; the only one without): its colors' upstreams, ejection, router, stats and the two
// forwarders, with what forwarding reports told to the shared metrics under the site's name. Wiring only,
// as app.ts is for the whole.
import type { Logger } from '../lib/logger.js'
import { type BasicAuth, createBasicAuth, type PasswordChecker } from './listen/basic-auth.js'
import type { Config, SiteConfig } from './config/load.js'
import { stickyCookie } from './route/cookies.js'
import { Ejection } from './route/ejection.js'
import type { ProxyEvents } from './forward/events.js'
import type { ForwardOptions, SiteColor } from './forward/exchange.js'
import { CONNECT_FAILURES } from './forward/failures.js'
import { createHttpForwarder, type HttpForwarder } from './forward/http.js'
import { createWsForwarder, type WsForwarder } from './forward/websocket.js'
import type { Metrics } from './observe/metrics.js'
import { type HealthCheck, startHealthCheck } from './route/health-check.js'
import {
  createRateLimit,
  createSharedRateLimit,
  type RateLimit,
  type SharedRateLimit,
} from './listen/rate-limit.js'
import { createRouter, type Router } from './route/router.js'
import { createMirror, type Mirror } from './forward/mirror.js'
import { type Rollout, type RolloutOptions, startRollout } from './canary/rollout.js'
import { Stats } from './observe/stats.js'
import { type Resolver, Upstream } from './upstream/color-pools.js'

export interface SiteDependencies {
  logger: Logger
  metrics: Metrics
  /** MIRROR_MAX_IN_FLIGHT's count, shared by every site's mirror. */
  mirrors: { inFlight: number; max: number }
  /** The one password worker every site's USERS share. */
  passwords: () => PasswordChecker
  rand?: () => number
  now: () => number
  /** The clock for socket age and re-resolution (undefined: the Upstream's own). */
  upstreamNow?: () => number
  resolve?: Resolver
}

export interface Site {
  name: string
  config: SiteConfig
  router: Router<SiteColor & { weight: number }>
  http: HttpForwarder
  ws: WsForwarder
  forwardOptions: ForwardOptions
  /** `<SITE>_USERS` (or USERS); undefined: no auth. */
  auth: BasicAuth | undefined
  /** `<SITE>_RATE_LIMIT` (or RATE_LIMIT); undefined: off. */
  rateLimit: RateLimit | undefined
  /** RATE_LIMIT_SHARED: the same limit's buckets, for the fleet to share. */
  sharedRateLimit: SharedRateLimit | undefined
  stats: Stats
  ejection: Ejection
  /** CANARY, running; undefined: none. */
  rollout: Rollout | undefined
  /** HEALTH_CHECK_PATH: each color's addresses out of rotation now. */
  unhealthy(): Record<string, string[]>
  close(): void
}

export function createSite(config: Config, site: SiteConfig, deps: SiteDependencies): Site {
  const { metrics, now } = deps
  const colors = colorsOf(config, site, deps)
  const weighted = colors.filter((color) => color.weight > 0).map((color) => color.name)
  const ejection = new Ejection(weighted, { after: config.eject.after, forMs: config.eject.forMs, now })
  const stats = new Stats(colors, now)
  ejection.onEject(ejectionTold(config, site, deps, stats))
  const rollout =
    site.canary && startRollout(site.canary, colors, rolloutOptions(site.name, site.canary.color, deps))
  const router = createRouter(colors, {
    rand: deps.rand,
    ejection,
    sticky: site.sticky,
    overrideHeader: site.overrideHeader,
    weightsVersion: rollout?.version,
    keeps: rollout && ((color) => color !== rollout.color || rollout.status().state !== 'aborted'),
  })
  const checks = healthChecks(site, colors, ejection, deps)
  const events = siteEvents(site.name, metrics, stats, ejection, rollout)
  const forwardOptions: ForwardOptions = {
    ...forwarderOptions(config, deps.logger, site.name, events),
    basicAuth: site.users !== undefined,
    failover: site.failover ? (from) => router.weighted(from) : undefined,
    stickyCookie: (color) => stickyCookie(site.sticky.cookie, color, site.sticky.ttlMs),
  }
  const forward = createHttpForwarder(forwardOptions)
  const mirror = mirrorFor(config, site, colors, deps, rollout)
  const shared =
    site.rateLimit && config.fleet?.rateLimitShared ? createSharedRateLimit(site.rateLimit) : undefined
  return {
    name: site.name,
    config: site,
    router,
    http: mirror
      ? (req, res, admitted, decision) => {
          forward(req, res, admitted, decision)
          mirror(req, admitted, decision.color?.name)
        }
      : forward,
    ws: createWsForwarder(forwardOptions),
    forwardOptions,
    auth: site.users && createBasicAuth(site.users, deps.passwords()),
    rateLimit: rateLimitFor(site, metrics, shared?.limit),
    sharedRateLimit: shared,
    stats,
    ejection,
    rollout,
    unhealthy: () =>
      Object.fromEntries(colors.map((color) => [color.name, color.upstream.unhealthyAddresses])),
    close() {
      rollout?.close()
      checks.forEach((check) => check.close())
      colors.forEach((color) => color.upstream.close())
    },
  }
}

/** ` (site shop)` in a log line about a named site; nothing for the default one. */
const inSite = (site: SiteConfig) => (site.prefix === '' ? '' : ` (site ${site.name})`)

/** An ejection: its log line, its counters. */
function ejectionTold(config: Config, site: SiteConfig, deps: SiteDependencies, stats: Stats) {
  return (color: string, failures: number) => {
    const where = inSite(site)
    deps.logger.warn(
      { site: site.name, color, failures, for_ms: config.eject.forMs },
      `${color}${where} ejected for ${config.eject.forMs} ms after ${failures} connect failures in a row`,
    )
    deps.metrics.ejected(site.name, color)
    stats.ejected(color)
  }
}

/** HEALTH_CHECK_PATH: each color's addresses checked; a color with none healthy is down (ejection.ts). */
function healthChecks(
  site: SiteConfig,
  colors: readonly SiteColor[],
  ejection: Ejection,
  deps: SiteDependencies,
): HealthCheck[] {
  const rules = site.healthCheck
  if (rules === undefined) return []
  return colors.map((color) =>
    startHealthCheck(color.upstream, rules, (address, healthy, changed, reason) => {
      deps.metrics.upstreamHealthy(site.name, color.name, address, healthy)
      if (!changed) return
      const where = inSite(site)
      const fields = { site: site.name, color: color.name, address, healthy, reason }
      if (healthy) deps.logger.info(fields, `${color.name}${where} ${address} passes its health checks again`)
      else
        deps.logger.warn(
          fields,
          `${color.name}${where} ${address} left rotation: ${rules.fails} failed health checks (${reason})`,
        )
      ejection.setDown(color.name, !color.upstream.anyHealthy)
    }),
  )
}

/** RATE_LIMIT for this site (`given`: RATE_LIMIT_SHARED's), each refusal counted. */
function rateLimitFor(site: SiteConfig, metrics: Metrics, given?: RateLimit): RateLimit | undefined {
  if (site.rateLimit === undefined) return undefined
  const limit = given ?? createRateLimit(site.rateLimit)
  return (req, client) => {
    const wait = limit(req, client)
    if (wait !== undefined) metrics.rateLimited(site.name)
    return wait
  }
}

/** Each color's color: its name, its weight (the canary's rollout changes it) and its upstream's pools. */
function colorsOf(config: Config, site: SiteConfig, deps: SiteDependencies) {
  return site.colors.map((color) => ({
    name: color.name,
    weight: color.weight,
    upstream: new Upstream(color.upstream, {
      maxSocketAgeMs: config.upstream.maxSocketAgeMs,
      keepAliveMs: config.upstream.keepAliveMs,
      resolveEveryMs: config.upstream.resolveEveryMs,
      connectTimeoutMs: config.timeouts.connectMs,
      trust: config.upstreamTls,
      limits: config.upstream.limits,
      resolve: deps.resolve,
      now: deps.upstreamNow,
    }),
  }))
}

function rolloutOptions(site: string, color: string, deps: SiteDependencies): RolloutOptions {
  return {
    site,
    logger: deps.logger,
    now: deps.now,
    changed: (status) => deps.metrics.canary(site, color, status.share, status.state),
  }
}

/** MIRROR: copies for its color, counted, and told to the canary's figures (a dark launch judges them). */
function mirrorFor(
  config: Config,
  site: SiteConfig,
  colors: readonly SiteColor[],
  deps: SiteDependencies,
  rollout: Rollout | undefined,
): Mirror | undefined {
  const color = site.mirror && colors.find((one) => one.name === site.mirror?.color)
  if (site.mirror === undefined || color === undefined) return undefined
  return createMirror(color, {
    site: site.name,
    percent: site.mirror.percent,
    colorHeader: config.colorHeader,
    preserveHost: config.preserveHost,
    basicAuth: site.users !== undefined,
    timeouts: config.timeouts,
    rand: deps.rand ?? Math.random,
    now: performance.now.bind(performance),
    limit: deps.mirrors,
    answered(code, record) {
      deps.metrics.mirrored(site.name, color.name, code)
      if (record) rollout?.done(record)
    },
  })
}

/** Who hears what forwarding reports for this site: the shared metrics (under its name), its stats, its ejection. */
function siteEvents(
  site: string,
  metrics: Metrics,
  stats: Stats,
  ejection: Ejection,
  rollout: Rollout | undefined,
): ProxyEvents {
  return {
    started: () => metrics.started(),
    done(record) {
      metrics.done(record)
      stats.done(record)
      rollout?.done(record)
    },
    upstreamFailed(color, reason) {
      metrics.upstreamFailed(site, color, reason)
      if (CONNECT_FAILURES.has(reason)) ejection.connectFailed(color)
    },
    upstreamAnswered: (color) => ejection.answered(color),
    failedOver: (from, to) => metrics.failedOver(site, from, to),
  }
}

/** What every site's forwarding shares, and what refusals before any site is chosen use (`none`). */
export function forwarderOptions(
  config: Config,
  logger: Logger,
  site: string,
  events: ProxyEvents,
): ForwardOptions {
  const { timeouts } = config
  return {
    site,
    colorHeader: config.colorHeader,
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
  }
}
