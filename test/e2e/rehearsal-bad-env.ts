// The rollout rehearsal's bad-env scenario (scripts/rehearsal/): Swarm emulated on loopback, load through
// every update, and not one request lost.
import t from 'tap'
import { badEnvScenario } from '../../scripts/rehearsal/scenarios.js'
import { rehearse } from '../helpers/rehearsal.js'

t.test('a bad environment is rolled back by itself, start-first and stop-first: nothing lost', async (t) => {
  const events = await rehearse(t, badEnvScenario, [true, false, false])
  t.ok(events.some((event) => /exited 78 before it was ready: .*GREEN_WEIGHT/.test(event)))
})
