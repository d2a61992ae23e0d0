// sillyproxy's README walkthrough, replayed with real myapp and colorproxy processes in place of the
// Swarm services. Each `docker service update --env-add/--env-rm proxy` becomes a new proxy process
// started with the updated environment, as Swarm replaces a task.
import http from 'node:http'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { startMyapp, startProxy } from '../helpers/programs.js'

const BLUE_PAGE = 'blue e99a62b52d1d\n'
const GREEN_PAGE = '\n<h1>be0dc0efaba2 (green)</h1>\n'

/** `docker service update --env-add K=V --env-rm K`, applied to a service's environment. */
function update(
  env: Record<string, string>,
  { add = {}, rm = [] }: { add?: Record<string, string>; rm?: string[] },
) {
  const next = { ...env, ...add }
  for (const name of rm) delete next[name]
  return next
}

async function tally(url: string, n: number): Promise<Map<string, number>> {
  const agent = new http.Agent({ keepAlive: true })
  const seen = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const { body } = await get(url, { agent })
    seen.set(body, (seen.get(body) ?? 0) + 1)
  }
  agent.destroy()
  return seen
}

t.test('blue → 4:1 canary → all green → rollback, with the README outputs', async (t) => {
  const v1 = await startMyapp(t, { HOSTNAME: 'e99a62b52d1d' })
  t.equal((await get(v1.url)).body, 'unknown e99a62b52d1d\n', 'myapp-v1 directly: no Color header')

  // docker service create --name proxy -eBLUE=http://myapp-v1:8080 sillyproxy
  let env: Record<string, string> = { BLUE: v1.url }
  let proxy = await startProxy(t, env)
  t.equal((await get(proxy.url)).body, BLUE_PAGE, 'through the proxy: the Color header is set')

  const v2 = await startMyapp(t, { HOSTNAME: 'be0dc0efaba2', V2: '1' })
  t.equal((await get(v2.url)).body, '\n<h1>be0dc0efaba2 (unknown)</h1>\n', 'myapp-v2 directly')

  // docker service update --env-add GREEN=http://myapp-v2:8080/ --env-add GREEN_WEIGHT=1 --env-add BLUE_WEIGHT=4 proxy
  env = update(env, { add: { GREEN: `${v2.url}/`, GREEN_WEIGHT: '1', BLUE_WEIGHT: '4' } })
  proxy = await replace(t, proxy, env)
  const canary = await tally(proxy.url, 1000)
  t.same([...canary.keys()].sort(), [GREEN_PAGE, BLUE_PAGE].sort(), 'only the two pages')
  const green = ((canary.get(GREEN_PAGE) ?? 0) / 1000) * 100
  t.ok(Math.abs(green - 20) <= 5, `green took ${green}% of 1000 requests (20 ± 5)`)

  // docker service update --env-rm GREEN_WEIGHT --env-rm BLUE_WEIGHT --env-rm BLUE proxy
  env = update(env, { rm: ['GREEN_WEIGHT', 'BLUE_WEIGHT', 'BLUE'] })
  proxy = await replace(t, proxy, env)
  t.same([...(await tally(proxy.url, 50)).entries()], [[GREEN_PAGE, 50]], 'all green')

  // docker service update --env-rm GREEN --env-add BLUE=http://myapp-v1:8080 proxy
  env = update(env, { rm: ['GREEN'], add: { BLUE: v1.url } })
  proxy = await replace(t, proxy, env)
  t.same([...(await tally(proxy.url, 50)).entries()], [[BLUE_PAGE, 50]], 'rolled back to blue')
})

t.test('--env-rm GREEN alone is a rollback: the leftover weight is only a warning', async (t) => {
  const v1 = await startMyapp(t, { HOSTNAME: 'e99a62b52d1d' })
  const v2 = await startMyapp(t, { HOSTNAME: 'be0dc0efaba2', V2: '1' })
  let env: Record<string, string> = { BLUE: v1.url, GREEN: v2.url, BLUE_WEIGHT: '4', GREEN_WEIGHT: '1' }
  let proxy = await startProxy(t, env)
  env = update(env, { rm: ['GREEN'] })
  proxy = await replace(t, proxy, env)
  t.same([...(await tally(proxy.url, 50)).entries()], [[BLUE_PAGE, 50]])
  t.match(proxy.program.lines[0], { msg: 'GREEN_WEIGHT is set but GREEN is not: green gets no traffic' })
})

/** A rolling update of one replica: start the new task, then stop the old one (start-first). */
async function replace(
  t: Parameters<typeof startProxy>[0],
  old: Awaited<ReturnType<typeof startProxy>>,
  env: Record<string, string>,
) {
  const next = await startProxy(t, env)
  old.program.child.kill('SIGINT')
  await old.program.exit
  return next
}
