// Reads what `autocannon --json` prints into the numbers the bench reports: the fallback when wrk is not
// installed (autocannon is a Node program, so it costs more CPU per request than wrk; the output says so).
import type { LoadResult } from './wrk.js'

interface AutocannonJson {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
  latency: { p50: number; p99: number }
  requests: { total: number }
}

export function parseAutocannon(output: string): LoadResult {
  const result = JSON.parse(output) as AutocannonJson
  return {
    requestsPerSecond: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx,
    connectErrors: 0,
  }
}
