// RATE_LIMIT_SHARED for one site: every sync, what this replica let through per client key is added to
// the fleet's count for that key (one INCRBY each, in one script), and what the count grew by beyond this
// replica's own share (the other replicas' requests) comes off the key's bucket here. A request never
// waits for this; a client spread over the replicas gets about one replica's budget, plus what the
// replicas let through in one sync before they hear of each other. A replica that sees a key for the first
// time, or again after a bucket's refill time, counts the others' from then on (an honest client is never
// refused for history). Keys are stored hashed: an API key used as RATE_LIMIT_BY's header never reaches
// the store.
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { RateLimitRule } from '../config/sites.js'
import { MAX_CLIENTS, type SharedRateLimit } from '../listen/rate-limit.js'
import type { FleetRedis } from './scripts.js'

export class RateSync {
  /**
   * Each stored key's fleet total as this replica last saw it, for as long as a bucket takes to refill:
   * what others let through before that no longer matters here.
   */
  private readonly seen: LRUCache<string, number>
  /** A key no replica has used for this long is gone from the store: a bucket refills in that time. */
  private readonly expireMs: number

  constructor(
    private readonly site: string,
    rule: RateLimitRule,
    private readonly limit: SharedRateLimit,
    syncMs: number,
  ) {
    this.expireMs = Math.ceil((rule.burst / rule.rate) * 1000) + 4 * syncMs
    this.seen = new LRUCache({ max: MAX_CLIENTS, ttl: this.expireMs })
  }

  async sync(redis: FleetRedis): Promise<void> {
    const used = this.limit.drain()
    if (used.size === 0) return
    const names = [...used.keys()]
    const stored = names.map((name) => this.storedKey(name))
    const counts = names.map((name) => used.get(name) as number)
    const totals = await redis.fleetSpend(stored.length, ...stored, this.expireMs, ...counts)
    names.forEach((name, index) => {
      const key = stored[index] as string
      const total = totals[index] as number
      const before = this.seen.get(key)
      this.seen.set(key, total)
      if (before === undefined) return
      const others = total - before - (counts[index] as number)
      if (others > 0) this.limit.taken(name, others)
    })
  }

  private storedKey(name: string): string {
    return `rate:${createHash('sha256').update(`${this.site}\n${name}`).digest('base64url').slice(0, 22)}`
  }
}
