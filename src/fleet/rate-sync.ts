// RATE_LIMIT_SHARED for one site: the fleet keeps one token bucket per client key in the store (Redis's
// clock, one script for every key a sync has), and each replica's own buckets are a copy of it, set every
// sync to what the fleet's has left. So a request never waits for the store, and a client spread over the
// replicas gets about one replica's budget, plus what the replicas let through before their next sync (at
// most a burst each, the first time they see a client). Keys are stored hashed: an API key used as
// RATE_LIMIT_BY's header never reaches the store.
import { createHash } from 'node:crypto'
import type { RateLimitRule } from '../config/sites.js'
import type { SharedRateLimit } from '../listen/rate-limit.js'
import type { FleetRedis } from './scripts.js'

export class RateSync {
  /** A key no replica has spent from for this long is gone from the store: its bucket would be full. */
  private readonly expireMs: number

  constructor(
    private readonly site: string,
    private readonly rule: RateLimitRule,
    private readonly limit: SharedRateLimit,
    syncMs: number,
  ) {
    this.expireMs = Math.ceil((rule.burst / rule.rate) * 1000) + 4 * syncMs
  }

  async sync(redis: FleetRedis): Promise<void> {
    const used = this.limit.drain()
    if (used.size === 0) return
    const names = [...used.keys()]
    const stored = names.map((name) => this.storedKey(name))
    const counts = names.map((name) => used.get(name) as number)
    const { rate, burst } = this.rule
    const left = await redis.fleetSpend(stored.length, ...stored, rate, burst, this.expireMs, ...counts)
    names.forEach((name, index) => this.limit.settle(name, Number(left[index])))
  }

  private storedKey(name: string): string {
    return `rate:${createHash('sha256').update(`${this.site}\n${name}`).digest('base64url').slice(0, 22)}`
  }
}
