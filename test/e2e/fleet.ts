// FLEET_STORE with real processes and a real redis-server: three colorproxy replicas judge one canary on
// their summed figures, step together, survive their leader's death and Redis's, let a late replica join at
// the fleet's step, and share one rate limit per client.
import http from 'node:http'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { startProxy, type Program } from '../helpers/programs.js'
import { startRedis } from '../helpers/redis.js'
import { recordingUpstream, type Teardown } from '../helpers/upstreams.js'

interface Replica {
  url: string
  admin: string
  program: Program
}

/** Blue and green upstreams; green answers 500 to every `failEvery`-th request (0: never). */
async function colors(t: Teardown, failEvery = 0) {
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue\n'))
  let n = 0
  const green = await recordingUpstream(t, (_req, res) => {
    res.statusCode = failEvery > 0 && n++ % failEvery === 0 ? 500 : 200
    res.end('green\n')
  })
  return { BLUE: blue.url, GREEN: green.url }
}

function replicas(t: Teardown, count: number, env: Record<string, string>): Promise<Replica[]> {
  return Promise.all(Array.from({ length: count }, () => startProxy(t, { LOG_LEVEL: 'info', ...env })))
}

/**
 * Requests to every replica in turn, `perSecond` a replica (0: as fast as answers come); each answer kept.
 */
function drive(to: readonly Replica[], perSecond = 0) {
  const answers: { replica: number; status: number; color: string }[] = []
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  let stopped = false
  const loops = to.map(async (replica, index) => {
    let next = Date.now()
    while (!stopped) {
      const answer = await get(replica.url, { agent }).catch(() => ({ status: 0, body: '' }))
      answers.push({ replica: index, status: answer.status, color: answer.body.trim() })
      if (perSecond === 0) continue
      next += 1000 / perSecond
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())))
    }
  })
  return {
    answers,
    async stop() {
      stopped = true
      await Promise.all(loops)
      agent.destroy()
    },
  }
}

const canaryLines = (program: Program) =>
  program.lines.filter((line) => /^canary green (up|promoted|aborted|holding)/.test(String(line.msg)))

const said = (program: Program, pattern: RegExp) => program.line((line) => pattern.test(String(line.msg)))

async function json(url: string): Promise<Record<string, unknown>> {
  return JSON.parse((await get(url)).body)
}

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
