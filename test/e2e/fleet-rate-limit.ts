// RATE_LIMIT_SHARED with real processes and a real redis-server: one client spread over three replicas
// gets about one replica's budget, where without it it gets three.
import http from 'node:http'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { colors, replicas } from '../helpers/fleet.js'
import { startRedis } from '../helpers/redis.js'
import type { Teardown } from '../helpers/upstreams.js'

const RATE = 10
const BURST = 2 * RATE
const SECONDS = 8
/** What one replica lets one client through in SECONDS: its burst, then its rate. */
const ONE_BUDGET = BURST + RATE * SECONDS

/** One client sending to each replica in turn as fast as answers come, for SECONDS: its 200s. */
async function spread(t: Teardown, env: Record<string, string>) {
  const { BLUE } = await colors(t)
  const fleet = await replicas(t, 3, { BLUE, RATE_LIMIT: String(RATE), ...env })
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const end = Date.now() + SECONDS * 1000
  let passed = 0
  let refused = 0
  for (let i = 0; Date.now() < end; i++) {
    const answer = await get((fleet[i % fleet.length] as { url: string }).url, { agent })
    if (answer.status === 200) passed++
    else if (answer.status === 429) refused++
  }
  agent.destroy()
  return { passed, refused }
}

t.test('RATE_LIMIT_SHARED=true: one client over 3 replicas gets about one replica’s budget', async (t) => {
  const redis = await startRedis(t)
  const { passed, refused } = await spread(t, { FLEET_STORE: redis.url, RATE_LIMIT_SHARED: 'true' })
  t.ok(refused > 0, `${refused} refused`)
  t.ok(passed <= 1.5 * ONE_BUDGET, `${passed} passed, one replica's budget is ${ONE_BUDGET}`)
  t.ok(passed >= 0.8 * ONE_BUDGET, `${passed} passed: at least about one budget`)
})

t.test('without it, the same client gets each replica’s budget: three', async (t) => {
  const { passed } = await spread(t, {})
  t.ok(passed >= 2.5 * ONE_BUDGET, `${passed} passed, 3 × ${ONE_BUDGET} = ${3 * ONE_BUDGET}`)
})
