// GET /metrics: Prometheus counters per site and color with prom-client, in a registry of its own (so two
// proxies in one process, as in tests, never share counters), plus Node's process metrics. Every per-color
// series has a `site` label: `default` for the unprefixed site, `none` for a request no site took.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { type Certificate, secondsLeft } from '../config/certificates.js'
import type { FailureReason, RequestRecord } from '../forward/events.js'
import { Tally } from './tally.js'
import type { Weighted } from '../route/weights.js'

/** What each counter counts (its name is `colorproxy_` and the key). */
const HELP = {
  requests_total:
    'Requests answered, by site (none: no site matched), the color that served them (none: no color) and status code',
  routed_total: 'Requests by color and why they went there: weighted, sticky, override or failover',
  upstream_errors_total:
    'Upstream attempts that failed before an answer, by color and reason (refused, reset, dns, ...)',
  failovers_total: 'Requests sent to another color because theirs could not be reached',
  client_connections_refused_total:
    'Client connections closed at accept: per_client_limit (MAX_CONNECTIONS_PER_CLIENT), proxy_protocol (a missing, bad or untrusted PROXY header)',
  rate_limited_total:
    'Requests answered 429 by RATE_LIMIT, by site: never forwarded, never counted against a color',
  upstream_overflow_total:
    'Requests answered 503 because every connection to their color was busy and UPSTREAM_MAX_PENDING waited, or TIMEOUT_QUEUE passed',
  ejections_total: 'Times a color left the split after EJECT_AFTER consecutive connect failures',
  client_requests_total:
    'Requests by how the client spoke: proto (http/1.1, http/1.0, h2) and tls (true, false)',
  mirrored_total:
    'Mirrored copies (MIRROR) by the status their color answered (0: no answer), or skipped past MIRROR_MAX_IN_FLIGHT',
}

const CANARY_STATES = ['progressing', 'holding', 'promoted', 'aborted'] as const

/** The color label of a request no color could take (503). */
const NO_COLOR = 'none'

/** One site's colors, and which of them are ejected now (read at each scrape). */
export interface MetricsSite {
  name: string
  colors: readonly Weighted[]
  ejected: () => string[]
}

export class Metrics {
  readonly registry = new Registry()
  private readonly requests: Tally<'site' | 'color' | 'code'>
  private readonly routed: Tally<'site' | 'color' | 'route'>
  private readonly duration: Histogram<'site' | 'color'>
  private readonly upstreamErrors: Counter<'site' | 'color' | 'reason'>
  private readonly failovers: Counter<'site' | 'from' | 'to'>
  private readonly overflows: Counter<'site' | 'color'>
  private readonly rateLimits: Counter<'site'>
  private readonly connectionsRefused: Counter<'reason'>
  private readonly ejections: Counter<'site' | 'color'>
  private readonly protocols: Tally<'proto' | 'tls'>
  private readonly mirroredCopies: Counter<'site' | 'color' | 'code'>
  private readonly canaryShare: Gauge<'site' | 'color'>
  private readonly healthy: Gauge<'site' | 'color' | 'address'>
  private readonly canaryState: Gauge<'site' | 'color' | 'state'>
  private readonly inFlight: Gauge

  constructor(sites: readonly MetricsSite[]) {
    const registers = [this.registry]
    const counter = <L extends string>(name: keyof typeof HELP, labelNames: L[]) =>
      new Counter<L>({ name: `colorproxy_${name}`, help: HELP[name], labelNames, registers })
    const tally = <L extends string>(name: keyof typeof HELP, labelNames: L[]) =>
      new Tally<L>({ name: `colorproxy_${name}`, help: HELP[name], labelNames, registers })
    this.requests = tally('requests_total', ['site', 'color', 'code'])
    this.routed = tally('routed_total', ['site', 'color', 'route'])
    this.upstreamErrors = counter('upstream_errors_total', ['site', 'color', 'reason'])
    this.failovers = counter('failovers_total', ['site', 'from', 'to'])
    this.overflows = counter('upstream_overflow_total', ['site', 'color'])
    this.rateLimits = counter('rate_limited_total', ['site'])
    this.connectionsRefused = counter('client_connections_refused_total', ['reason'])
    this.ejections = counter('ejections_total', ['site', 'color'])
    this.protocols = tally('client_requests_total', ['proto', 'tls'])
    this.mirroredCopies = counter('mirrored_total', ['site', 'color', 'code'])
    this.healthy = new Gauge({
      name: 'colorproxy_upstream_healthy',
      help: 'HEALTH_CHECK_PATH: 1 while an address of a color passes its active health checks, 0 while it is out of rotation',
      labelNames: ['site', 'color', 'address'],
      registers,
      aggregator: 'min',
    })
    this.canaryShare = new Gauge({
      name: 'colorproxy_canary_share_percent',
      help: "The canary's share of new traffic now (CANARY), per site",
      labelNames: ['site', 'color'],
      registers,
      aggregator: 'min',
    })
    this.canaryState = new Gauge({
      name: 'colorproxy_canary_state',
      help: "1 for the canary's state now (progressing, holding, promoted, aborted), 0 for the others",
      labelNames: ['site', 'color', 'state'],
      registers,
      aggregator: 'max',
    })
    this.duration = new Histogram({
      name: 'colorproxy_request_duration_seconds',
      help: 'Time from the request to the end of the answer, by color',
      labelNames: ['site', 'color'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    })
    this.inFlight = new Gauge({
      name: 'colorproxy_requests_in_flight',
      help: 'Requests being forwarded right now',
      registers,
    })
    colorGauges(sites, registers)
    eventLoopDelay(registers)
    // Every color shows up from the first scrape, at 0.
    for (const site of sites) {
      this.rateLimits.inc({ site: site.name }, 0)
      for (const color of site.colors) {
        this.ejections.inc({ site: site.name, color: color.name }, 0)
        this.overflows.inc({ site: site.name, color: color.name }, 0)
      }
    }
    collectDefaultMetrics({ register: this.registry })
  }

  started(): void {
    this.inFlight.inc()
  }

  done(record: RequestRecord): void {
    this.inFlight.dec()
    const { site } = record
    const color = record.color ?? NO_COLOR
    const { status, via, proto, tls } = record
    this.requests.inc(`${site} ${color} ${status}`, () => ({ site, color, code: String(status) }))
    this.routed.inc(`${site} ${color} ${via}`, () => ({ site, color, route: via }))
    this.duration.observe({ site, color }, record.durationMs / 1000)
    this.protocols.inc(`${proto} ${tls}`, () => ({ proto, tls: String(tls) }))
  }

  upstreamFailed(site: string, color: string, reason: FailureReason): void {
    this.upstreamErrors.inc({ site, color, reason })
    if (reason === 'upstream_overloaded') this.overflows.inc({ site, color })
  }

  upstreamHealthy(site: string, color: string, address: string, healthy: boolean): void {
    this.healthy.set({ site, color, address }, healthy ? 1 : 0)
  }

  connectionRefused(reason: string): void {
    this.connectionsRefused.inc({ reason })
  }

  rateLimited(site: string): void {
    this.rateLimits.inc({ site })
  }

  failedOver(site: string, from: string, to: string): void {
    this.failovers.inc({ site, from, to })
  }

  ejected(site: string, color: string): void {
    this.ejections.inc({ site, color })
  }

  mirrored(site: string, color: string, code: number | 'skipped'): void {
    this.mirroredCopies.inc({ site, color, code: String(code) })
  }

  canary(site: string, color: string, share: number, state: (typeof CANARY_STATES)[number]): void {
    this.canaryShare.set({ site, color }, share)
    for (const one of CANARY_STATES) this.canaryState.set({ site, color, state: one }, one === state ? 1 : 0)
  }

  /** Each served certificate's remaining life, by name and source, read at each scrape. */
  certificates(served: () => readonly Certificate[], now: () => number): void {
    new Gauge({
      name: 'colorproxy_certificate_expiry_seconds',
      help: 'Seconds until a served certificate expires, per name and source (TLS_CERT, TLS_CERTS_DIR, acme)',
      labelNames: ['name', 'source'],
      registers: [this.registry],
      // WORKERS > 1: every worker serves the same certificates; the soonest end is the one to watch.
      aggregator: 'min',
      collect() {
        this.reset()
        for (const certificate of served()) {
          const seconds = secondsLeft(certificate, now())
          for (const name of certificate.names) this.set({ name, source: sourceOf(certificate) }, seconds)
        }
      },
    })
  }

  /** FLEET_STORE: the members alive as this process last read them, and whether it reaches the store. */
  fleet(view: () => { reachable: boolean; totals: { members: number } }): void {
    new Gauge({
      name: 'colorproxy_fleet_replicas',
      help: 'Members of the fleet alive (FLEET_STORE), as this process last read them: each process, so a replica with WORKERS=2 is two',
      registers: [this.registry],
      // WORKERS > 1: every worker reads the same fleet.
      aggregator: 'max',
      collect() {
        this.set(view().totals.members)
      },
    })
    new Gauge({
      name: 'colorproxy_fleet_store_up',
      help: '1 while the last sync with FLEET_STORE succeeded; 0 while the replica judges alone',
      registers: [this.registry],
      aggregator: 'min',
      collect() {
        this.set(view().reachable ? 1 : 0)
      },
    })
  }

  async text(): Promise<{ type: string; body: string }> {
    return { type: this.registry.contentType, body: await this.registry.metrics() }
  }
}

/** Where a served certificate came from, as the metric and /config say it. */
export function sourceOf(certificate: Certificate): 'TLS_CERT' | 'TLS_CERTS_DIR' | 'acme' {
  if (certificate.source === 'TLS_CERT') return 'TLS_CERT'
  return certificate.source.startsWith('acme:') ? 'acme' : 'TLS_CERTS_DIR'
}

/**
 * How late the event loop ran its timers since the previous scrape (perf_hooks, sampled every 10 ms):
 * the median, the 99th percentile and the worst. A request waits at least this long before colorproxy
 * reads it; high values mean the process is saturated or a pause (GC, a slow handler) stalls everything.
 */
function eventLoopDelay(registers: Registry[]): void {
  const monitor = monitorEventLoopDelay({ resolution: 10 })
  monitor.enable()
  new Gauge({
    name: 'colorproxy_event_loop_delay_seconds',
    help: 'Event-loop delay since the previous scrape, by quantile (1: the worst)',
    labelNames: ['quantile'],
    registers,
    // WORKERS > 1: the worst worker.
    aggregator: 'max',
    collect() {
      for (const quantile of [0.5, 0.99]) {
        this.set({ quantile: String(quantile) }, monitor.percentile(quantile * 100) / 1e9)
      }
      this.set({ quantile: '1' }, monitor.max / 1e9)
      monitor.reset()
    },
  })
}

/** Per site and color: its configured weight, and whether it is ejected now (read at each scrape). */
function colorGauges(sites: readonly MetricsSite[], registers: Registry[]): void {
  const weight = new Gauge({
    name: 'colorproxy_color_weight',
    help: 'Configured weight per color',
    labelNames: ['site', 'color'],
    registers,
    // WORKERS > 1: every worker has the same weights; summing them would multiply the weight.
    aggregator: 'first',
  })
  for (const site of sites)
    for (const color of site.colors) weight.set({ site: site.name, color: color.name }, color.weight)
  new Gauge({
    name: 'colorproxy_color_ejected',
    help: '1 while the color is ejected from the split',
    labelNames: ['site', 'color'],
    registers,
    // WORKERS > 1: each worker ejects on its own; 1 while any of them has the color out.
    aggregator: 'max',
    collect() {
      for (const site of sites) {
        const out = new Set(site.ejected())
        for (const color of site.colors)
          this.set({ site: site.name, color: color.name }, out.has(color.name) ? 1 : 0)
      }
    },
  })
}
