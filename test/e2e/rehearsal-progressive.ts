// The progressive rollouts (scripts/rehearsal/): a healthy green stepped up and promoted by every replica
// with nothing lost, and a failing green aborted at its first step and rolled back by Swarm's monitor.
import t from 'tap'
import { overBudget, progressiveBadScenario, progressiveScenario } from '../../scripts/rehearsal/scenarios.js'
import { rehearse } from '../helpers/rehearsal.js'

t.test('progressive: a healthy green goes 5 → 25 → 50 → 100 and is promoted; nothing lost', async (t) => {
  const events = await rehearse(t, progressiveScenario, [true, true])
  t.ok(
    events.some((event) => event === 'proxy: update complete'),
    'the monitored update went through',
  )
  t.equal(
    events.filter((event) => /: canary green promoted at 100%/.test(event)).length,
    3,
    'promoted on every replica',
  )
})

t.test(
  'progressive-bad: aborted at the first step, rolled back by the monitor; failures under 2% of that step',
  async (t) => {
    const events: string[] = []
    const report = await progressiveBadScenario({
      timeline: (event) => events.push(event),
      answersPerStep: 1000,
      clients: 8,
    })
    const [blue, canary] = report.steps
    t.match(
      report.steps.map((step) => step.applied),
      [true, false],
      'the update was rolled back',
    )
    t.equal(blue?.failures, 0, 'nothing failed before the update')
    t.same(overBudget(report), [], 'within the step budget, so npm run rehearse exits 0')
    t.same(
      overBudget({ ...report, steps: [{ ...(canary as (typeof report.steps)[0]), failureBudgetPercent: 0 }] })
        .length,
      1,
    )
    const share = ((canary?.failures ?? 0) / (canary?.requests ?? 1)) * 100
    t.ok(
      share < 2,
      `${canary?.failures} of ${canary?.requests} requests failed during the step (${share.toFixed(2)}%)`,
    )
    t.equal(report.failures, canary?.failures, 'every failure was green answering before the abort')
    t.ok((canary?.failures ?? 0) > 0, 'green did fail some (or the rehearsal proved nothing)')
    t.equal(canary?.observed.blue, 100, 'all blue after the rollback')
    t.ok(
      events.some((event) => /unhealthy within --update-monitor/.test(event)),
      'the health check failed the update',
    )
    t.ok(events.some((event) => event === 'proxy: rollback complete'))
    const aborts = events.filter((event) => /: canary green aborted/.test(event))
    t.ok(aborts.length > 0, aborts.join('\n'))
    // The first abort fails a health check and the monitor rolls back; a replica that saw no failure in
    // its first ~30 answers (a 10% chance each) may abort one step later, before the rollback reaches it.
    t.match(
      aborts[0],
      / aborted at 5%: error rate [\d.]+% > 1% over \d+ answers$/,
      'the first abort came at the first step',
    )
  },
)
