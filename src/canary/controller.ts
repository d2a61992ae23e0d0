// The canary controller (CANARY): a pure state machine over (time, the canary's figures for the interval
// that just ended) → (its share of new traffic, its state). It steps through CANARY_STEPS, one every
// CANARY_INTERVAL; at the end of each interval it judges: too few answers holds the step (and the next
// judgement counts them with the next interval's), an error rate or a
// p99 over its limit aborts (share 0 at once), a pass moves to the next step, and the last step's pass
// promotes. Time is given, never read, so tests pin every transition.
import type { CanaryRules } from '../config/sites.js'

export type { CanaryRules }

export type CanaryState = 'progressing' | 'holding' | 'promoted' | 'aborted'

/** What the canary did in one interval. */
export interface IntervalFigures {
  answers: number
  /** 5xx from its upstream, or a 502/504 the proxy made for it. */
  failures: number
  /** Null with no answers. */
  p99Ms: number | null
}

export interface CanaryStatus {
  state: CanaryState
  /** Index in the rules' steps. */
  step: number
  /** Percent of new traffic the canary gets now. */
  share: number
  /** When the current interval ends and is judged. */
  judgeAt: number
  /** The last judgement, for the log, the metrics and the stats page. */
  last?: Judgement
}

export interface Judgement extends IntervalFigures {
  at: number
  /** The share it was judged at. */
  share: number
  errorRate: number
  verdict: 'pass' | 'hold' | 'fail'
  /** `error rate 7.4% > 1% over 212 answers` */
  why: string
}

export function startCanary(rules: CanaryRules, now: number): CanaryStatus {
  return { state: 'progressing', step: 0, share: rules.steps[0] as number, judgeAt: now + rules.intervalMs }
}

/** True once the current interval has ended and the canary has not finished. */
export function isDue(status: CanaryStatus, now: number): boolean {
  return now >= status.judgeAt && (status.state === 'progressing' || status.state === 'holding')
}

/** The status after judging the interval that just ended. Not due: the status as it is. */
export function judge(
  status: CanaryStatus,
  rules: CanaryRules,
  now: number,
  figures: IntervalFigures,
): CanaryStatus {
  if (!isDue(status, now)) return status
  const judgement = verdict(rules, figures, now, status.share)
  const next = { ...status, last: judgement, judgeAt: now + rules.intervalMs }
  if (judgement.verdict === 'hold') return { ...next, state: 'holding' }
  if (judgement.verdict === 'fail') return { ...next, state: 'aborted', share: 0 }
  if (status.step === rules.steps.length - 1) return { ...next, state: 'promoted' }
  const step = status.step + 1
  return { ...next, state: 'progressing', step, share: rules.steps[step] as number }
}

function verdict(rules: CanaryRules, figures: IntervalFigures, at: number, share: number): Judgement {
  const { answers, failures, p99Ms } = figures
  const errorRate = answers === 0 ? 0 : Math.round((failures / answers) * 1000) / 10
  const judged = { ...figures, at, share, errorRate }
  const over = `over ${answers} answers`
  if (answers < rules.minRequests) {
    return { ...judged, verdict: 'hold', why: `${answers} answers < ${rules.minRequests} needed` }
  }
  if (errorRate > rules.maxErrorRate) {
    return { ...judged, verdict: 'fail', why: `error rate ${errorRate}% > ${rules.maxErrorRate}% ${over}` }
  }
  if (p99Ms !== null && p99Ms > rules.maxP99Ms) {
    return { ...judged, verdict: 'fail', why: `p99 ${p99Ms} ms > ${rules.maxP99Ms} ms ${over}` }
  }
  const within = `error rate ${errorRate}% ≤ ${rules.maxErrorRate}%, p99 ${p99Ms ?? '–'} ms ≤ ${rules.maxP99Ms} ms ${over}`
  return { ...judged, verdict: 'pass', why: within }
}

/** One log line for a status change: `canary green aborted at 25%: error rate 7.4% > 1% over 212 answers`. */
export function describe(color: string, before: CanaryStatus, after: CanaryStatus): string | undefined {
  const why = after.last?.why ?? ''
  if (after.state === 'aborted') return `canary ${color} aborted at ${before.share}%: ${why}`
  if (after.state === 'promoted') return `canary ${color} promoted at ${after.share}%: ${why}`
  if (after.state === 'holding') return `canary ${color} holding at ${after.share}%: ${why}`
  if (after.step !== before.step) return `canary ${color} up from ${before.share}% to ${after.share}%: ${why}`
  return undefined
}

/** What the stats page and stats.json show of a canary. */
export interface CanaryView {
  color: string
  state: CanaryState
  /** 1-based, of `steps.length`. */
  step: number
  steps: readonly number[]
  share: number
  /** Until the next judgement; null once promoted or aborted. */
  judgeInMs: number | null
  maxErrorRate: number
  maxP99Ms: number
  minRequests: number
  last: Judgement | undefined
}

export function canaryView(color: string, rules: CanaryRules, status: CanaryStatus, now: number): CanaryView {
  return {
    color,
    state: status.state,
    step: status.step + 1,
    steps: rules.steps,
    share: status.share,
    judgeInMs: isDue(status, Number.POSITIVE_INFINITY) ? Math.max(0, status.judgeAt - now) : null,
    maxErrorRate: rules.maxErrorRate,
    maxP99Ms: rules.maxP99Ms,
    minRequests: rules.minRequests,
    last: status.last,
  }
}
