// The rollout rehearsal over HTTPS (scripts/rehearsal/): the canary with clients speaking TLS to every
// replica's HTTPS_PORT through the emulated mesh, and not one request lost while replicas drain.
import t from 'tap'
import { httpsScenario } from '../../scripts/rehearsal/scenarios.js'
import { rehearse } from '../helpers/rehearsal.js'

t.test('blue → 4:1 canary → all green over HTTPS, 3 replicas: nothing lost', async (t) => {
  await rehearse(t, httpsScenario, [true, true, true])
})
