// WORKERS=N: a node:cluster primary and N workers on one port, as real processes. Readiness, metrics and
// the stats page cover every worker, one SIGTERM drains them all, and a dead worker is replaced.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { availableParallelism } from 'node:os'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { listen, quietPort, recordingUpstream } from '../helpers/upstreams.js'
import { type Program, start, startProxy } from '../helpers/programs.js'
import { PROXY } from '../helpers/paths.js'
import { ACCEPTORS } from '../../src/listen/sockets.js'

function workerPids(program: Program): number[] {
  const pid = program.child.pid as number
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
}

/** The socket inodes /proc/net/tcp{,6} lists on a local port in a state (0A: listening, 01: established). */
function socketsOn(port: number, state: '0A' | '01'): Set<string> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  const inodes = new Set<string>()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields[1]?.endsWith(hex) && fields[3] === state) inodes.add(fields[9] as string)
    }
  }
  return inodes
}

/** Where a descriptor points; '' once it is closed (between listing the folder and reading the link). */
function linkOf(path: string): string {
  try {
    return readlinkSync(path)
  } catch {
    return ''
  }
}

/** How many of these socket inodes each process holds open. */
function held(pids: number[], inodes: Set<string>): number[] {
  return pids.map(
    (pid) =>
      readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        const target = /^socket:\[(\d+)\]$/.exec(linkOf(`/proc/${pid}/fd/${fd}`))
        return target !== null && inodes.has(target[1] as string)
      }).length,
  )
}

// server.listen's reusePort came in Node 22.12 and 23.1; colorproxy needs 24 (an older Node ignores it).
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number]
const reusePort = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)

t.test(
  'WORKERS=2 on a fixed port: each worker binds it (SO_REUSEPORT) and the kernel spreads connections',
  { skip: !reusePort && `Node ${process.version} has no reusePort` },
  async (t) => {
    const up = await recordingUpstream(t)
    const port = await quietPort()
    const proxy = await startProxy(t, { BLUE: up.url, WORKERS: '2', PORT: String(port) })
    const workers = workerPids(proxy.program)
    const primary = proxy.program.child.pid as number
    t.same(
      held([primary, ...workers], socketsOn(port, '0A')),
      [0, ACCEPTORS, ACCEPTORS],
      `${ACCEPTORS} listening sockets per worker, none in the primary`,
    )
    const agent = new http.Agent({ keepAlive: true, maxSockets: 40 })
    t.teardown(() => agent.destroy())
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => get(`http://127.0.0.1:${port}/`, { agent })),
    )
    t.ok(
      answers.every((answer) => answer.status === 200),
      '40 answers',
    )
    const open = held(workers, socketsOn(port, '01'))
    t.equal(
      open.reduce((a, b) => a + b, 0),
      40,
      'every kept connection is held by a worker',
    )
    t.ok(
      open.every((count) => count > 0),
      `both workers took connections (${open.join(' and ')})`,
    )
  },
)

t.test(
  'WORKERS=2: two workers serve one port; /metrics and /stats.json count every request once',
  async (t) => {
    const up = await recordingUpstream(t)
    const proxy = await startProxy(t, { BLUE: up.url, WORKERS: '2' })
    t.equal(workerPids(proxy.program).length, 2, 'two worker processes')
    t.equal((await get(`${proxy.admin}/readyz`)).status, 200)
    // A new connection per request: the primary hands connections to the workers in turn.
    for (let i = 0; i < 20; i++) t.equal((await get(proxy.url)).status, 200)
    t.equal(up.requests.length, 20)
    const metrics = (await get(`${proxy.admin}/metrics`)).body
    t.match(
      metrics,
      /^colorproxy_requests_total\{site="default",color="blue",code="200"\} 20$/m,
      'summed over workers',
    )
    t.match(metrics, /^colorproxy_color_weight\{site="default",color="blue"\} 1$/m, 'a weight is not summed')
    t.match(metrics, /^colorproxy_color_ejected\{site="default",color="blue"\} 0$/m)
    const stats = JSON.parse((await get(`${proxy.admin}/stats.json`)).body)
    t.equal(stats.requests, 20, 'the stats page merges the workers')
    t.match(stats.sites, [{ site: 'default', colors: [{ name: 'blue', requests: 20, observed: 100 }] }])
    t.match((await get(`${proxy.admin}/`)).body, /<html/)
    t.match(JSON.parse((await get(`${proxy.admin}/config`)).body), { workers: 2 })
  },
)

t.test('WORKERS=2 with SITES: each site merged on its own across the workers', async (t) => {
  const shop = await recordingUpstream(t)
  const api = await recordingUpstream(t)
  const proxy = await startProxy(t, {
    SITES: 'shop,api',
    SHOP_HOSTS: 'shop.test',
    SHOP_BLUE: shop.url,
    API_PATHS: '/api',
    API_GREEN: api.url,
    WORKERS: '2',
  })
  for (let i = 0; i < 6; i++) t.equal((await get(proxy.url, { headers: { host: 'shop.test' } })).status, 200)
  for (let i = 0; i < 4; i++) t.equal((await get(`${proxy.url}/api/${i}`)).status, 200)
  t.equal((await get(`${proxy.url}/elsewhere`)).status, 404)
  const stats = JSON.parse((await get(`${proxy.admin}/stats.json`)).body)
  t.equal(stats.requests, 10, 'a 404 is no site’s request')
  t.match(stats.sites, [
    { site: 'shop', requests: 6, colors: [{ name: 'blue', requests: 6 }] },
    { site: 'api', requests: 4, colors: [{ name: 'green', requests: 4 }] },
  ])
  const metrics = (await get(`${proxy.admin}/metrics`)).body
  t.match(metrics, /^colorproxy_requests_total\{site="shop",color="blue",code="200"\} 6$/m)
  t.match(metrics, /^colorproxy_requests_total\{site="none",color="none",code="404"\} 1$/m)
})

t.test('WORKERS=2 and SIGTERM: readyz 503 at once, the request in flight gets 200, exit 0', async (t) => {
  const up = await recordingUpstream(t, (_req, res) => {
    setTimeout(() => res.end('slow but fine'), 1000)
  })
  const proxy = await startProxy(t, { BLUE: up.url, WORKERS: '2', SHUTDOWN_DELAY: '500ms' })
  const answer = get(proxy.url, { agent: new http.Agent({ keepAlive: true }) })
  await new Promise<void>((resolve) => up.server.once('request', () => resolve()))
  proxy.program.child.kill('SIGTERM')
  await proxy.program.line((line) => line.msg === 'shutting down: readyz now 503')
  t.equal((await get(`${proxy.admin}/readyz`)).status, 503)
  t.match(await answer, { status: 200, body: 'slow but fine' })
  t.equal((await proxy.program.exit).code, 0)
  t.equal(
    proxy.program.lines.filter((line) => line.msg === 'stopped').length,
    3,
    'two workers, then the primary',
  )
  t.match(proxy.program.lines.at(-1), { msg: 'stopped', level: 30 })
})

t.test('a worker that dies is replaced', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startProxy(t, { BLUE: up.url, WORKERS: '2', LOG_LEVEL: 'debug' })
  const [victim] = workerPids(proxy.program) as [number]
  process.kill(victim, 'SIGKILL')
  await proxy.program.line((line) => line.msg === 'worker died: starting another')
  await proxy.program.line(
    (line) =>
      line.msg === 'worker listening' &&
      proxy.program.lines.filter((l) => l.msg === 'worker listening').length === 3,
  )
  t.equal(workerPids(proxy.program).length, 2)
  t.notOk(workerPids(proxy.program).includes(victim))
  t.equal((await get(`${proxy.admin}/readyz`)).status, 200)
  t.equal((await get(proxy.url)).status, 200)
})

t.test('a worker that does not answer makes the stats a 500 within 2 s, not a hang', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startProxy(t, { BLUE: up.url, WORKERS: '2' })
  const [stuck] = workerPids(proxy.program) as [number]
  process.kill(stuck, 'SIGSTOP')
  t.teardown(() => process.kill(stuck, 'SIGCONT'))
  t.match(await get(`${proxy.admin}/stats.json`), {
    status: 500,
    body: /^stats failed: worker \d did not answer\n$/,
  })
  process.kill(stuck, 'SIGCONT')
  t.equal((await get(`${proxy.admin}/stats.json`)).status, 200, 'and answers again once it does')
})

t.test('WORKERS=2: a second signal skips the rest of SHUTDOWN_DELAY', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startProxy(t, { BLUE: up.url, WORKERS: '2', SHUTDOWN_DELAY: '60s' })
  proxy.program.child.kill('SIGTERM')
  await proxy.program.line((line) => line.msg === 'shutting down: readyz now 503')
  t.equal((await get(proxy.url)).status, 200, 'still serving during the delay')
  proxy.program.child.kill('SIGTERM')
  t.equal((await proxy.program.exit).code, 0)
})

t.test('WORKERS=2 on a taken port: the primary exits 1 and says why', async (t) => {
  const taken = await listen(t, net.createServer(), '0.0.0.0')
  const program = start(t, PROXY, { BLUE: 'http://a:1', PORT: String(taken), ADMIN_PORT: '0', WORKERS: '2' })
  t.equal((await program.exit).code, 1)
  t.match(program.stderr(), /another process is using that port/)
  t.match(program.stderr(), /colorproxy: cannot start: a worker exited \(1\) before it listened\n/)
})

t.test('WORKERS=auto: /config shows how many workers run', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startProxy(t, { BLUE: up.url, WORKERS: 'auto' })
  t.match(JSON.parse((await get(`${proxy.admin}/config`)).body), { workers: availableParallelism() })
})

t.test(
  "WORKERS=2: a worker's aborted canary fails the primary's /healthz (CANARY_ABORT_HEALTH)",
  async (t) => {
    const blue = await recordingUpstream(t)
    const green = await recordingUpstream(t, (_req, res) => {
      res.statusCode = 500
      res.end()
    })
    const proxy = await startProxy(t, {
      BLUE: blue.url,
      GREEN: green.url,
      WORKERS: '2',
      CANARY: 'green',
      CANARY_STEPS: '50,100',
      CANARY_INTERVAL: '1s',
      CANARY_MIN_REQUESTS: '3',
      CANARY_ABORT_HEALTH: 'true',
      LOG_LEVEL: 'info',
    })
    t.equal((await get(`${proxy.admin}/healthz`)).status, 200)
    for (let i = 0; i < 40; i++) await get(proxy.url)
    await proxy.program.line((line) => /^canary green aborted at 50%/.test(String(line.msg)))
    t.match(await get(`${proxy.admin}/healthz`), { status: 503, body: 'canary aborted\n' })
    const stats = JSON.parse((await get(`${proxy.admin}/stats.json`)).body)
    t.match(stats.sites[0].canary, { color: 'green', state: 'aborted', share: 0 })
  },
)
