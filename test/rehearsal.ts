// The rollout rehearsal as tests: Swarm emulated with processes on loopback (scripts/rehearsal/), load
// running through every update, and not one request lost.
import t, { type Test } from 'tap'
import { colorOf } from '../scripts/rehearsal/load.js'
import { REHEARSE, start } from './helpers/programs.js'
import {
  backendScenario,
  badEnvScenario,
  canaryScenario,
  type ScenarioOptions,
  type ScenarioReport,
} from '../scripts/rehearsal/scenarios.js'

/**
 * Runs a scenario under load and checks what every scenario must hold: nothing lost over several thousand
 * requests, each step's split within 5 points, and which updates went through (true) or rolled back.
 * Resolves the timeline for scenario-specific checks.
 */
async function rehearse(
  t: Test,
  scenario: (options: ScenarioOptions) => Promise<ScenarioReport>,
  applied: boolean[],
): Promise<string[]> {
  const events: string[] = []
  const report = await scenario({ timeline: (event) => events.push(event), answersPerStep: 1000, clients: 8 })
  t.equal(
    report.failures,
    0,
    `${report.requests} requests, ${report.retries} retried, failed: ${report.failed.join('; ')}`,
  )
  t.ok(report.requests >= 3000, `${report.requests} requests (several thousand)`)
  for (const step of report.steps) {
    for (const [color, expected] of Object.entries(step.expected)) {
      const observed = step.observed[color] ?? 0
      t.ok(
        Math.abs(observed - expected) <= 5,
        `${step.name}: ${color} ${observed}% (expected ${expected} ± 5)`,
      )
    }
  }
  t.same(
    report.steps.map((step) => step.applied),
    applied,
    'updates applied (true) or rolled back (false)',
  )
  if (report.failures > 0) t.comment(events.join('\n'))
  return events
}

t.test('blue → 4:1 canary → all green → rollback, 3 replicas: nothing lost', async (t) => {
  await rehearse(t, canaryScenario, [true, true, true, true])
})

t.test('a bad environment is rolled back by itself, start-first and stop-first: nothing lost', async (t) => {
  const events = await rehearse(t, badEnvScenario, [true, false, false])
  t.ok(events.some((event) => /exited 78 before it was ready: .*GREEN_WEIGHT/.test(event)))
})

t.test("the backend's own rolling update behind the proxy: nothing lost", async (t) => {
  const events = await rehearse(t, backendScenario, [true, true, true])
  t.ok(events.includes('myapp-v1: update complete'))
})

t.test('colorOf reads the color from either page', async (t) => {
  t.equal(colorOf('blue myapp-v1\n'), 'blue')
  t.equal(colorOf('\n<h1>myapp-v2 (green)</h1>\n'), 'green')
  t.equal(colorOf('502 the upstream refused the connection\n'), undefined)
})

t.test('npm run rehearse prints a timeline and a report, and exits 0 when nothing was lost', async (t) => {
  const program = start(t, REHEARSE, { REHEARSE_ANSWERS: '200' }, ['bad-env'])
  const { code } = await program.exit
  const output = program.lines.map((line) => line.text).join('\n')
  t.equal(code, 0, program.stderr())
  t.match(output, /proxy\.1: ready, in rotation \(proxy\.1\)/)
  t.match(output, /proxy: update failed: proxy\.\d exited 78 before it was ready/)
  t.match(
    output,
    /== report\na bad environment is rolled back \(3 proxy replicas\): \d+ requests, 0 failed, \d+ retried/,
  )
  t.match(
    output,
    /rolled back {2}--env-add GREEN_WEIGHT=abc \(start-first\): expected blue 80%, green 20%, observed/,
  )
})

t.test('npm run rehearse names the scenarios when given an unknown one', async (t) => {
  const program = start(t, REHEARSE, {}, ['nope'])
  t.equal((await program.exit).code, 2)
  t.match(program.stderr(), /no scenario nope; try canary, bad-env, backend/)
})
