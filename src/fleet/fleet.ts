// FLEET_STORE: this process as one member of the fleet. Every SYNC_MS, in the background and as one
// pipeline: its membership record (who, since when, each site's step and traffic) is written with a short
// expiry and every live member's read back; each site's canary syncs (canary-sync.ts) and each shared rate
// limit (rate-sync.ts). A sync that fails leaves every replica serving on what it knew: the canaries judge
// alone (said once) until a sync succeeds again, and then they rejoin the fleet's status.
import type { Logger } from '../../lib/logger.js'
import type { FleetConfig } from '../config/load.js'
import type { CanaryState } from '../canary/controller.js'
import type { Rollout } from '../canary/rollout.js'
import { LEASE_SCRIPTS } from '../store/lease.js'
import { openRedis, type RedisClient } from '../store/redis-client.js'
import { CanarySync } from './canary-sync.js'
import { RateSync } from './rate-sync.js'
import { FLEET_SCRIPTS, type FleetRedis } from './scripts.js'
import type { RateLimitRule } from '../config/sites.js'
import type { SharedRateLimit } from '../listen/rate-limit.js'

/** How often a member syncs: a new step reaches every replica within this, plus one round trip. */
export const SYNC_MS = 500
/** The controller's lease, renewed at every sync: another replica takes over within this and a sync once its holder dies. */
export const LEASE_MS = 2500
/** A member not seen for this long is gone from the fleet. */
export const MEMBER_TTL_MS = 3000
/** How long start() waits for the first sync, so a replica started late joins at the fleet's step. */
export const FIRST_SYNC_MS = 2500

/** One site of this process, as the fleet needs it. */
export interface FleetSite {
  name: string
  /** Its canary's key in the store (canary-sync.ts canaryKey) and rollout; undefined: none. */
  canary?: { key: string; rollout: Rollout }
  /** RATE_LIMIT_SHARED: its rule and buckets. */
  rateLimit?: { rule: RateLimitRule; shared: SharedRateLimit }
  /** Requests served since start, and per second over the last 10 s. */
  traffic(): { requests: number; rate: number }
}

/** What each member says of itself. */
export interface MemberRecord {
  id: string
  host: string
  pid: number
  startedAt: string
  sites: {
    site: string
    requests: number
    rate: number
    canary?: { key: string; step: number; share: number; state: CanaryState }
  }[]
}

/** The fleet as /config, /metrics and the stats page show it. */
export interface FleetView {
  name: string
  store: string
  /** This member's id. */
  me: string
  /** The last sync succeeded. */
  reachable: boolean
  rateLimitShared: boolean
  members: MemberRecord[]
  /** Each canary's leader (the lease's holder), by site. */
  leaders: Record<string, string | null>
  totals: { members: number; requests: number; rate: number }
}

export interface Fleet {
  /** Resolves after the first sync (or FIRST_SYNC_MS): the canaries follow the fleet's status by then. */
  start(): Promise<void>
  view(): FleetView
  close(): Promise<void>
}

export function startFleet(
  config: FleetConfig,
  sites: readonly FleetSite[],
  deps: { logger: Logger; now: () => number; host: string; pid: number },
): Fleet {
  return new Member(config, sites, deps)
}

class Member implements Fleet {
  private readonly me: string
  private readonly connection: RedisClient<FleetRedis>
  private readonly canaries: { site: FleetSite; sync: CanarySync }[]
  private readonly rates: RateSync[]
  private readonly startedAt: string
  private members: MemberRecord[] = []
  /** Undefined before the first sync has ended either way. */
  private joined: boolean | undefined
  private syncing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly config: FleetConfig,
    private readonly sites: readonly FleetSite[],
    private readonly deps: { logger: Logger; now: () => number; host: string; pid: number },
  ) {
    this.me = `${deps.host}/${deps.pid}`
    this.connection = openRedis<FleetRedis>(config.store, {
      prefix: `${config.name}:`,
      logger: deps.logger,
      who: 'fleet',
      meanwhile: 'each replica judges its canary alone on what it last knew',
      scripts: { ...LEASE_SCRIPTS, ...FLEET_SCRIPTS },
      autoPipelining: true,
    })
    const lease = { leaseMs: LEASE_MS, graceMs: SYNC_MS }
    this.canaries = sites.flatMap((site) =>
      site.canary
        ? [{ site, sync: new CanarySync(site.canary.key, site.canary.rollout, this.me, lease) }]
        : [],
    )
    this.rates = sites.flatMap((site) =>
      site.rateLimit ? [new RateSync(site.name, site.rateLimit.rule, site.rateLimit.shared, SYNC_MS)] : [],
    )
    this.startedAt = new Date(deps.now()).toISOString()
  }

  async start(): Promise<void> {
    let waited: NodeJS.Timeout | undefined
    const bound = new Promise((resolve) => (waited = setTimeout(resolve, FIRST_SYNC_MS)))
    await Promise.race([this.once(), bound])
    clearTimeout(waited)
    this.timer = setInterval(() => this.once(), SYNC_MS)
    this.timer.unref()
  }

  view(): FleetView {
    const traffic = this.members.flatMap((member) => member.sites)
    const sum = (key: 'requests' | 'rate') => traffic.reduce((total, site) => total + site[key], 0)
    return {
      name: this.config.name,
      store: this.config.store.shown,
      me: this.me,
      reachable: this.joined === true,
      rateLimitShared: this.config.rateLimitShared,
      members: this.members,
      leaders: Object.fromEntries(this.canaries.map(({ site, sync }) => [site.name, sync.leader ?? null])),
      totals: {
        members: this.members.length,
        requests: sum('requests'),
        rate: Math.round(sum('rate') * 10) / 10,
      },
    }
  }

  /**
   * Leaves the fleet: the leases this member holds given up and its record gone, so no one waits a lease or
   * an expiry for them; resolves once that is done or failed (a store that is down has nothing to leave).
   */
  async close(): Promise<void> {
    clearInterval(this.timer)
    const redis = await this.connection.client
    if (this.connection.reachable() === true) {
      const leases = this.canaries.map(({ sync }) => redis.release(`${sync.base}:lease`, this.me))
      const record = [redis.del(`member:${this.me}`), redis.zrem('members', this.me)]
      await Promise.all([...leases, ...record]).catch(() => undefined)
    }
    this.connection.close()
  }

  /** One sync at a time: a tick while one is under way (a slow store) is skipped. */
  private once(): Promise<void> {
    this.syncing ??= this.sync()
      .then(
        () => this.told(true),
        (error: Error) => this.told(false, error),
      )
      .finally(() => {
        this.syncing = undefined
      })
    return this.syncing
  }

  private async sync(): Promise<void> {
    const redis = await this.connection.client
    const now = this.deps.now()
    const beat = redis.fleetBeat('members', 'member:', this.me, JSON.stringify(this.record()), MEMBER_TTL_MS)
    // Issued together: ioredis sends them as one pipeline.
    const rest = [
      ...this.canaries.map(({ sync }) => sync.sync(redis, now, Math.max(1, this.running(sync.base)))),
      ...this.rates.map((one) => one.sync(redis)),
    ]
    const [records] = await Promise.all([beat, ...rest])
    this.members = records.map((text) => JSON.parse(text) as MemberRecord).sort(byId)
  }

  /** The members running the canary stored under `key`, as last read. */
  private running(key: string): number {
    return this.members.filter((member) => member.sites.some((site) => site.canary?.key === key)).length
  }

  private record(): MemberRecord {
    const { host, pid } = this.deps
    const sites = this.sites.map((site) => {
      const status = site.canary?.rollout.status()
      const canary = status && {
        key: site.canary?.key as string,
        step: status.step + 1,
        share: status.share,
        state: status.state,
      }
      return { site: site.name, ...site.traffic(), ...(canary && { canary }) }
    })
    return { id: this.me, host, pid, startedAt: this.startedAt, sites }
  }

  /** Joined, lost, rejoined: each said once; lost sets every canary judging alone. */
  private told(ok: boolean, error?: Error): void {
    if (this.joined === ok) return
    const first = this.joined === undefined
    this.joined = ok
    const { logger } = this.deps
    if (ok) {
      const alive = this.members.length
      const line = `fleet: ${first ? 'joined' : 'rejoined'} ${this.config.name} as ${this.me}, ${alive} alive`
      logger.info({ fleet: this.config.name, id: this.me, members: alive }, line)
      return
    }
    for (const { site } of this.canaries) site.canary?.rollout.judgeAlone()
    // Unreachable is said by the connection; anything else that failed a sync is said here, once.
    if (this.connection.reachable() !== true) return
    const message = error?.message
    logger.warn(
      { err: { message } },
      `fleet: a sync failed (${message}); each canary judges alone until one succeeds`,
    )
  }
}

const byId = (a: MemberRecord, b: MemberRecord) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
