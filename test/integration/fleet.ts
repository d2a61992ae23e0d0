// Two in-process members of one fleet on a real redis-server: the stats page's fleet table, /config and
// the metrics, a store that answers but refuses writes (a failed sync, said once, then rejoined), and a
// FLEET_NAME that keeps two fleets apart on one Redis.
import { once } from 'node:events'
import t from 'tap'
import { loadConfig } from '../../src/config/load.js'
import { createAdminServer } from '../../src/observe/admin.js'
import { get } from '../helpers/clients.js'
import { startColorProxy } from '../helpers/proxy.js'
import { startRedis } from '../helpers/redis.js'
import { recordingUpstream, type Teardown } from '../helpers/upstreams.js'

async function members(t: Teardown, redis: string, names: string[], more: Record<string, string> = {}) {
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue\n'))
  const green = await recordingUpstream(t, (_req, res) => res.end('green\n'))
  const env = {
    BLUE: blue.url,
    GREEN: green.url,
    CANARY: 'green',
    CANARY_STEPS: '10,100',
    CANARY_INTERVAL: '1h',
    FLEET_STORE: redis,
    LOG_LEVEL: 'info',
    ...more,
  }
  const started = []
  for (const host of names) started.push(await startColorProxy(t, env, { host }))
  return started
}

t.test('the fleet on the stats page, stats.json, /config and /metrics', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = await members(t, redis.url, ['edge-a', 'edge-b'])
  // a's first sync was before b's: it sees both at a later one.
  await a?.line((line) => /^fleet: joined colorproxy as edge-a\//.test(String(line.msg)))
  const stats = async () => JSON.parse((await get(`${a?.admin}/stats.json`)).body)
  // Polled: each answer is a's latest read of the fleet.
  while ((await stats()).fleet.totals.members < 2)
    await b?.line((line) => /^fleet: joined/.test(String(line.msg)))
  const page = (await get(`${a?.admin}/`)).body
  t.match(page, /<h2>Fleet colorproxy: <span class="fleet-members">2<\/span> alive/)
  t.match(page, /edge-a\/\d+ \(this one\) · leads/, 'the first member leads its canary')
  t.match(page, /edge-b\/\d+<\/td>/)
  t.match(page, /default: [\d.]+ req\/s, \d+ requests · canary progressing at 10% \(step 1\)/)
  const config = JSON.parse((await get(`${b?.admin}/config`)).body)
  t.match(config.fleet, {
    name: 'colorproxy',
    store: redis.url,
    rate_limit_shared: false,
    store_reachable: true,
    leaders: { default: /^edge-a\// },
  })
  t.match(config.fleet.me, /^edge-b\//)
  t.match((await get(`${a?.admin}/metrics`)).body, /^colorproxy_fleet_replicas 2$/m)
})

t.test('a store that refuses writes: a failed sync said once, judged alone, then rejoined', async (t) => {
  const redis = await startRedis(t)
  const [a] = await members(t, redis.url, ['edge-a'])
  const admin = redis.client()
  // Redis answers, but refuses every write: the connection stays up while every sync fails.
  await admin.config('SET', 'min-replicas-to-write', '1')
  const failed = await a?.line((line) => /^fleet: a sync failed/.test(String(line.msg)))
  t.match(String(failed?.msg), /NOREPLICAS.*; each canary judges alone until one succeeds$/)
  t.match((await get(`${a?.admin}/metrics`)).body, /^colorproxy_fleet_store_up 0$/m)
  t.match((await get(`${a?.admin}/`)).body, /cannot be reached: this replica judges its canary alone/)
  t.match(JSON.parse((await get(`${a?.admin}/config`)).body).fleet, { store_reachable: false })
  await admin.config('SET', 'min-replicas-to-write', '0')
  await a?.line((line) => /^fleet: rejoined colorproxy/.test(String(line.msg)))
  t.equal(a?.lines.filter((line) => /^fleet: a sync failed/.test(String(line.msg))).length, 1, 'said once')
})

t.test('two FLEET_NAMEs on one Redis are two fleets', async (t) => {
  const redis = await startRedis(t)
  const [a] = await members(t, redis.url, ['edge-a'], { FLEET_NAME: 'shop' })
  const [b] = await members(t, redis.url, ['edge-b'], { FLEET_NAME: 'api' })
  await b?.line((line) => /^fleet: joined api as edge-b\//.test(String(line.msg)))
  for (const one of [a, b]) {
    const { fleet } = JSON.parse((await get(`${one?.admin}/stats.json`)).body)
    t.equal(fleet.totals.members, 1, `${fleet.name} has one member`)
  }
  t.ok((await redis.client().keys('shop:*')).length > 0, 'keys under shop:')
})

t.test('/config when the fleet cannot be read (a cluster worker that did not answer)', async (t) => {
  const config = loadConfig(
    { BLUE: 'http://blue', FLEET_STORE: 'redis://:pw@redis:6379' },
    { readFile: () => '' },
  )
  const server = createAdminServer(config, {
    ready: () => true,
    metrics: async () => ({ type: 'text/plain', body: '' }),
    stats: async () => ({ uptimeS: 0, rate: 0, requests: 0, sites: [] }),
    fleet: () => Promise.reject(new Error('worker 1 did not answer')),
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const { port } = server.address() as { port: number }
  const view = JSON.parse((await get(`http://127.0.0.1:${port}/config`)).body)
  t.same(view.fleet, {
    name: 'colorproxy',
    store: 'redis://***@redis:6379',
    rate_limit_shared: false,
    me: null,
    store_reachable: false,
    members: [],
    leaders: {},
  })
})

t.test(
  'a held step goes on counting across the fleet: the next judgement counts the answers before',
  async (t) => {
    const redis = await startRedis(t)
    const [a, b] = await members(t, redis.url, ['edge-a', 'edge-b'], {
      CANARY_STEPS: '100',
      CANARY_INTERVAL: '1s',
      CANARY_MIN_REQUESTS: '1000',
    })
    for (let i = 0; i < 10; i++) await Promise.all([get(`${a?.url}/`), get(`${b?.url}/`)])
    const holding = (answers: number) => (line: Record<string, unknown>) =>
      /^canary green holding at 100%/.test(String(line.msg)) && (line.answers as number) >= answers
    const first = await a?.line(holding(1))
    t.equal(first?.answers, 20, 'both members’ answers')
    t.match(String(first?.msg), /20 answers < 1000 needed \(the fleet's figures: 2 replicas/)
    await get(`${b?.url}/`)
    const next = await b?.line(holding(21))
    t.equal(next?.answers, 21, 'the held answers and the new one')
  },
)

t.test('a member that stops leaves: its lease is free and its record gone at once', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = await members(t, redis.url, ['edge-a', 'edge-b'])
  const view = async () => JSON.parse((await get(`${b?.admin}/config`)).body).fleet
  while ((await view()).members.length < 2) await b?.line((line) => /^fleet: joined/.test(String(line.msg)))
  t.match((await view()).leaders, { default: /^edge-a\// })
  await a?.proxy.shutdown({ delayMs: 0 })
  const client = redis.client()
  // Gone from the store as soon as it stopped, not a lease or a member's expiry later.
  t.equal(await client.zcard('colorproxy:members'), 1, 'one member left')
  const leases = await client.keys('colorproxy:canary:*:lease')
  t.same(await Promise.all(leases.map((key) => client.get(key))), [], 'no lease held')
})
