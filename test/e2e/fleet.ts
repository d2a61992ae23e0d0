// FLEET_STORE with real processes and a real redis-server: three colorproxy replicas judge one canary on
// their summed figures and step together, and a traffic no replica could judge alone is judged by the fleet.
import t from 'tap'
import { get } from '../helpers/clients.js'
import { canaryLines, colors, drive, json, replicas, said } from '../helpers/fleet.js'
import { startRedis } from '../helpers/redis.js'
import type { Teardown } from '../helpers/upstreams.js'

t.test('3 replicas step a healthy green together and are promoted at the same judgement', async (t) => {
  const redis = await startRedis(t)
  const fleet = await replicas(t, 3, {
    ...(await colors(t)),
    FLEET_STORE: redis.url,
    CANARY: 'green',
    CANARY_STEPS: '10,50,100',
    CANARY_INTERVAL: '1500ms',
    CANARY_MIN_REQUESTS: '5',
  })
  const load = drive(fleet)
  await Promise.all(fleet.map(({ program }) => said(program, /^canary green promoted/)))
  await load.stop()
  const changes = fleet.map(({ program }) => canaryLines(program))
  for (const [index, lines] of changes.entries())
    t.same(
      lines.map((line) => line.share_percent),
      [50, 100, 100],
      `replica ${index + 1}: 10 → 50 → 100, promoted`,
    )
  for (const step of [0, 1, 2]) {
    const times = changes.map((lines) => lines[step]?.time as number)
    const spread = Math.max(...times) - Math.min(...times)
    t.ok(spread < 1000, `change ${step + 1} applied by every replica within ${spread} ms of the others`)
    const judged = new Set(changes.map((lines) => lines[step]?.at))
    t.equal(judged.size, 1, `change ${step + 1}: one judgement for the fleet`)
  }
  t.match(String(changes[0]?.[2]?.msg), /\(the fleet's figures: 3 replicas, judged by .+\/\d+\)$/)
  const config = await json(`${fleet[0]?.admin}/config`)
  t.match(config.fleet, { name: 'colorproxy', store: redis.url, store_reachable: true })
  const fleetView = config.fleet as { members: string[]; leaders: Record<string, string> }
  t.equal(fleetView.members.length, 3)
  t.ok(fleetView.members.includes(fleetView.leaders.default as string), '/config names the leader')
  const metrics = (await get(`${fleet[1]?.admin}/metrics`)).body
  t.match(metrics, /^colorproxy_fleet_replicas 3$/m)
  t.match(metrics, /^colorproxy_fleet_store_up 1$/m)
  const stats = await json(`${fleet[2]?.admin}/stats.json`)
  t.match(stats.fleet, { totals: { members: 3 }, reachable: true })
  t.equal(load.answers.filter((answer) => answer.status !== 200).length, 0, 'no request failed')
})

/** Each replica's first judgement of a green failing 20% at 10 requests a second per replica. */
async function lowTraffic(t: Teardown, env: Record<string, string>) {
  const fleet = await replicas(t, 3, {
    ...(await colors(t, 5)),
    CANARY: 'green',
    CANARY_STEPS: '50,100',
    CANARY_INTERVAL: '2s',
    CANARY_MIN_REQUESTS: '20',
    ...env,
  })
  const load = drive(fleet, 10)
  const first = await Promise.all(
    fleet.map(({ program }) => said(program, /^canary green (up|promoted|aborted|holding)/)),
  )
  await load.stop()
  return first
}

t.test('at a traffic no replica alone can judge, the fleet aborts on the summed answers', async (t) => {
  const redis = await startRedis(t)
  const first = await lowTraffic(t, { FLEET_STORE: redis.url })
  for (const line of first) {
    t.match(line, { state: 'aborted', share_percent: 0 })
    t.match(
      String(line.msg),
      /^canary green aborted at 50%: error rate [\d.]+% > 1% over \d+ answers \(the fleet's figures: 3 replicas, judged by .+\)$/,
    )
    t.ok((line.answers as number) >= 20, `judged on ${line.answers} answers`)
  }
  t.equal(new Set(first.map((line) => line.at)).size, 1, 'one judgement for the fleet')
})

t.test('without FLEET_STORE, the same traffic only holds each replica at its first judgement', async (t) => {
  const first = await lowTraffic(t, {})
  for (const line of first) {
    t.match(line, { state: 'holding', share_percent: 50 })
    t.ok((line.answers as number) < 20, `each replica saw ${line.answers} answers alone`)
  }
})

t.test('WORKERS=2 with FLEET_STORE: each worker is a member, and the primary shows the fleet', async (t) => {
  const redis = await startRedis(t)
  const [one] = await replicas(t, 1, {
    ...(await colors(t)),
    WORKERS: '2',
    FLEET_STORE: redis.url,
    CANARY: 'green',
    CANARY_INTERVAL: '1h',
  })
  const admin = (one as { admin: string }).admin
  await said(
    (one as { program: Parameters<typeof said>[0] }).program,
    /^fleet: joined colorproxy as .*, 2 alive$/,
  )
  const { fleet } = await json(`${admin}/config`)
  const view = fleet as { members: string[]; leaders: Record<string, string> }
  t.equal(view.members.length, 2, 'two members')
  t.ok(view.members.includes(view.leaders.default as string), 'one of them leads')
  t.match((await get(`${admin}/metrics`)).body, /^colorproxy_fleet_replicas 2$/m)
  t.match((await json(`${admin}/stats.json`)).fleet, { totals: { members: 2 } })
})
