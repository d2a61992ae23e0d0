// Reads what wrk prints (`wrk --latency`) into numbers, and the median the bench reports.

export interface LoadResult {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** Answers that were not 2xx/3xx, and socket errors (connect, read, write, timeout). */
  errors: number
  /** Connections the load tool could not open (wrk's `connect`; 0 where the tool does not say). */
  connectErrors: number
  requests: number
}

const UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 }

/** `1.23ms` → 1.23, `850.00us` → 0.85. */
export function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim())
  if (!match) throw new Error(`not a wrk duration: ${JSON.stringify(text)}`)
  return Number(match[1]) * (UNITS_MS[match[2] as string] as number)
}

/** Parses wrk's report; throws when a line the bench needs is missing (wrk failed, or changed format). */
export function parseWrk(output: string): LoadResult {
  const find = (pattern: RegExp, what: string): string => {
    const match = pattern.exec(output)
    if (!match) throw new Error(`wrk's output has no ${what}:\n${output}`)
    return match[1] as string
  }
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output)
  return {
    requestsPerSecond: Number(find(/^Requests\/sec:\s+([\d.]+)/m, 'Requests/sec line')),
    p50Ms: durationMs(find(/^\s+50%\s+(\S+)/m, '50% latency (was --latency given?)')),
    p99Ms: durationMs(find(/^\s+99%\s+(\S+)/m, '99% latency')),
    requests: Number(find(/^\s+(\d+) requests in /m, 'request count')),
    connectErrors: Number(socketErrors?.[1] ?? 0),
    errors:
      Number(non2xx?.[1] ?? 0) +
      (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
  }
}

/** The median; the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/**
 * What h2load prints: `finished in 5.00s, 9876.20 req/s, …`, `requests: … N succeeded, F failed, E errored,
 * T timeout`, and `time for request: min max mean sd` (no percentiles: p50 is the mean, p99 unknown).
 */
export function parseH2load(output: string): LoadResult {
  const rate = /finished in [\d.]+s, ([\d.]+) req\/s/.exec(output)
  const counts =
    /requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      output,
    )
  const mean = /time for request:\s+\S+\s+\S+\s+(\d+(?:\.\d+)?)(us|ms|s)/.exec(output)
  const number = (match: RegExpExecArray | null, i: number) => Number(match?.[i] ?? Number.NaN)
  return {
    requestsPerSecond: number(rate, 1),
    p50Ms: mean ? Number(mean[1]) * (UNITS_MS[mean[2] as string] ?? Number.NaN) : Number.NaN,
    p99Ms: Number.NaN,
    errors: number(counts, 2) + number(counts, 3) + number(counts, 4),
    connectErrors: 0,
    requests: number(counts, 1),
  }
}
