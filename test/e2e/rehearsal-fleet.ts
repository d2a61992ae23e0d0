// The progressive rollouts as one fleet (scripts/rehearsal/, FLEET_STORE on a real redis-server): a healthy
// green promoted by the three replicas at one judgement, and a failing green aborted by all three at the
// first step on their summed answers, then rolled back by Swarm's monitor.
import t from 'tap'
import {
  overBudget,
  progressiveBadFleetScenario,
  progressiveFleetScenario,
} from '../../scripts/rehearsal/scenarios.js'
import { rehearse } from '../helpers/rehearsal.js'

const FLEET = /\(the fleet's figures: \d replicas?, judged by [^)]+\)$/

t.test('progressive-fleet: promoted by every replica at one judgement; nothing lost', async (t) => {
  const events = await rehearse(t, progressiveFleetScenario, [true, true])
  t.ok(events.includes('proxy: update complete'), 'the monitored update went through')
  const promoted = events.filter((event) => /: canary green promoted at 100%/.test(event))
  t.equal(promoted.length, 3, 'promoted on every replica')
  for (const event of promoted) t.match(event, FLEET, 'on the fleet’s figures')
})

t.test('progressive-bad-fleet: every replica aborts at the first step, and Swarm rolls back', async (t) => {
  const events: string[] = []
  const report = await progressiveBadFleetScenario({
    timeline: (event) => events.push(event),
    answersPerStep: 1000,
    clients: 8,
  })
  t.same(
    report.steps.map((step) => step.applied),
    [true, false],
    'the update was rolled back',
  )
  t.same(overBudget(report), [], 'within the step budget')
  t.equal(report.steps[1]?.observed.blue, 100, 'all blue after the rollback')
  const aborts = events.filter((event) => /: canary green aborted/.test(event))
  t.equal(aborts.length, 3, aborts.join('\n'))
  for (const event of aborts)
    t.match(event, / aborted at 5%: error rate [\d.]+% > 1% over \d+ answers \(the fleet's figures/)
  t.ok(events.includes('proxy: rollback complete'))
})
