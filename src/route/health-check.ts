// Active health checks (HEALTH_CHECK_*): every interval, each address of a color (every task behind
// `tasks.<service>`) gets `GET <HEALTH_CHECK_PATH>` on a connection of its own. HEALTH_CHECK_FAILS failures
// in a row (no answer within HEALTH_CHECK_TIMEOUT, a refused connection, a status of 400 or more) take the
// address out of its color's rotation; HEALTH_CHECK_PASSES answers in a row bring it back. Passive
// ejection (ejection.ts) still counts connect failures beside it: a task that hangs, or answers 5xx, is
// found before clients pay for it (as Traefik's, HAProxy's, Envoy's and Caddy's active checks do).
import { http } from '../../lib/node-http.js'
import https from 'node:https'
import type { HealthRules } from '../config/sites.js'
import type { Endpoint, Upstream } from '../upstream/color-pools.js'

/**
 * After each check of an address: whether it is in rotation, whether that just changed, and why (the last
 * check's failure, or `passed`).
 */
export type HealthListener = (address: string, healthy: boolean, changed: boolean, reason: string) => void

interface Tally {
  fails: number
  passes: number
}

export interface HealthCheck {
  close(): void
}

/** Checks every address of `upstream` each interval until closed; told of every change. */
export function startHealthCheck(
  upstream: Upstream,
  rules: HealthRules,
  changed: HealthListener,
): HealthCheck {
  const tallies = new WeakMap<Endpoint, Tally>()
  let closed = false
  const round = async () => {
    const endpoints = await upstream.current().catch(() => [])
    await Promise.all(
      endpoints.map(async (endpoint) => {
        const failure = await probe(upstream, endpoint, rules)
        if (closed) return
        const tally = tallies.get(endpoint) ?? { fails: 0, passes: 0 }
        tallies.set(endpoint, tally)
        judge(endpoint, tally, failure, rules, changed)
      }),
    )
  }
  let timer: NodeJS.Timeout | undefined
  const schedule = () => {
    if (closed) return
    timer = setTimeout(() => void round().then(schedule), rules.intervalMs)
    timer.unref()
  }
  void round().then(schedule)
  return {
    close() {
      closed = true
      clearTimeout(timer)
    },
  }
}

function judge(
  endpoint: Endpoint,
  tally: Tally,
  failure: string | undefined,
  rules: HealthRules,
  told: HealthListener,
): void {
  const was = endpoint.healthy
  if (failure === undefined) {
    tally.fails = 0
    tally.passes++
    if (!was && tally.passes >= rules.passes) endpoint.healthy = true
  } else {
    tally.passes = 0
    tally.fails++
    if (was && tally.fails >= rules.fails) endpoint.healthy = false
  }
  told(endpoint.address, endpoint.healthy, endpoint.healthy !== was, failure ?? 'passed')
}

/** One check: undefined when it passed, else why it failed. */
function probe(upstream: Upstream, endpoint: Endpoint, rules: HealthRules): Promise<string | undefined> {
  const { target } = endpoint
  const secure = target.protocol === 'https:'
  return new Promise((resolve) => {
    const req = (secure ? https : http).request({
      host: endpoint.address,
      port: target.port,
      path: `${target.pathname.replace(/\/+$/, '')}${rules.path}`,
      headers: { host: upstream.host, 'user-agent': 'colorproxy-health-check' },
      agent: false,
      timeout: rules.timeoutMs,
      ...endpoint.tls,
    })
    req.once('timeout', () => req.destroy(new Error(`no answer within ${rules.timeoutMs} ms`)))
    req.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    req.once('response', (res) => {
      res.resume()
      const status = res.statusCode as number
      resolve(status < 400 ? undefined : `status ${status}`)
    })
    req.end()
  })
}
