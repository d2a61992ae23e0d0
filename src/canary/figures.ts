// The canary's figures for the current interval: answers, failures and a latency histogram (HdrHistogram,
// two significant digits), taken and reset at each judgement. A failure is a 5xx from its upstream or a
// 502/504 the proxy made for it; a 4xx, a refused request and a client that went away are not (a client
// can never make the canary look bad), and a request the client abandoned is no answer at all.
import { createRequire } from 'node:module'
import type { Histogram } from 'hdr-histogram-js'
import type { RequestRecord } from '../forward/events.js'
import type { IntervalFigures } from './controller.js'

/** The longest latency the histogram tracks; longer ones count as this. */
const HIGHEST_MS = 3_600_000

// hdr-histogram-js (7 MB of memory) loads with the first canary's figures: a proxy without CANARY never
// needs it. It is CommonJS, so require() loads it at once, where a rollout starts.
let hdr: typeof import('hdr-histogram-js') | undefined
const library = () =>
  (hdr ??= createRequire(import.meta.url)('hdr-histogram-js') as typeof import('hdr-histogram-js'))

const histogram = () =>
  library().build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_MS,
    numberOfSignificantValueDigits: 2,
  })

/**
 * Figures as they travel between replicas (FLEET_STORE): counts, and the latencies as HdrHistogram's
 * compressed base64, so a fleet's p99 is read from the histograms merged, never from percentiles averaged.
 */
export interface EncodedFigures {
  answers: number
  failures: number
  /** Undefined with no answers. */
  latencies: string | undefined
}

/** Several replicas' figures as one: counts summed, histograms merged. */
export function mergeFigures(
  parts: readonly EncodedFigures[],
): IntervalFigures & { encoded: EncodedFigures } {
  const merged = histogram()
  let answers = 0
  let failures = 0
  for (const part of parts) {
    answers += part.answers
    failures += part.failures
    if (part.latencies !== undefined) merged.add(library().decodeFromCompressedBase64(part.latencies))
  }
  const latencies = merged.totalCount === 0 ? undefined : library().encodeIntoCompressedBase64(merged)
  const p99Ms = merged.totalCount === 0 ? null : merged.getValueAtPercentile(99)
  return { answers, failures, p99Ms, encoded: { answers, failures, latencies } }
}

export class CanaryFigures {
  private answers = 0
  private failures = 0
  private readonly latencies: Histogram = histogram()

  constructor(private readonly color: string) {}

  /** Counts a finished request if the canary served it. */
  done(record: RequestRecord): void {
    if (record.color !== this.color || record.failure === 'client_gone') return
    this.answers++
    if (record.status >= 500) this.failures++
    this.latencies.recordValue(Math.min(HIGHEST_MS, Math.max(1, Math.round(record.durationMs))))
  }

  /** The figures since the last reset. */
  peek(): IntervalFigures {
    return {
      answers: this.answers,
      failures: this.failures,
      p99Ms: this.answers === 0 ? null : this.latencies.getValueAtPercentile(99),
    }
  }

  /** The next interval starts from zero. */
  reset(): void {
    this.answers = 0
    this.failures = 0
    this.latencies.reset()
  }

  /** The figures since the last reset, for another replica to merge. */
  encode(): EncodedFigures {
    const latencies = this.answers === 0 ? undefined : library().encodeIntoCompressedBase64(this.latencies)
    return { answers: this.answers, failures: this.failures, latencies }
  }

  /** This interval's figures; the next interval starts from zero. */
  take(): IntervalFigures {
    const figures = this.peek()
    this.reset()
    return figures
  }
}
