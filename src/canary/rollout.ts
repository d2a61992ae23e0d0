// A site's canary, running: the controller (controller.ts) on a timer, judging the figures (figures.ts)
// at the end of each interval, and the canary's share applied to the site's colors as weights: the canary
// gets its share of new traffic, the baseline colors the rest by their configured weights. A change bumps
// the version the router's picker rebuilds on, is logged with the figures that decided it, and is told to
// whoever listens (metrics, /healthz). With FLEET_STORE the fleet (fleet/canary-sync.ts) judges: the rollout
// then follows the fleet's status, hands over its answers in the background, and judges alone again only
// while the store cannot be reached.
import type { Logger } from '../../lib/logger.js'
import {
  type CanaryRules,
  type CanaryStatus,
  type CanaryView,
  canaryView,
  describe,
  isDue,
  judge,
  startCanary,
} from './controller.js'
import { CanaryFigures, type EncodedFigures } from './figures.js'
import type { RequestRecord } from '../forward/events.js'
import type { Weighted } from '../route/weights.js'

export interface Rollout {
  readonly color: string
  status(): CanaryStatus
  /** For the stats page. */
  view(): CanaryView
  /** Changes whenever the canary's share does. */
  version(): number
  /** A request is over: counted if the canary answered it (mirrored answers too). */
  done(record: RequestRecord): void
  readonly rules: CanaryRules
  /** FLEET_STORE: the answers since the last call, for the fleet to sum; the next call starts from zero. */
  handOver(): EncodedFigures
  /**
   * FLEET_STORE: the fleet's status, applied as if judged here; `how` ends its log line (whose figures they
   * were). The local timer stops judging until judgeAlone().
   */
  follow(status: CanaryStatus, how: string): void
  /** The store is unreachable: judge alone again, from the status last followed and the answers since. */
  judgeAlone(): void
  close(): void
}

export interface RolloutOptions {
  site: string
  logger: Logger
  now: () => number
  /** Told every change of state or share (the metrics, CANARY_ABORT_HEALTH). */
  changed(status: CanaryStatus): void
}

/** Weights are percent × this, so a share of 5% against a baseline of three colors stays exact enough. */
const SCALE = 100

export function startRollout(
  canary: { color: string; rules: CanaryRules },
  colors: readonly Weighted[],
  options: RolloutOptions,
): Rollout {
  return new Running(canary.color, canary.rules, sharesAsWeights(canary.color, colors), options)
}

/** Sets the colors' weights so the canary gets `share` percent and the baseline the rest, as configured. */
function sharesAsWeights(color: string, colors: readonly Weighted[]): (share: number) => void {
  const configured = new Map(colors.map((one) => [one.name, one.weight]))
  const baseline = colors.filter((one) => one.name !== color && one.weight > 0)
  const baselineTotal = baseline.reduce((sum, one) => sum + one.weight, 0)
  return (share) => {
    for (const one of colors) {
      if (one.name === color) one.weight = share * SCALE
      else if (baseline.includes(one)) {
        one.weight = ((100 - share) * SCALE * (configured.get(one.name) as number)) / baselineTotal
      }
    }
  }
}

class Running implements Rollout {
  private readonly figures: CanaryFigures
  /** What the fleet has not been given yet: made at the first handOver() (FLEET_STORE), else never. */
  private handed: CanaryFigures | undefined
  private current: CanaryStatus
  private changes = 0
  private timer: NodeJS.Timeout | undefined
  /** Judging here, on this replica's figures: always without FLEET_STORE, else while the store is away. */
  private alone = true
  /** With SITES, each site's lines say whose canary it is, as the startup lines do. */
  private readonly label: string
  /** FLEET_STORE: the fleet's status has been followed once (a replica started late joins it). */
  private joined = false

  constructor(
    readonly color: string,
    readonly rules: CanaryRules,
    private readonly apply: (share: number) => void,
    private readonly options: RolloutOptions,
  ) {
    this.figures = new CanaryFigures(color)
    this.label = options.site === 'default' ? '' : `${options.site}: `
    this.current = startCanary(rules, options.now())
    this.applyShare()
    options.changed(this.current)
    options.logger.info(
      { site: options.site, color, state: this.current.state, share_percent: this.current.share },
      `${this.label}canary ${color} starts at ${this.current.share}%, judged every ${rules.intervalMs} ms`,
    )
    this.schedule()
  }

  status = (): CanaryStatus => this.current
  view = (): CanaryView => canaryView(this.color, this.rules, this.current, this.options.now())
  version = (): number => this.changes

  done(record: RequestRecord): void {
    this.figures.done(record)
    this.handed?.done(record)
  }

  handOver(): EncodedFigures {
    this.handed ??= new CanaryFigures(this.color)
    const given = this.handed.encode()
    this.handed.reset()
    return given
  }

  follow(next: CanaryStatus, how: string): void {
    this.alone = false
    clearTimeout(this.timer)
    if (!this.joined) return this.join(next)
    const judged = next.last?.at !== this.current.last?.at
    if (!judged && next.step === this.current.step && next.state === this.current.state) {
      this.current = next
      return
    }
    // A new judgement by the fleet: this replica's own count starts again with the fleet's interval.
    if (judged && next.state !== 'holding') this.figures.reset()
    this.become(next, undefined, how)
  }

  judgeAlone(): void {
    this.alone = true
    this.schedule()
  }

  close(): void {
    clearTimeout(this.timer)
  }

  /** The first status from the fleet: this replica starts where the fleet is, said once if that is not the start. */
  private join(next: CanaryStatus): void {
    this.joined = true
    this.figures.reset()
    const where = `${next.state} at ${next.share}%, step ${next.step + 1} of ${this.rules.steps.length}`
    this.become(next, (before) =>
      next.step === before.step && next.state === before.state
        ? undefined
        : `canary ${this.color} joins the fleet's rollout: ${where}`,
    )
  }

  private applyShare(): void {
    this.apply(this.current.share)
    this.changes++
  }

  private schedule(): void {
    clearTimeout(this.timer)
    if (!this.alone || !isDue(this.current, Number.POSITIVE_INFINITY)) return
    this.timer = setTimeout(() => this.tick(), Math.max(0, this.current.judgeAt - this.options.now()))
    this.timer.unref()
  }

  private tick(): void {
    const now = this.options.now()
    if (!isDue(this.current, now)) return this.schedule()
    const next = judge(this.current, this.rules, now, this.figures.peek())
    // A held step goes on counting: its next judgement covers every answer since the step began.
    if (next.state !== 'holding') this.figures.reset()
    this.become(next)
    this.schedule()
  }

  /**
   * The status is now `next`: its share applied, and a line and a tell when it changed. `say` words the
   * line (none: nothing to tell); by default the controller's, with `how` after it.
   */
  private become(
    next: CanaryStatus,
    say: (before: CanaryStatus) => string | undefined = (before) => describe(this.color, before, next),
    how = '',
  ): void {
    const before = this.current
    this.current = next
    if (next.share !== before.share) this.applyShare()
    const said = say(before)
    if (said === undefined) return
    const { site, logger } = this.options
    const fields = { site, color: this.color, state: next.state, share_percent: next.share }
    const log = next.state === 'aborted' ? logger.warn : logger.info
    log.call(logger, { ...fields, ...next.last }, `${this.label}${said}${how}`)
    this.options.changed(next)
  }
}
