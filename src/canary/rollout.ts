// A site's canary, running: the controller (controller.ts) on a timer, judging the figures (figures.ts)
// at the end of each interval, and the canary's share applied to the site's colors as weights: the canary
// gets its share of new traffic, the baseline colors the rest by their configured weights. A change bumps
// the version the router's picker rebuilds on, is logged with the figures that decided it, and is told to
// whoever listens (metrics, /healthz).
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
import { CanaryFigures } from './figures.js'
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
  const { color, rules } = canary
  // With SITES, each site's lines say whose canary it is, as the startup lines do.
  const label = options.site === 'default' ? '' : `${options.site}: `
  const configured = new Map(colors.map((one) => [one.name, one.weight]))
  const baseline = colors.filter((one) => one.name !== color && one.weight > 0)
  const baselineTotal = baseline.reduce((sum, one) => sum + one.weight, 0)
  const figures = new CanaryFigures(color)
  let status = startCanary(rules, options.now())
  let version = 0
  let timer: NodeJS.Timeout | undefined
  const apply = (share: number) => {
    for (const one of colors) {
      if (one.name === color) one.weight = share * SCALE
      else if (baseline.includes(one)) {
        one.weight = ((100 - share) * SCALE * (configured.get(one.name) as number)) / baselineTotal
      }
    }
    version++
  }
  const schedule = () => {
    timer = setTimeout(tick, Math.max(0, status.judgeAt - options.now()))
    timer.unref()
  }
  const tick = () => {
    const now = options.now()
    if (!isDue(status, now)) return schedule()
    const before = status
    status = judge(status, rules, now, figures.peek())
    // A held step goes on counting: its next judgement covers every answer since the step began.
    if (status.state !== 'holding') figures.reset()
    if (status.share !== before.share) apply(status.share)
    const said = describe(color, before, status)
    if (said !== undefined) {
      const line = `${label}${said}`
      const fields = { site: options.site, color, state: status.state, share_percent: status.share }
      const log = status.state === 'aborted' ? options.logger.warn : options.logger.info
      log.call(options.logger, { ...fields, ...status.last }, line)
      options.changed(status)
    }
    if (isDue(status, Number.POSITIVE_INFINITY)) schedule()
  }
  apply(status.share)
  options.changed(status)
  options.logger.info(
    { site: options.site, color, state: status.state, share_percent: status.share },
    `${label}canary ${color} starts at ${status.share}%, judged every ${rules.intervalMs} ms`,
  )
  schedule()
  return {
    color,
    status: () => status,
    view: () => canaryView(color, rules, status, options.now()),
    version: () => version,
    done: (record) => figures.done(record),
    close: () => clearTimeout(timer),
  }
}
