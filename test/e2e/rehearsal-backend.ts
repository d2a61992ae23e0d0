// The rollout rehearsal's backend scenario (scripts/rehearsal/): Swarm emulated on loopback, load through
// every update, and not one request lost.
import t from 'tap'
import { backendScenario } from '../../scripts/rehearsal/scenarios.js'
import { rehearse } from '../helpers/rehearsal.js'

t.test("the backend's own rolling update behind the proxy: nothing lost", async (t) => {
  const events = await rehearse(t, backendScenario, [true, true, true])
  t.ok(events.includes('myapp-v1: update complete'))
})
