// createApp(config, deps): the wiring, and nothing else. It builds every site (site.ts: its colors'
// upstreams, ejection, router, stats and forwarders), the metrics they share, the one password worker, and
// the matcher that picks a request's site (site-match.ts). It opens no socket: listen/http1.ts listens,
// service.ts runs the lifecycle.
import type { Registry } from 'prom-client'
import type { Logger } from '../lib/logger.js'
import { createPasswordChecker, type PasswordChecker } from './listen/basic-auth.js'
import type { CanaryView } from './canary/controller.js'
import type { Certificate } from './config/certificates.js'
import type { Config } from './config/load.js'
import type { Admitted, ForwardOptions } from './forward/exchange.js'
import type { FleetView } from './fleet/fleet.js'
import { Metrics } from './observe/metrics.js'
import { createSite, forwarderOptions, type Site } from './site.js'
import { createSiteMatcher, serves, stripSegments } from './route/site-match.js'
import { type SitesSnapshot, type StatsState, sitesSnapshot } from './observe/stats.js'
import type { Resolver } from './upstream/color-pools.js'

export interface Dependencies {
  logger: Logger
  /** Random number in [0, 1) for the weighted choice. */
  rand?: () => number
  /** Milliseconds clock for socket age, re-resolution, ejection and the stats page. */
  now?: () => number
  resolve?: Resolver
  /** The password worker's module (passwords.js beside basic-auth.js); tests run from source pass the built one. */
  passwordModule?: URL
}

/** A request's site, and what it asks of it (the path with STRIP_PATH's prefix taken off). */
export interface SiteChoice {
  site: Site
  admitted: Admitted
}

export interface App {
  sites: Site[]
  /** The site that serves this host and path; undefined: none (404). */
  siteFor(host: string | undefined, admitted: Admitted): SiteChoice | undefined
  /** Where refusals before any site is chosen are reported (`site="none"`). */
  forwardOptions: ForwardOptions
  registry: Registry
  metricsText(): Promise<{ type: string; body: string }>
  /** The TLS listener's certificates, for colorproxy_certificate_expiry_seconds. */
  watchCertificates(served: () => readonly Certificate[]): void
  /** FLEET_STORE: the fleet's view, for colorproxy_fleet_replicas. */
  watchFleet(view: () => FleetView): void
  stats(): Promise<SitesSnapshot>
  /** This process's stats and ejected colors per site, for a cluster primary to merge. */
  statsState(): {
    state: StatsState
    ejected: string[]
    unhealthy: Record<string, string[]>
    canary?: CanaryView
  }[]
  /** CANARY_ABORT_HEALTH: some site's canary has aborted (then /healthz answers 503). */
  canaryAborted(): boolean
  /** A client connection was closed at accept (client-connections.ts): counted. */
  connectionRefused(reason: string): void
  /** Closes every upstream's pooled connections and the password worker. */
  close(): void
}

export function createApp(config: Config, deps: Dependencies): App {
  const now = deps.now ?? Date.now
  // Read at each scrape: which of each site's colors are ejected now.
  const ejectedNow = new Map<string, () => string[]>()
  const metrics = new Metrics(
    config.sites.map((site) => ({
      name: site.name,
      colors: site.colors,
      ejected: () => ejectedNow.get(site.name)?.() ?? [],
    })),
  )
  const mirrors = { inFlight: 0, max: config.mirrorMaxInFlight }
  let checker: PasswordChecker | undefined
  const passwords = () => (checker ??= createPasswordChecker(deps.passwordModule))
  const sites: Site[] = config.sites.map((site) =>
    createSite(config, site, { ...deps, metrics, passwords, mirrors, now, upstreamNow: deps.now }),
  )
  for (const site of sites) ejectedNow.set(site.name, () => site.ejection.ejected())
  const siteFor = siteMatcher(sites)
  const none = forwarderOptions(config, deps.logger, 'none', {
    started: () => metrics.started(),
    done: (record) => metrics.done(record),
  })
  return {
    sites,
    siteFor,
    forwardOptions: none,
    registry: metrics.registry,
    metricsText: () => metrics.text(),
    watchCertificates: (served) => metrics.certificates(served, now),
    watchFleet: (view) => metrics.fleet(view),
    stats: async () =>
      sitesSnapshot(
        sites.map((site) => ({
          name: site.name,
          serves: serves(site.config, config.sites),
          snapshot: site.stats.snapshot(site.ejection.ejected(), site.unhealthy()),
          canary: site.rollout?.view(),
        })),
      ),
    connectionRefused: (reason) => metrics.connectionRefused(reason),
    canaryAborted: () => sites.some((site) => site.rollout?.status().state === 'aborted'),
    statsState: () =>
      sites.map((site) => ({
        state: site.stats.state(),
        ejected: site.ejection.ejected(),
        unhealthy: site.unhealthy(),
        canary: site.rollout?.view(),
      })),
    close() {
      sites.forEach((site) => site.close())
      checker?.close()
    },
  }
}

/** The site for a host and path, and the request as it will be forwarded (STRIP_PATH, X-Forwarded-Prefix). */
function siteMatcher(sites: readonly Site[]): App['siteFor'] {
  const fallback = sites.find((site) => site.config.prefix === '')
  const match = createSiteMatcher(
    sites
      .filter((site) => site !== fallback)
      .map((site) => ({ hosts: site.config.hosts, paths: site.config.paths, site })),
    fallback,
  )
  return (host, admitted) => {
    const found = match(host, admitted.path)
    if (found === undefined) return undefined
    const { site, prefix, depth } = found
    if (!site.config.stripPath) return { site, admitted }
    const path = stripSegments(admitted.path, depth)
    const given = admitted.forwarded.prefix?.replace(/\/+$/, '') ?? ''
    const forwarded = { ...admitted.forwarded, prefix: `${given}${prefix === '/' ? '' : prefix}` || '/' }
    return { site, admitted: { ...admitted, path, clientPath: admitted.path, forwarded } }
  }
}
