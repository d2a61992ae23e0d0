// The rollout rehearsal with SITES (scripts/rehearsal/): a canary on one site while the other, on the
// same proxies, is untouched; nothing lost, and the untouched site's traffic never changes color.
import t from 'tap'
import { sitesScenario } from '../../scripts/rehearsal/scenarios.js'
import { rehearse } from '../helpers/rehearsal.js'

t.test('api: blue → 4:1 canary → all green; shop stays blue; 3 replicas, nothing lost', async (t) => {
  const events = await rehearse(t, sitesScenario, [true, true, true])
  const after = events.filter((event) => event.startsWith('after '))
  t.equal(after.length, 3)
  for (const event of after) {
    t.match(event, /: shop blue 100%/, `shop all blue: ${event}`)
    t.notMatch(event, /shop green/, 'not one shop request went green')
  }
})
