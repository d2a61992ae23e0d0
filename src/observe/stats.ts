// The numbers behind the stats page: per-second counts per color over the last five minutes, and recent
// latencies per color for p50/p99. Time is injected so tests can pin it.
import type { CanaryView } from '../canary/controller.js'
import type { FleetView } from '../fleet/fleet.js'
import type { RequestRecord } from '../forward/events.js'
import { shares, type Weighted } from '../route/weights.js'

const HISTORY_S = 300
/** Observed share and error rate are over the last minute; the request rate over the last 10 s. */
const SHARE_WINDOW_S = 60
const RATE_WINDOW_S = 10
/** Chart columns: the last five minutes in 10 s steps. */
const STEP_S = 10
/** Latencies kept per color for the percentiles (the most recent ones). */
const LATENCY_SAMPLES = 2048

interface Counts {
  requests: number
  errors: number
}

interface Second {
  at: number
  colors: Map<string, Counts>
}

export interface ColorStats {
  name: string
  weight: number
  /** Percent of new traffic the weights promise. */
  configured: number
  /** Percent of the last minute's requests it served. */
  observed: number
  /** Requests per second over the last 10 s. */
  rate: number
  /** Percent of the last minute's requests that got a 5xx. */
  errorRate: number
  p50Ms: number | null
  p99Ms: number | null
  requests: number
  errors: number
  ejected: boolean
  ejections: number
  /** HEALTH_CHECK_PATH: its addresses out of rotation now. */
  unhealthy: string[]
}

export interface StatsSnapshot {
  uptimeS: number
  /** Requests per second over the last 10 s, all colors. */
  rate: number
  requests: number
  colors: ColorStats[]
  /** Oldest first: each 10 s step's share per color (percent), and its request count. */
  history: { secondsAgo: number; requests: number; shares: Record<string, number> }[]
}

/** One site's figures on the stats page. */
export interface SiteSnapshot extends StatsSnapshot {
  site: string
  /** What it answers: `shop.example.com /`, `any host /api`. */
  serves: string
  /** CANARY: where the rollout is; absent without one. */
  canary?: CanaryView
}

/** Every site's figures, and their sums; the certificates served, when the process serves TLS. */
export interface SitesSnapshot {
  uptimeS: number
  rate: number
  requests: number
  sites: SiteSnapshot[]
  certificates?: CertificateLife[]
  /** FLEET_STORE: the fleet as this process last read it. */
  fleet?: FleetView
}

/** A served certificate's remaining life. */
export interface CertificateLife {
  names: string[]
  source: 'TLS_CERT' | 'TLS_CERTS_DIR' | 'acme'
  notAfter: string
  remainingS: number
}

export function sitesSnapshot(
  sites: readonly { name: string; serves: string; snapshot: StatsSnapshot; canary?: CanaryView }[],
): SitesSnapshot {
  return {
    uptimeS: Math.max(0, ...sites.map((site) => site.snapshot.uptimeS)),
    rate: round(sites.reduce((sum, site) => sum + site.snapshot.rate, 0)),
    requests: sites.reduce((sum, site) => sum + site.snapshot.requests, 0),
    sites: sites.map((site) => ({
      site: site.name,
      serves: site.serves,
      ...site.snapshot,
      ...(site.canary && { canary: site.canary }),
    })),
  }
}

/** A worker's raw counts (WORKERS > 1): the primary merges them into one Stats for the stats page. */
export interface StatsState {
  began: number
  /** Per second: [second, [[color, counts], ...]]. */
  seconds: [number, [string, Counts][]][]
  totals: [string, Counts][]
  /** The kept latency samples per color. */
  latencies: [string, number[]][]
  ejections: [string, number][]
}

export class Stats {
  private readonly seconds: Second[] = []
  private readonly totals = new Map<string, Counts>()
  private readonly latencies = new Map<string, { samples: Float64Array; next: number; count: number }>()
  private readonly ejections = new Map<string, number>()
  private began: number

  constructor(
    private readonly colors: readonly Weighted[],
    private readonly now: () => number = Date.now,
  ) {
    this.began = now()
  }

  done(record: RequestRecord): void {
    const color = record.color
    if (color === null) return
    const error = record.status >= 500 ? 1 : 0
    add(this.second().colors, color, error)
    add(this.totals, color, error)
    let ring = this.latencies.get(color)
    if (!ring) {
      ring = { samples: new Float64Array(LATENCY_SAMPLES), next: 0, count: 0 }
      this.latencies.set(color, ring)
    }
    ring.samples[ring.next] = record.durationMs
    ring.next = (ring.next + 1) % LATENCY_SAMPLES
    ring.count = Math.min(LATENCY_SAMPLES, ring.count + 1)
  }

  /** Everything snapshot() reads, as plain data a worker can send to the primary. */
  state(): StatsState {
    return {
      began: this.began,
      seconds: this.seconds.map((second) => [second.at, [...second.colors]]),
      totals: [...this.totals],
      latencies: [...this.latencies].map(([color, ring]) => [
        color,
        [...ring.samples.subarray(0, ring.count)],
      ]),
      ejections: [...this.ejections],
    }
  }

  /** One Stats holding every worker's counts and latency samples, as if one process had served them all. */
  /**
   * Requests since start and per second over the last 10 s, all colors, as snapshot() says them: without
   * its percentiles and history (FLEET_STORE's membership record asks every 0.5 s).
   */
  traffic(): { requests: number; rate: number } {
    const requests = this.colors.reduce((n, color) => n + (this.totals.get(color.name)?.requests ?? 0), 0)
    return { requests, rate: round(total(this.within(RATE_WINDOW_S)) / this.rateWindowS()) }
  }

  /** Each color's counts over the last `seconds`. */
  private within(seconds: number): Map<string, Counts> {
    const nowS = Math.floor(this.now() / 1000)
    return sum(this.seconds.filter((second) => second.at > nowS - seconds))
  }

  /** A proxy that started 2 s ago has served for 2 s, not 10: the rate divides by what it has seen. */
  private rateWindowS(): number {
    return Math.min(RATE_WINDOW_S, Math.max(1, (this.now() - this.began) / 1000))
  }

  static merge(colors: readonly Weighted[], now: () => number, states: readonly StatsState[]): Stats {
    const merged = new Stats(colors, now)
    merged.began = Math.min(merged.began, ...states.map((state) => state.began))
    const seconds = new Map<number, Map<string, Counts>>()
    const samples = new Map<string, number[]>()
    for (const state of states) {
      for (const [at, counts] of state.seconds) {
        if (!seconds.has(at)) seconds.set(at, new Map())
        addCounts(seconds.get(at) as Map<string, Counts>, counts)
      }
      addCounts(merged.totals, state.totals)
      for (const [color, values] of state.latencies) {
        if (!samples.has(color)) samples.set(color, [])
        ;(samples.get(color) as number[]).push(...values)
      }
      for (const [color, n] of state.ejections)
        merged.ejections.set(color, (merged.ejections.get(color) ?? 0) + n)
    }
    merged.seconds.push(
      ...[...seconds].sort(([a], [b]) => a - b).map(([at, counts]) => ({ at, colors: counts })),
    )
    for (const [color, values] of samples) {
      merged.latencies.set(color, { samples: Float64Array.from(values), next: 0, count: values.length })
    }
    return merged
  }

  ejected(color: string): void {
    this.ejections.set(color, (this.ejections.get(color) ?? 0) + 1)
  }

  snapshot(
    ejectedNow: readonly string[] = [],
    unhealthy: Readonly<Record<string, string[]>> = {},
  ): StatsSnapshot {
    const nowS = Math.floor(this.now() / 1000)
    const lastMinute = this.within(SHARE_WINDOW_S)
    const lastRate = this.within(RATE_WINDOW_S)
    const rateWindowS = this.rateWindowS()
    const minuteTotal = total(lastMinute)
    const configured = shares(this.colors)
    const colors = this.colors.map((color): ColorStats => {
      const minute = lastMinute.get(color.name) ?? { requests: 0, errors: 0 }
      const all = this.totals.get(color.name) ?? { requests: 0, errors: 0 }
      const ring = this.latencies.get(color.name)
      const sorted = ring ? [...ring.samples.subarray(0, ring.count)].sort((a, b) => a - b) : []
      return {
        name: color.name,
        weight: color.weight,
        configured: configured.get(color.name) ?? 0,
        observed: percent(minute.requests, minuteTotal),
        rate: round((lastRate.get(color.name)?.requests ?? 0) / rateWindowS),
        errorRate: percent(minute.errors, minute.requests),
        p50Ms: quantile(sorted, 0.5),
        p99Ms: quantile(sorted, 0.99),
        requests: all.requests,
        errors: all.errors,
        ejected: ejectedNow.includes(color.name),
        ejections: this.ejections.get(color.name) ?? 0,
        unhealthy: unhealthy[color.name] ?? [],
      }
    })
    const history: StatsSnapshot['history'] = []
    for (let end = HISTORY_S - STEP_S; end >= 0; end -= STEP_S) {
      const step = sum(this.seconds.filter((s) => s.at <= nowS - end && s.at > nowS - end - STEP_S))
      const requests = total(step)
      const split = Object.fromEntries(
        this.colors.map((color) => [color.name, percent(step.get(color.name)?.requests ?? 0, requests)]),
      )
      history.push({ secondsAgo: end, requests, shares: split })
    }
    return {
      uptimeS: Math.round((this.now() - this.began) / 1000),
      rate: round(total(lastRate) / rateWindowS),
      requests: colors.reduce((n, color) => n + color.requests, 0),
      colors,
      history,
    }
  }

  /** This second's counts, dropping seconds older than the history. */
  private second(): Second {
    const at = Math.floor(this.now() / 1000)
    const last = this.seconds.at(-1)
    if (last?.at === at) return last
    const fresh: Second = { at, colors: new Map() }
    this.seconds.push(fresh)
    while ((this.seconds[0] as Second).at <= at - HISTORY_S) this.seconds.shift()
    return fresh
  }
}

function add(map: Map<string, Counts>, color: string, error: number): void {
  const counts = map.get(color)
  if (counts) {
    counts.requests++
    counts.errors += error
  } else {
    map.set(color, { requests: 1, errors: error })
  }
}

/** Adds each color's counts into `into` (new objects there, never the ones added). */
function addCounts(into: Map<string, Counts>, counts: Iterable<[string, Counts]>): void {
  for (const [color, { requests, errors }] of counts) {
    const have = into.get(color) ?? { requests: 0, errors: 0 }
    have.requests += requests
    have.errors += errors
    into.set(color, have)
  }
}

function sum(seconds: readonly Second[]): Map<string, Counts> {
  const out = new Map<string, Counts>()
  for (const second of seconds) addCounts(out, second.colors)
  return out
}

function total(counts: Map<string, Counts>): number {
  let n = 0
  for (const { requests } of counts.values()) n += requests
  return n
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : round((part / whole) * 100)
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}

/** Nearest-rank quantile of sorted samples; null with none. */
function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null
  return round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number)
}
