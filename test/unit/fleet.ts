// The fleet's pure parts: figures merged across replicas (histograms, never averaged percentiles), a
// rollout that follows a status judged elsewhere and judges alone again, a canary's name in the store,
// and a shared rate limit's side of the sync.
import t from 'tap'
import { type CanaryRules, judge, startCanary } from '../../src/canary/controller.js'
import { CanaryFigures, mergeFigures } from '../../src/canary/figures.js'
import { startRollout } from '../../src/canary/rollout.js'
import { loadConfig } from '../../src/config/load.js'
import type { RequestRecord } from '../../src/forward/events.js'
import { canaryKey } from '../../src/fleet/canary-sync.js'
import { createSharedRateLimit, MAX_SHARED_KEYS } from '../../src/listen/rate-limit.js'
import type { IncomingMessage } from 'node:http'
import { captureLogger } from '../helpers/logs.js'
import { renderLive } from '../../src/observe/stats-page.js'

const RULES: CanaryRules = {
  steps: [10, 50, 100],
  intervalMs: 1000,
  maxErrorRate: 1,
  maxP99Ms: 1000,
  minRequests: 2,
}

const answer = (color: string, status: number, durationMs: number) =>
  ({ color, status, durationMs, failure: undefined }) as unknown as RequestRecord

t.test('three replicas’ figures merged: counts summed, p99 from the merged histograms', async (t) => {
  const replicas = [new CanaryFigures('green'), new CanaryFigures('green'), new CanaryFigures('green')]
  // Two fast replicas and one slow: averaging their p99s would say 337 ms; the fleet's p99 is the slow one.
  for (let i = 0; i < 99; i++) (replicas[i % 2] as CanaryFigures).done(answer('green', 200, 10))
  for (let i = 0; i < 3; i++) (replicas[2] as CanaryFigures).done(answer('green', 500, 990))
  const merged = mergeFigures(replicas.map((one) => one.encode()))
  t.match(merged, { answers: 102, failures: 3 })
  t.ok((merged.p99Ms as number) >= 980 && (merged.p99Ms as number) <= 1000, `p99 ${merged.p99Ms}`)
  t.same(mergeFigures([merged.encoded]).p99Ms, merged.p99Ms, 'its own encoding merges to the same')
  t.same(mergeFigures([new CanaryFigures('green').encode()]), {
    answers: 0,
    failures: 0,
    p99Ms: null,
    encoded: { answers: 0, failures: 0, latencies: undefined },
  })
})

t.test('a rollout follows the fleet’s status, then judges alone from it when told', async (t) => {
  let now = 0
  const { logger, lines } = captureLogger()
  const colors = [
    { name: 'blue', weight: 1 },
    { name: 'green', weight: 1 },
  ]
  const changed: string[] = []
  let aborted: () => void = () => undefined
  const abort = new Promise<void>((resolve) => (aborted = resolve))
  const rollout = startRollout({ color: 'green', rules: RULES }, colors, {
    site: 'default',
    logger,
    now: () => now,
    changed: (status) => {
      changed.push(`${status.state} ${status.share}`)
      if (status.state === 'aborted') aborted()
    },
  })
  t.teardown(() => rollout.close())
  // The fleet's first sync asks before any request (a replica joins before it listens): from then on.
  t.match(rollout.handOver(), { answers: 0 })
  for (let i = 0; i < 3; i++) rollout.done(answer('green', 200, 5))
  const handed = rollout.handOver()
  t.match(handed, { answers: 3, failures: 0 })
  t.match(rollout.handOver(), { answers: 0, latencies: undefined }, 'handed over once')
  rollout.follow(rollout.status(), '')
  t.equal(lines.length, 1, 'joining a fleet at the same step says nothing new')
  // The fleet judged step 1 passed on everyone's answers.
  const fleet = judge(startCanary(RULES, 0), RULES, 1000, { answers: 30, failures: 0, p99Ms: 5 })
  rollout.follow(fleet, ' (the fleet)')
  t.equal(rollout.status().share, 50)
  t.equal(colors[1]?.weight, 5000, 'green gets its 50%')
  t.match(String(lines.at(-1)?.msg), /^canary green up from 10% to 50%: .* over 30 answers \(the fleet\)$/)
  const said = lines.length
  rollout.follow({ ...fleet, judgeAt: 2500 }, ' (the fleet)')
  t.equal(lines.length, said, 'the same judgement again says nothing')
  t.equal(rollout.status().judgeAt, 2500, 'but its timing is taken')
  // The store is gone: this replica judges alone, from the fleet's status and its own answers since.
  now = 2500
  for (let i = 0; i < 2; i++) rollout.done(answer('green', 500, 5))
  // The rollout's timer is unref'd, as it must be in a program; this keeps the test's process alive for it.
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(alive))
  rollout.judgeAlone()
  await abort
  t.match(rollout.status(), { state: 'aborted', share: 0 })
  t.match(String(lines.at(-1)?.msg), /^canary green aborted at 50%: error rate 100% > 1% over 2 answers$/)
  t.same(changed, ['progressing 10', 'progressing 50', 'aborted 0'])
})

t.test('a fleet’s hold keeps this replica’s own count; a new judgement starts it again', async (t) => {
  const { logger } = captureLogger()
  const colors = [
    { name: 'blue', weight: 1 },
    { name: 'green', weight: 1 },
  ]
  const rollout = startRollout({ color: 'green', rules: RULES }, colors, {
    site: 'shop',
    logger,
    now: () => 0,
    changed: () => undefined,
  })
  t.teardown(() => rollout.close())
  rollout.follow(rollout.status(), '')
  rollout.done(answer('green', 200, 5))
  const held = judge(startCanary(RULES, 0), RULES, 1000, { answers: 1, failures: 0, p99Ms: 5 })
  rollout.follow(held, '')
  t.equal(rollout.view().state, 'holding')
  rollout.done(answer('green', 200, 5))
  const passed = judge(held, RULES, 2000, { answers: 2, failures: 0, p99Ms: 5 })
  rollout.follow(passed, '')
  t.equal(rollout.view().share, 50)
})

t.test('a replica started late joins the fleet’s step, said once', async (t) => {
  const { logger, lines } = captureLogger()
  const colors = [
    { name: 'blue', weight: 1 },
    { name: 'green', weight: 1 },
  ]
  const told: number[] = []
  const rollout = startRollout({ color: 'green', rules: RULES }, colors, {
    site: 'shop',
    logger,
    now: () => 0,
    changed: (status) => told.push(status.share),
  })
  t.teardown(() => rollout.close())
  const at = judge(startCanary(RULES, 0), RULES, 1000, { answers: 30, failures: 0, p99Ms: 5 })
  rollout.follow(at, ' (the fleet)')
  t.equal(lines.at(-1)?.msg, "shop: canary green joins the fleet's rollout: progressing at 50%, step 2 of 3")
  t.same(told, [10, 50])
  t.equal(colors[0]?.weight, 5000)
})

t.test('a canary’s name in the store: the same for the same colors and rules, else another', async (t) => {
  const env = { BLUE: 'http://blue:8080', GREEN: 'http://green:8080', CANARY: 'green' }
  const key = (more: Record<string, string>) =>
    canaryKey(loadConfig({ ...env, ...more }, { readFile: () => '' }).sites[0] as never)
  t.match(key({}), /^canary:default:[A-Za-z0-9_-]{16}$/)
  t.equal(key({}), key({ LOG_LEVEL: 'debug' }), 'what is not the canary does not change it')
  t.not(key({}), key({ GREEN: 'http://green-v3:8080' }), 'a new green is a new canary')
  t.not(key({}), key({ CANARY_STEPS: '5,100' }), 'new rules are a new canary')
  t.not(key({}), key({ BLUE_WEIGHT: '3' }), 'a new baseline is a new canary')
  t.equal(canaryKey(loadConfig({ BLUE: 'http://blue' }, { readFile: () => '' }).sites[0] as never), undefined)
})

t.test('a shared rate limit: what it let through per key, and the fleet’s tokens settled', async (t) => {
  const limit = createSharedRateLimit({ rate: 1, burst: 3, by: { mode: 'ip' } })
  const req = { headers: {} } as IncomingMessage
  for (let i = 0; i < 4; i++) limit.limit(req, '10.0.0.1')
  limit.limit(req, '10.0.0.2')
  t.same(
    [...limit.drain()],
    [
      ['10.0.0.1', 3],
      ['10.0.0.2', 1],
    ],
    'refused requests are not counted',
  )
  t.same(limit.drain().size, 0, 'drained once')
  t.equal(limit.limit(req, '10.0.0.2'), undefined)
  // The fleet's bucket for .2 has 1 token left after what was drained; this replica let 1 through since.
  limit.settle('10.0.0.2', 1)
  t.ok((limit.limit(req, '10.0.0.2') as number) >= 1, 'nothing left here either')
  limit.settle('10.0.0.3', -10)
  t.ok((limit.limit(req, '10.0.0.3') as number) >= 3, 'a debt of at most one burst waits it out')
  const many = createSharedRateLimit({ rate: 1, burst: 1, by: { mode: 'ip' } }, MAX_SHARED_KEYS + 10)
  for (let i = 0; i < MAX_SHARED_KEYS + 5; i++) many.limit(req, `key ${i}`)
  t.equal(many.drain().size, MAX_SHARED_KEYS, 'at most MAX_SHARED_KEYS a sync')
})

t.test('the stats page’s fleet: every member, who leads, and a store out of reach', async (t) => {
  const member = (id: string, canary: boolean) => ({
    id,
    host: id.split('/')[0] as string,
    pid: 1,
    startedAt: '2026-12-07T12:00:00.000Z',
    sites: [
      {
        site: 'shop',
        requests: 10,
        rate: 1.5,
        ...(canary && { canary: { key: 'k', step: 2, share: 50, state: 'progressing' as const } }),
      },
    ],
  })
  const fleet = {
    name: 'edge',
    store: 'redis://***@redis:6379',
    me: 'b/1',
    reachable: false,
    rateLimitShared: false,
    members: [member('a/1', true), member('b/1', false)],
    leaders: { shop: 'a/1' },
    totals: { members: 2, requests: 20, rate: 3 },
  }
  const html = renderLive({ uptimeS: 1, rate: 0, requests: 0, sites: [], fleet })
  t.match(html, /<h2>Fleet edge: <span class="fleet-members">2<\/span> alive · 3 req\/s · 20 requests<\/h2>/)
  t.match(html, /cannot be reached: this replica judges its canary alone on what it last knew/)
  t.match(
    html,
    /a\/1 · leads<\/td><td>2026-12-07 12:00:00 UTC<\/td><td>shop: 1.5 req\/s, 10 requests · canary progressing at 50% \(step 2\)/,
  )
  t.match(html, /b\/1 \(this one\)<\/td><td>[^<]+<\/td><td>shop: 1.5 req\/s, 10 requests<\/td>/)
  t.notMatch(renderLive({ uptimeS: 1, rate: 0, requests: 0, sites: [] }), /Fleet/)
})
