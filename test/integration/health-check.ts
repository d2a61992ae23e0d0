// Active health checks (the issue "One client, bounded", item 7): an address that fails HEALTH_CHECK_PATH
// leaves its color's rotation within HEALTH_CHECK_FAILS × HEALTH_CHECK_INTERVAL, and comes back after it
// passes again; a color with no healthy address leaves the split.
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { startColorProxy } from '../helpers/proxy.js'

/** A backend on `host` (and `port`, 0: any) that names itself, and whose /healthz answers `health.status`. */
async function backend(t: Parameters<typeof startColorProxy>[0], host: string, port = 0) {
  const health = { status: 200, checks: 0 }
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      health.checks++
      res.statusCode = health.status
      return res.end('health')
    }
    res.end(host)
  })
  server.listen(port, host)
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, health }
}

t.test(
  'one of three addresses failing /healthz leaves rotation, and comes back when it recovers',
  async (t) => {
    const first = await backend(t, '127.0.0.1')
    const others = [await backend(t, '127.0.0.2', first.port), await backend(t, '127.0.0.3', first.port)]
    const bad = others[1]?.health as { status: number; checks: number }
    const proxy = await startColorProxy(
      t,
      {
        BLUE: `http://tasks.app:${first.port}`,
        HEALTH_CHECK_PATH: '/healthz',
        HEALTH_CHECK_INTERVAL: '100ms',
        HEALTH_CHECK_FAILS: '3',
        HEALTH_CHECK_PASSES: '2',
      },
      {
        resolve: async () =>
          ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((address) => ({ address, family: 4 })),
      },
    )
    const seen = async (count: number) => {
      const hosts = new Set<string>()
      for (let i = 0; i < count; i++) hosts.add((await get(proxy.url)).body)
      return [...hosts].sort()
    }
    t.same(await seen(9), ['127.0.0.1', '127.0.0.2', '127.0.0.3'], 'all three take traffic')
    const failing = performance.now()
    bad.status = 500
    const left = await proxy.line(
      (l) => l.msg === 'blue 127.0.0.3 left rotation: 3 failed health checks (status 500)',
    )
    const took = performance.now() - failing
    t.ok(
      took <= 3 * 100 + 150,
      `out of rotation after ${Math.round(took)} ms (3 × 100 ms and one check's time)`,
    )
    t.match(left, { level: 40, color: 'blue', address: '127.0.0.3', healthy: false })
    t.same(await seen(12), ['127.0.0.1', '127.0.0.2'], 'no traffic for it')
    t.match(
      (await get(`${proxy.admin}/metrics`)).body,
      /colorproxy_upstream_healthy\{site="default",color="blue",address="127\.0\.0\.3"\} 0/,
    )
    const stats = JSON.parse((await get(`${proxy.admin}/stats.json`)).body)
    t.match(
      stats,
      { sites: [{ colors: [{ name: 'blue', unhealthy: ['127.0.0.3'] }] }] },
      'stats.json lists it',
    )
    t.match((await get(proxy.admin)).body, /unhealthy: 127\.0\.0\.3/, 'and the stats page')
    bad.status = 200
    await proxy.line((l) => l.msg === 'blue 127.0.0.3 passes its health checks again')
    t.same(await seen(9), ['127.0.0.1', '127.0.0.2', '127.0.0.3'], 'it takes traffic again')
    t.match(
      (await get(`${proxy.admin}/metrics`)).body,
      /colorproxy_upstream_healthy\{site="default",color="blue",address="127\.0\.0\.3"\} 1/,
    )
  },
)

t.test('a color whose every address fails its checks leaves the split', async (t) => {
  const blue = await backend(t, '127.0.0.1')
  const green = await backend(t, '127.0.0.1')
  blue.health.status = 503
  const proxy = await startColorProxy(t, {
    BLUE: `http://127.0.0.1:${blue.port}`,
    GREEN: `http://127.0.0.1:${green.port}`,
    HEALTH_CHECK_PATH: '/healthz',
    HEALTH_CHECK_INTERVAL: '50ms',
    HEALTH_CHECK_FAILS: '1',
  })
  await proxy.line((l) => l.msg === `blue 127.0.0.1 left rotation: 1 failed health checks (status 503)`)
  for (let i = 0; i < 10; i++) t.equal((await get(proxy.url)).body, '127.0.0.1')
  const metrics = (await get(`${proxy.admin}/metrics`)).body
  t.match(metrics, /colorproxy_requests_total\{site="default",color="green",code="200"\} 10/)
  t.notMatch(metrics, /color="blue",code="200"/, 'blue got none')
})

t.test('a check that gets no answer within HEALTH_CHECK_TIMEOUT fails', async (t) => {
  const hung = http.createServer(() => {})
  hung.listen(0, '127.0.0.1')
  await once(hung, 'listening')
  t.teardown(() => {
    hung.closeAllConnections()
    hung.close()
  })
  const { port } = hung.address() as AddressInfo
  const proxy = await startColorProxy(t, {
    BLUE: `http://127.0.0.1:${port}`,
    HEALTH_CHECK_PATH: '/healthz',
    HEALTH_CHECK_INTERVAL: '50ms',
    HEALTH_CHECK_TIMEOUT: '100ms',
    HEALTH_CHECK_FAILS: '1',
  })
  const line = await proxy.line((l) => String(l.msg).includes('left rotation'))
  t.match(line.reason, /no answer within 100 ms/)
})

t.test('a color whose only address fails its checks still serves when no other color can', async (t) => {
  const only = await backend(t, '127.0.0.1')
  only.health.status = 500
  const proxy = await startColorProxy(t, {
    BLUE: `http://127.0.0.1:${only.port}`,
    HEALTH_CHECK_PATH: '/healthz',
    HEALTH_CHECK_INTERVAL: '50ms',
    HEALTH_CHECK_FAILS: '1',
  })
  await proxy.line((l) => String(l.msg).includes('left rotation'))
  const answer = await get(proxy.url)
  t.equal(answer.status, 200, 'as nginx does when every server is down: tried anyway')
})
