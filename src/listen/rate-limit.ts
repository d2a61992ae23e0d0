// RATE_LIMIT: requests per second per client, a token bucket of RATE_LIMIT_BURST keyed by RATE_LIMIT_BY
// (nginx limit_req, Traefik RateLimit). The buckets are the `limiter` package's TokenBucket: chosen by
// measurement on the hot path, its synchronous tryRemoveTokens() costs 160 ns a request with the lookup,
// against 470–580 ns and a promise for rate-limiter-flexible's RateLimiterMemory (1,000 keys, Node 20 and
// 26), and it is a token bucket where rate-limiter-flexible counts fixed windows. Memory is bounded: the
// buckets live in an LRU of MAX_CLIENTS keys (lru-cache); a client evicted from it starts with a full
// bucket again. The bucket keeps its own monotonic clock (performance.now()): tests pin behaviour by the
// rates they choose, not by the clock.
import type { IncomingMessage } from 'node:http'
import { TokenBucket } from 'limiter'
import { LRUCache } from 'lru-cache'
import type { RateLimitRule } from '../config/sites.js'
import type { RateKey } from '../config/validators.js'

/** Client keys remembered at once, per site: about 300 bytes each. */
export const MAX_CLIENTS = 100_000

/** undefined: the request may pass; a number: refused, with the seconds to say in Retry-After. */
export type RateLimit = (req: IncomingMessage, client: string) => number | undefined

export function createRateLimit(rule: RateLimitRule, maxClients = MAX_CLIENTS): RateLimit {
  const bucketOf = buckets(rule, maxClients)
  const key = keyOf(rule.by)
  return (req, client) => {
    const bucket = bucketOf(key(req, client))
    if (bucket.tryRemoveTokens(1)) return undefined
    return Math.max(1, Math.ceil(bucket.getWaitTime(1) / 1000))
  }
}

/** At most this many client keys are handed to the fleet per sync; the rest are limited by this replica alone. */
export const MAX_SHARED_KEYS = 10_000

/**
 * RATE_LIMIT_SHARED: the same buckets, and the fleet's side of them (fleet/rate-sync.ts): what each key
 * was let through since the last sync, and a key's bucket set to what the fleet's has left.
 */
export interface SharedRateLimit {
  limit: RateLimit
  /** Each key's requests let through since the last call. */
  drain(): Map<string, number>
  /**
   * The fleet's bucket for this key has `tokens` left (negative: a debt) after what was drained: this
   * replica's holds that, less what it has let through since the drain.
   */
  settle(key: string, tokens: number): void
}

export function createSharedRateLimit(rule: RateLimitRule, maxClients = MAX_CLIENTS): SharedRateLimit {
  const bucketOf = buckets(rule, maxClients)
  const key = keyOf(rule.by)
  let used = new Map<string, number>()
  return {
    limit(req, client) {
      const name = key(req, client)
      const bucket = bucketOf(name)
      if (!bucket.tryRemoveTokens(1)) return Math.max(1, Math.ceil(bucket.getWaitTime(1) / 1000))
      const before = used.get(name)
      if (before !== undefined) used.set(name, before + 1)
      else if (used.size < MAX_SHARED_KEYS) used.set(name, 1)
      return undefined
    },
    drain() {
      const drained = used
      used = new Map()
      return drained
    },
    settle(name, tokens) {
      const bucket = bucketOf(name)
      bucket.drip()
      // A debt is kept, not floored at zero: tokens already given out count against what comes next.
      bucket.content = Math.max(-rule.burst, tokens - (used.get(name) ?? 0))
    },
  }
}

/** Each client key's bucket, made full on first sight, in an LRU of `maxClients`. */
function buckets(rule: RateLimitRule, maxClients: number): (name: string) => TokenBucket {
  const known = new LRUCache<string, TokenBucket>({ max: maxClients })
  return (name) => {
    let bucket = known.get(name)
    if (bucket === undefined) {
      bucket = new TokenBucket({ bucketSize: rule.burst, tokensPerInterval: rule.rate, interval: 1000 })
      // A new bucket starts empty and fills over a second; a new client may send its whole burst at once.
      bucket.content = rule.burst
      known.set(name, bucket)
    }
    return bucket
  }
}

/** `ip`: the client address (after TRUSTED_PROXIES and PROXY_PROTOCOL); `header:X-Api-Key`, else the address. */
function keyOf(by: RateKey): (req: IncomingMessage, client: string) => string {
  if (by.mode === 'ip') return (_req, client) => client
  const name = by.header.toLowerCase()
  return (req, client) => {
    const value = req.headers[name]
    const first = Array.isArray(value) ? value[0] : value
    return first === undefined || first === '' ? `ip ${client}` : `header ${first}`
  }
}
