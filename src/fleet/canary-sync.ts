// One site's canary in the fleet (FLEET_STORE): every replica hands its answers to the interval counting
// now and reads the fleet's status; the replica holding the lease also judges. It closes the interval once
// its end is past (plus one sync, so every replica's last answers are in), merges every replica's figures
// (counts summed, HdrHistograms merged), runs the same controller (canary/controller.ts) and writes the new
// status, which every replica then follows within a sync. A new holder continues from the stored status:
// a step is never repeated or skipped. A canary is known by its site, its colors and its rules, so a new
// rollout never inherits an old one's status; the store forgets one no replica has run for a minute.
import { createHash } from 'node:crypto'
import type { SiteConfig } from '../config/load.js'
import { type CanaryStatus, isDue, judge } from '../canary/controller.js'
import { mergeFigures } from '../canary/figures.js'
import type { Rollout } from '../canary/rollout.js'
import type { FleetRedis } from './scripts.js'

/** How long the store keeps a canary's status once no replica runs it. */
export const FORGET_MS = 60_000

/** The fleet's status of one canary, as stored. */
export interface FleetCanaryState {
  status: CanaryStatus
  /** The member that wrote it (the lease's holder then). */
  by: string
  /** The replicas running this canary when it was judged. */
  replicas: number
}

/** The store's name for one site's canary: the same only for the same colors, weights and rules. */
export function canaryKey(site: SiteConfig): string | undefined {
  const { canary } = site
  if (canary === undefined) return undefined
  const colors = site.colors.map((color) => [color.name, color.weight, color.upstream.href])
  const id = createHash('sha256').update(JSON.stringify({ canary, colors })).digest('base64url').slice(0, 16)
  return `canary:${site.name}:${id}`
}

export class CanarySync {
  /** Who holds the lease, as last read. */
  leader: string | undefined
  constructor(
    readonly base: string,
    private readonly rollout: Rollout,
    private readonly me: string,
    private readonly options: { leaseMs: number; graceMs: number },
  ) {}

  /** One sync: hand over, read, judge if this replica leads and it is due, follow. */
  async sync(redis: FleetRedis, now: number, replicas: number): Promise<void> {
    const given = this.rollout.handOver()
    const [leads, [stored, holder]] = await Promise.all([
      redis.lease(`${this.base}:lease`, this.me, this.options.leaseMs),
      redis.fleetPush(this.base, given.answers, given.failures, given.latencies ?? '', FORGET_MS),
    ])
    this.leader = holder ?? undefined
    let state = stored === null ? undefined : (JSON.parse(stored) as FleetCanaryState)
    if (leads === 1) state = await this.lead(redis, state, now, replicas)
    if (state === undefined) return
    const whose = state.replicas === 1 ? '1 replica' : `${state.replicas} replicas`
    this.rollout.follow(state.status, ` (the fleet's figures: ${whose}, judged by ${state.by})`)
  }

  /** The holder's part: the first status of a new canary, or a judgement when one is due. */
  private async lead(
    redis: FleetRedis,
    state: FleetCanaryState | undefined,
    now: number,
    replicas: number,
  ): Promise<FleetCanaryState | undefined> {
    if (state === undefined) {
      // None stored (a new canary, or a store that came back empty): this replica's own status.
      return this.write(redis, { status: this.rollout.status(), by: this.me, replicas }, undefined)
    }
    if (!isDue(state.status, now - this.options.graceMs)) return state
    const closed = await redis.fleetRotate(this.base, this.me, FORGET_MS)
    if (closed === null) return state
    const [answers, failures, latencies] = closed
    const figures = mergeFigures([
      { answers: Number(answers), failures: Number(failures), latencies: undefined },
      ...latencies.map((one) => ({ answers: 0, failures: 0, latencies: one })),
    ])
    const status = judge(state.status, this.rollout.rules, now, figures)
    // A held step goes on counting: its answers carry into the interval that counts now.
    if (status.state === 'holding' && figures.answers > 0) {
      const { encoded } = figures
      await redis.fleetPush(this.base, encoded.answers, encoded.failures, encoded.latencies ?? '', FORGET_MS)
    }
    return this.write(redis, { status, by: this.me, replicas }, state)
  }

  private async write(
    redis: FleetRedis,
    next: FleetCanaryState,
    before: FleetCanaryState | undefined,
  ): Promise<FleetCanaryState | undefined> {
    const written = await redis.fleetWrite(this.base, this.me, JSON.stringify(next), FORGET_MS)
    return written === 1 ? next : before
  }
}
