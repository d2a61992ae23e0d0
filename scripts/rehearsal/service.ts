// A Swarm service on one machine: N replicas behind a Front, and `docker service update` with
// parallelism 1, start-first or stop-first, rolling back when a new replica exits or is never ready.
import type { Front } from './front.js'
import { type Program, Replica } from './replica.js'

export type Order = 'start-first' | 'stop-first'

/**
 * `--update-monitor`: after the new replicas are in, Swarm watches their health check this long; a replica
 * unhealthy `retries` checks in a row fails the update, and `--update-failure-action rollback` rolls the
 * whole service back. `parallelism: 0` replaces every replica at once (`--update-parallelism 0`).
 */
export interface Monitor {
  monitorMs: number
  healthEveryMs: number
  retries: number
  parallelism?: 0 | 1
}

/** Says what happened, as it happens: the rehearsal prints it as a timeline. */
export type Timeline = (event: string) => void

export interface ServiceOptions {
  /** How long a new replica may take to be ready (Swarm: the health check and --update-monitor). */
  readyWithinMs: number
  timeline: Timeline
}

export class Service {
  private replicas: Replica[] = []
  private env: Record<string, string> = {}
  private serial = 0

  constructor(
    readonly name: string,
    private readonly program: Program,
    readonly front: Front,
    private readonly options: ServiceOptions,
  ) {}

  /** `docker service create --replicas n` */
  async create(env: Record<string, string>, count: number): Promise<void> {
    this.env = env
    for (let i = 0; i < count; i++) await this.add(await this.startReplica(env))
  }

  /**
   * `docker service update` with the new environment, one replica at a time. Resolves true when the update
   * went through, false when it was rolled back (every replica back on the previous environment).
   */
  async update(env: Record<string, string>, order: Order, monitor?: Monitor): Promise<boolean> {
    const previous = this.env
    const old = [...this.replicas]
    const updated: Replica[] = []
    this.options.timeline(`${this.name}: update (${order}) to ${describe(env)}`)
    if (monitor?.parallelism === 0) return this.updateAll(env, previous, old, monitor)
    for (const replica of old) {
      try {
        if (order === 'start-first') {
          const next = await this.startReplica(env)
          await this.add(next)
          updated.push(next)
          await this.retire(replica)
        } else {
          await this.retire(replica)
          // The replica is gone whatever happens next: a rollback must put one back.
          updated.push(replica)
          const next = await this.startReplica(env)
          updated.pop()
          await this.add(next)
          updated.push(next)
        }
      } catch (error) {
        this.options.timeline(`${this.name}: update failed: ${(error as Error).message}`)
        await this.rollback(previous, updated)
        return false
      }
    }
    if (monitor && !(await this.watch(updated, monitor))) {
      await this.rollback(previous, updated)
      return false
    }
    this.env = env
    this.options.timeline(`${this.name}: update complete`)
    return true
  }

  /** `--update-parallelism 0 --update-order start-first`: every new replica in, then the old ones out. */
  private async updateAll(
    env: Record<string, string>,
    previous: Record<string, string>,
    old: Replica[],
    monitor: Monitor,
  ): Promise<boolean> {
    const updated: Replica[] = []
    try {
      for (const next of await Promise.all(old.map(() => this.startReplica(env)))) {
        await this.add(next)
        updated.push(next)
      }
    } catch (error) {
      this.options.timeline(`${this.name}: update failed: ${(error as Error).message}`)
      for (const replica of updated) await this.retire(replica)
      return false
    }
    for (const replica of old) await this.retire(replica)
    if (!(await this.watch(updated, monitor))) {
      await this.rollback(previous, updated)
      return false
    }
    this.env = env
    this.options.timeline(`${this.name}: update complete`)
    return true
  }

  /** The monitor window: false as soon as one replica fails `retries` health checks in a row. */
  private async watch(replicas: readonly Replica[], monitor: Monitor): Promise<boolean> {
    const failures = new Map<Replica, number>()
    const until = Date.now() + monitor.monitorMs
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, monitor.healthEveryMs))
      for (const replica of replicas) {
        const failed = (await replica.healthy()) ? 0 : (failures.get(replica) ?? 0) + 1
        failures.set(replica, failed)
        if (failed >= monitor.retries) {
          this.options.timeline(
            `${this.name}: update failed: ${replica.id} unhealthy within --update-monitor`,
          )
          return false
        }
      }
    }
    return true
  }

  async remove(): Promise<void> {
    for (const replica of [...this.replicas]) await this.retire(replica)
  }

  private async rollback(previous: Record<string, string>, updated: Replica[]): Promise<void> {
    this.options.timeline(`${this.name}: rolling back to ${describe(previous)}`)
    for (const replica of updated) {
      await this.add(await this.startReplica(previous))
      if (this.replicas.includes(replica)) await this.retire(replica)
    }
    this.options.timeline(`${this.name}: rollback complete`)
  }

  private async startReplica(env: Record<string, string>): Promise<Replica> {
    const id = `${this.name}.${++this.serial}`
    this.options.timeline(`${id}: starting`)
    return Replica.start(id, this.program, env, this.options.readyWithinMs, (message) =>
      this.options.timeline(`${id}: ${message}`),
    )
  }

  /** Ready: into rotation. */
  private async add(replica: Replica): Promise<void> {
    this.replicas.push(replica)
    this.front.add(replica.id, this.front.tls ? replica.httpsPort : replica.port)
    this.options.timeline(`${replica.id}: ready, in rotation (${this.front.members.join(', ')})`)
  }

  /** Out of rotation for new connections first, then SIGTERM, then wait for it to exit. */
  private async retire(replica: Replica): Promise<void> {
    this.front.remove(replica.id)
    this.replicas = this.replicas.filter((other) => other !== replica)
    this.options.timeline(`${replica.id}: out of rotation, SIGTERM`)
    const code = await replica.stop('SIGTERM')
    this.options.timeline(`${replica.id}: exited ${code}`)
  }
}

/** The environment without the variables every replica shares, for the timeline. */
function describe(env: Record<string, string>): string {
  return (
    Object.entries(env)
      .filter(([name]) => !['LOG_LEVEL', 'SHUTDOWN_DELAY', 'SHUTDOWN_TIMEOUT'].includes(name))
      .map(([name, value]) => `${name}=${value.replace(/^http:\/\/127\.0\.0\.1:/, ':')}`)
      .join(' ') || '(nothing)'
  )
}
