// The tail over time and by connection order (issue 14, "The tail"): every request's latency, kept in one
// HdrHistogram per 5 s window and per tenth of the connections in the order they were opened, and each
// connection's first request on its own (a connection accepted late shows there). With the GC pauses
// colorproxy's --trace-gc printed in the same window, a spike can be told apart: a reconnect burst, a
// mark-compact, or connections waiting to be accepted.
import { build, type Histogram } from 'hdr-histogram-js'

export interface TimelineSummary {
  windowS: number
  /** Per window: requests, p50, p99 and max in ms. */
  windows: Row[]
  /** Per tenth of the connections, first opened first: all their requests, and their first ones. */
  byOrder: (Row & { firstP50Ms: number; firstMaxMs: number })[]
}

interface Row {
  requests: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

const histogram = (): Histogram => build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000 })

/** Collects (connection, time, latency) samples; latencies in ms, kept in µs. */
export class Timeline {
  private readonly windows: Histogram[] = []
  private readonly tenths = Array.from({ length: 10 }, histogram)
  private readonly firsts = Array.from({ length: 10 }, histogram)
  private readonly seen = new Set<number>()

  constructor(
    private readonly connections: number,
    private readonly windowS = 5,
  ) {}

  add(connection: number, atMs: number, latencyMs: number): void {
    const micros = Math.max(1, Math.round(latencyMs * 1000))
    const window = Math.floor(atMs / (this.windowS * 1000))
    while (this.windows.length <= window) this.windows.push(histogram())
    ;(this.windows[window] as Histogram).recordValue(micros)
    const tenth = Math.min(9, Math.floor((connection * 10) / this.connections))
    ;(this.tenths[tenth] as Histogram).recordValue(micros)
    if (this.seen.has(connection)) return
    this.seen.add(connection)
    ;(this.firsts[tenth] as Histogram).recordValue(micros)
  }

  summary(): TimelineSummary {
    return {
      windowS: this.windowS,
      windows: this.windows.map(row),
      byOrder: this.tenths.map((tenth, i) => {
        const first = this.firsts[i] as Histogram
        return {
          ...row(tenth),
          firstP50Ms: ms(first.getValueAtPercentile(50)),
          firstMaxMs: ms(first.maxValue),
        }
      }),
    }
  }
}

const ms = (micros: number) => Math.round(micros / 100) / 10

function row(h: Histogram): Row {
  return {
    requests: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    maxMs: ms(h.maxValue),
  }
}

export interface GcPauses {
  scavenges: number
  markCompacts: number
  /** The longest pause of each kind, in ms. */
  maxScavengeMs: number
  maxMarkCompactMs: number
}

/**
 * What `node --trace-gc` printed between two moments (ms since the process started, as it prints them):
 * `[pid:0x…]   12345 ms: Scavenge 10.1 (12.3) -> 9.8 (12.3) MB, 1.23 / 0.00 ms  (average mu = …) …`.
 */
export function gcPauses(trace: string, fromMs: number, toMs: number): GcPauses {
  const pauses: GcPauses = { scavenges: 0, markCompacts: 0, maxScavengeMs: 0, maxMarkCompactMs: 0 }
  // Node 24 and later put `pooled: 0.0 MB, ` before the pause.
  for (const match of trace.matchAll(
    /\s(\d+) ms: (Scavenge|Mark-Compact)\b[^,\n]*, (?:pooled: [\d.]+ MB, )?([\d.]+) /g,
  )) {
    const [, at, kind, pause] = match
    if (Number(at) < fromMs || Number(at) > toMs) continue
    if (kind === 'Scavenge') {
      pauses.scavenges++
      pauses.maxScavengeMs = Math.max(pauses.maxScavengeMs, Number(pause))
    } else {
      pauses.markCompacts++
      pauses.maxMarkCompactMs = Math.max(pauses.maxMarkCompactMs, Number(pause))
    }
  }
  return pauses
}

/** The summary as markdown tables. */
export function timelineTables(summary: TimelineSummary): string[] {
  const lines = [
    `| from s | requests | p50 ms | p99 ms | max ms |`,
    '|---:|---:|---:|---:|---:|',
    ...summary.windows.map(
      (w, i) => `| ${i * summary.windowS} | ${w.requests} | ${w.p50Ms} | ${w.p99Ms} | ${w.maxMs} |`,
    ),
    '',
    '| connections (opening order) | requests | p50 ms | p99 ms | max ms | first request p50 ms | first max ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...summary.byOrder.map(
      (o, i) =>
        `| ${i * 10}–${i * 10 + 10}% | ${o.requests} | ${o.p50Ms} | ${o.p99Ms} | ${o.maxMs} | ${o.firstP50Ms} | ${o.firstMaxMs} |`,
    ),
  ]
  return lines
}
