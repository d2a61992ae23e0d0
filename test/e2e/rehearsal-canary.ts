// The rollout rehearsal's canary scenario (scripts/rehearsal/): Swarm emulated on loopback, load through
// every update, and not one request lost.
import t from 'tap'
import { canaryScenario } from '../../scripts/rehearsal/scenarios.js'
import { rehearse } from '../helpers/rehearsal.js'

t.test('blue → 4:1 canary → all green → rollback, 3 replicas: nothing lost', async (t) => {
  await rehearse(t, canaryScenario, [true, true, true, true])
})
