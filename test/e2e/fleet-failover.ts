// FLEET_STORE when things go wrong, with real processes and a real redis-server: the leader killed
// mid-rollout (another continues from the stored step within one lease), Redis stopped mid-rollout (every
// replica keeps serving, says so once, rejoins), and a replica started late (it joins at the fleet's step).
import t from 'tap'
import { get } from '../helpers/clients.js'
import { canaryLines, colors, drive, json, type Replica, replicas, said } from '../helpers/fleet.js'
import { startRedis } from '../helpers/redis.js'
import type { Teardown } from '../helpers/upstreams.js'

const LEASE_MS = 2500
const SYNC_MS = 500

async function rollout(t: Teardown, redis: string, count = 3) {
  const env = {
    ...(await colors(t)),
    FLEET_STORE: redis,
    CANARY: 'green',
    CANARY_STEPS: '10,40,70,100',
    CANARY_INTERVAL: '2s',
    CANARY_MIN_REQUESTS: '5',
  }
  return { env, fleet: await replicas(t, count, env) }
}

const leaderOf = async (replica: Replica) =>
  ((await json(`${replica.admin}/config`)).fleet as { leaders: Record<string, string | null> }).leaders
    .default

const stepOf = async (replica: Replica) => {
  const stats = (await json(`${replica.admin}/stats.json`)) as { sites: { canary: { step: number } }[] }
  return stats.sites[0]?.canary.step
}

t.test('the leader killed mid-rollout: another continues from the same step within one lease', async (t) => {
  const redis = await startRedis(t)
  const { fleet } = await rollout(t, redis.url)
  const load = drive(fleet)
  await Promise.all(fleet.map(({ program }) => said(program, /^canary green up from 10% to 40%/)))
  const leader = await leaderOf(fleet[0] as Replica)
  const dead = fleet.find(({ program }) => leader?.endsWith(`/${program.child.pid}`)) as Replica
  t.ok(dead, `the leader ${leader} is one of the three`)
  const survivors = fleet.filter((one) => one !== dead)
  load.skip(fleet.indexOf(dead))
  const step = await stepOf(dead)
  const killed = Date.now()
  dead.program.child.kill('SIGKILL')
  let next: string | null | undefined
  while ((next = await leaderOf(survivors[0] as Replica)) === leader)
    await new Promise((resolve) => setTimeout(resolve, 100))
  const after = Date.now() - killed
  // The lease ends at most LEASE_MS after its last renewal; a survivor takes it at its next sync.
  // On a loaded machine a sync may come late: one more of slack.
  t.ok(after <= LEASE_MS + 3 * SYNC_MS, `a new leader (${next}) within one lease and a sync: ${after} ms`)
  t.ok(
    survivors.some(({ program }) => next?.endsWith(`/${program.child.pid}`)),
    'a survivor leads',
  )
  const now = (await stepOf(survivors[0] as Replica)) as number
  t.ok(now >= (step as number), `it went on from step ${step}`)
  await Promise.all(survivors.map(({ program }) => said(program, /^canary green promoted/)))
  await load.stop()
  for (const { program } of survivors)
    t.same(
      canaryLines(program).map((line) => line.share_percent),
      [40, 70, 100, 100],
      'each step once, none skipped',
    )
  t.equal(load.failed(survivors.map((one) => fleet.indexOf(one))), 0, 'no request to a survivor failed')
})

t.test('Redis stopped mid-rollout: every replica keeps serving, says so once, and rejoins', async (t) => {
  const redis = await startRedis(t)
  const { fleet } = await rollout(t, redis.url)
  const load = drive(fleet)
  await Promise.all(fleet.map(({ program }) => said(program, /^canary green up from 10% to 40%/)))
  await redis.stop()
  await Promise.all(fleet.map(({ program }) => said(program, /^fleet: the store .* is unreachable/)))
  const answered = load.answers.length
  await Promise.all(fleet.map(({ program }) => said(program, /^canary green up from 40% to 70%/)))
  t.ok(load.answers.length > answered, 'requests answered while the store is away')
  await redis.start()
  await Promise.all(fleet.map(({ program }) => said(program, /^fleet: rejoined/)))
  await Promise.all(fleet.map(({ program }) => said(program, /^canary green promoted/)))
  await load.stop()
  t.equal(load.failed(), 0, 'no request failed')
  for (const { program } of fleet) {
    const lost = program.lines.filter((line) => /^fleet: the store .* is unreachable/.test(String(line.msg)))
    t.equal(lost.length, 1, 'said once')
    t.notOk(
      program.lines.some((line) => /^fleet: a sync failed/.test(String(line.msg))),
      'and not said again as a failed sync',
    )
    t.ok(
      program.lines.some((line) => /^fleet: the store .* is back/.test(String(line.msg))),
      'back said',
    )
  }
})

t.test('a replica started after step 2 starts at the fleet’s step', async (t) => {
  const redis = await startRedis(t)
  const { env, fleet } = await rollout(t, redis.url)
  const load = drive(fleet)
  await Promise.all(fleet.map(({ program }) => said(program, /^canary green up from 10% to 40%/)))
  const [late] = await replicas(t, 1, env)
  const step = await stepOf(late as Replica)
  t.ok((step as number) >= 2, `listening at step ${step}`)
  const joined = (late as Replica).program.lines.find((line) => /^canary green joins/.test(String(line.msg)))
  t.match(
    String(joined?.msg),
    /^canary green joins the fleet's rollout: progressing at (40|70)%, step [23] of 4$/,
  )
  t.equal(canaryLines((late as Replica).program).length, 0, 'and never judged a step alone')
  t.ok(
    (joined?.time as number) <=
      ((late as Replica).program.lines.find((line) => line.msg === 'listening')?.time as number),
    'before it listened',
  )
  const metrics = (await get(`${(late as Replica).admin}/metrics`)).body
  t.match(metrics, /^colorproxy_fleet_replicas 4$/m)
  await load.stop()
})
