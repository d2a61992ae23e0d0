// Runs a rehearsal scenario under load and checks what every scenario must hold. Each scenario has a test
// file of its own, so each runs in a fresh process.
import type { Test } from 'tap'
import type { ScenarioOptions, ScenarioReport } from '../../scripts/rehearsal/scenarios.js'

export /**
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
