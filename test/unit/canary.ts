// The canary controller's state machine, transition by transition, on a pinned clock; and the interval
// figures it judges, from the same records the metrics count.
import t from 'tap'
import { type CanaryRules, describe, isDue, judge, startCanary } from '../../src/canary/controller.js'
import { CanaryFigures } from '../../src/canary/figures.js'
import type { RequestRecord } from '../../src/forward/events.js'

const RULES: CanaryRules = {
  steps: [10, 50, 100],
  intervalMs: 3000,
  maxErrorRate: 1,
  maxP99Ms: 1000,
  minRequests: 20,
}
const good = { answers: 200, failures: 1, p99Ms: 40 }

t.test('steps up on each passing interval and is promoted after the last', async (t) => {
  let status = startCanary(RULES, 0)
  t.same(status, { state: 'progressing', step: 0, share: 10, judgeAt: 3000 })
  t.equal(isDue(status, 2999), false)
  t.equal(judge(status, RULES, 2999, good), status, 'not due: nothing changes')
  const shares: number[] = []
  const lines: (string | undefined)[] = []
  for (const at of [3000, 6000, 9000]) {
    const next = judge(status, RULES, at, good)
    lines.push(describe('green', status, next))
    status = next
    shares.push(status.share)
  }
  t.same(shares, [50, 100, 100])
  t.equal(status.state, 'promoted')
  t.same(lines, [
    'canary green up from 10% to 50%: error rate 0.5% ≤ 1%, p99 40 ms ≤ 1000 ms over 200 answers',
    'canary green up from 50% to 100%: error rate 0.5% ≤ 1%, p99 40 ms ≤ 1000 ms over 200 answers',
    'canary green promoted at 100%: error rate 0.5% ≤ 1%, p99 40 ms ≤ 1000 ms over 200 answers',
  ])
  t.equal(isDue(status, 1e9), false, 'promoted is final')
  t.equal(judge(status, RULES, 1e9, { answers: 100, failures: 100, p99Ms: 1 }), status)
})

t.test('too few answers hold the step; a failed judgement aborts at once', async (t) => {
  const start = startCanary(RULES, 0)
  const held = judge(start, RULES, 3000, { answers: 19, failures: 19, p99Ms: 5000 })
  t.match(held, { state: 'holding', step: 0, share: 10, judgeAt: 6000, last: { verdict: 'hold' } })
  t.equal(describe('green', start, held), 'canary green holding at 10%: 19 answers < 20 needed')
  const errors = judge(held, RULES, 6000, { answers: 212, failures: 16, p99Ms: 20 })
  t.match(errors, { state: 'aborted', share: 0, last: { errorRate: 7.5, verdict: 'fail' } })
  t.equal(
    describe('green', held, errors),
    'canary green aborted at 10%: error rate 7.5% > 1% over 212 answers',
  )
  t.equal(isDue(errors, 1e9), false, 'aborted is final')
  const slow = judge(start, RULES, 3000, { answers: 50, failures: 0, p99Ms: 1200 })
  t.equal(
    describe('green', start, slow),
    'canary green aborted at 10%: p99 1200 ms > 1000 ms over 50 answers',
  )
  const atLimit = judge(start, RULES, 3000, { answers: 100, failures: 1, p99Ms: 1000 })
  t.equal(atLimit.state, 'progressing', 'exactly at the limits passes')
  t.equal(describe('green', atLimit, atLimit), undefined, 'no change, no line')
  const zero = judge(startCanary({ ...RULES, minRequests: 0 }, 0), { ...RULES, minRequests: 0 }, 3000, {
    answers: 0,
    failures: 0,
    p99Ms: null,
  })
  t.match(zero.last, { errorRate: 0, verdict: 'pass', why: /p99 – ms/ })
})

const record = (
  color: string | null,
  status: number,
  durationMs: number,
  failure?: 'client_gone',
): RequestRecord => ({
  site: 'default',
  color,
  status,
  durationMs,
  via: 'weighted',
  failure,
  proto: 'http/1.1',
  tls: false,
})

t.test("the canary's figures: its answers only, 5xx failures, a p99 from the histogram", async (t) => {
  const figures = new CanaryFigures('green')
  for (let i = 1; i <= 100; i++) figures.done(record('green', 200, i))
  figures.done(record('green', 502, 3))
  figures.done(record('green', 404, 3))
  figures.done(record('green', 200, 7_200_000))
  figures.done(record('green', 499, 9, 'client_gone'))
  figures.done(record('blue', 500, 9))
  figures.done(record(null, 503, 1))
  const taken = figures.take()
  t.match(taken, { answers: 103, failures: 1 })
  t.ok((taken.p99Ms as number) >= 99 && (taken.p99Ms as number) <= 101, `p99 ${taken.p99Ms}`)
  t.same(figures.take(), { answers: 0, failures: 0, p99Ms: null }, 'the next interval starts from zero')
})
