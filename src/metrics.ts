// GET /metrics: Prometheus counters per color with prom-client, in a registry of its own (so two proxies in
// one process, as in tests, never share counters), plus Node's process metrics.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { FailureReason, ProxyEvents, RequestRecord } from './events.js'
import type { Weighted } from './weights.js'

/** What each counter counts (its name is `colorproxy_` and the key). */
const HELP = {
  requests_total: 'Requests answered, by the color that served them (none: 503) and status code',
  routed_total: 'Requests by color and why they went there: weighted, sticky, override or failover',
  upstream_errors_total:
    'Upstream attempts that failed before an answer, by color and reason (refused, reset, dns, ...)',
  failovers_total: 'Requests sent to another color because theirs could not be reached',
  ejections_total: 'Times a color left the split after EJECT_AFTER consecutive connect failures',
  client_requests_total:
    'Requests by how the client spoke: proto (http/1.1, http/1.0, h2) and tls (true, false)',
}

/** The color label of a request no color could take (503). */
const NO_COLOR = 'none'

export class Metrics implements ProxyEvents {
  readonly registry = new Registry()
  private readonly requests: Counter<'color' | 'code'>
  private readonly routed: Counter<'color' | 'route'>
  private readonly duration: Histogram<'color'>
  private readonly upstreamErrors: Counter<'color' | 'reason'>
  private readonly failovers: Counter<'from' | 'to'>
  private readonly ejections: Counter<'color'>
  private readonly protocols: Counter<'proto' | 'tls'>
  private readonly inFlight: Gauge

  /** `ejected()` is read at each scrape for the colorproxy_color_ejected gauge. */
  constructor(colors: readonly Weighted[], ejected: () => string[]) {
    const registers = [this.registry]
    const counter = <L extends string>(name: keyof typeof HELP, labelNames: L[]) =>
      new Counter<L>({ name: `colorproxy_${name}`, help: HELP[name], labelNames, registers })
    this.requests = counter('requests_total', ['color', 'code'])
    this.routed = counter('routed_total', ['color', 'route'])
    this.upstreamErrors = counter('upstream_errors_total', ['color', 'reason'])
    this.failovers = counter('failovers_total', ['from', 'to'])
    this.ejections = counter('ejections_total', ['color'])
    this.protocols = counter('client_requests_total', ['proto', 'tls'])
    this.duration = new Histogram({
      name: 'colorproxy_request_duration_seconds',
      help: 'Time from the request to the end of the answer, by color',
      labelNames: ['color'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    })
    this.inFlight = new Gauge({
      name: 'colorproxy_requests_in_flight',
      help: 'Requests being forwarded right now',
      registers,
    })
    colorGauges(colors, ejected, registers)
    // Every color shows up from the first scrape, at 0.
    for (const color of colors) this.ejections.inc({ color: color.name }, 0)
    collectDefaultMetrics({ register: this.registry })
  }

  started(): void {
    this.inFlight.inc()
  }

  done(record: RequestRecord): void {
    this.inFlight.dec()
    const color = record.color ?? NO_COLOR
    this.requests.inc({ color, code: String(record.status) })
    this.routed.inc({ color, route: record.via })
    this.duration.observe({ color }, record.durationMs / 1000)
    this.protocols.inc({ proto: record.proto, tls: String(record.tls) })
  }

  upstreamFailed(color: string, reason: FailureReason): void {
    this.upstreamErrors.inc({ color, reason })
  }

  failedOver(from: string, to: string): void {
    this.failovers.inc({ from, to })
  }

  ejected(color: string): void {
    this.ejections.inc({ color })
  }

  async text(): Promise<{ type: string; body: string }> {
    return { type: this.registry.contentType, body: await this.registry.metrics() }
  }
}

/** Per color: its configured weight, and whether it is ejected now (read at each scrape). */
function colorGauges(colors: readonly Weighted[], ejected: () => string[], registers: Registry[]): void {
  const weight = new Gauge({
    name: 'colorproxy_color_weight',
    help: 'Configured weight per color',
    labelNames: ['color'],
    registers,
    // WORKERS > 1: every worker has the same weights; summing them would multiply the weight.
    aggregator: 'first',
  })
  for (const color of colors) weight.set({ color: color.name }, color.weight)
  new Gauge({
    name: 'colorproxy_color_ejected',
    help: '1 while the color is ejected from the split',
    labelNames: ['color'],
    registers,
    // WORKERS > 1: each worker ejects on its own; 1 while any of them has the color out.
    aggregator: 'max',
    collect() {
      const out = new Set(ejected())
      for (const color of colors) this.set({ color: color.name }, out.has(color.name) ? 1 : 0)
    },
  })
}
