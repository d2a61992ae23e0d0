import t from 'tap'
import { createAdminServer } from '../../src/observe/admin.js'
import { loadConfig } from '../../src/config/load.js'
import { get } from '../helpers/clients.js'
import { listen } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

const env = { BLUE: 'http://user:hunter2@127.0.0.1:1/base', GREEN: 'http://127.0.0.1:2', BLUE_WEIGHT: '4' }

t.test('/healthz answers ok while the process runs, whatever the upstreams do', async (t) => {
  const proxy = await startColorProxy(t, env)
  t.match(await get(`${proxy.admin}/healthz`), { status: 200, body: 'ok\n' })
})

t.test('/readyz answers 200 until shutdown begins', async (t) => {
  const proxy = await startColorProxy(t, env)
  t.match(await get(`${proxy.admin}/readyz`), { status: 200, body: 'ready\n' })
})

t.test('/config shows the effective configuration with credentials redacted', async (t) => {
  const proxy = await startColorProxy(t, env)
  const answer = await get(`${proxy.admin}/config`)
  t.equal(answer.status, 200)
  t.match(answer.headers['content-type'], /^application\/json/)
  const view = JSON.parse(answer.body)
  t.same(view.sites, [
    {
      name: 'default',
      hosts: null,
      paths: ['/'],
      strip_path: false,
      colors: [
        {
          name: 'blue',
          variable: 'BLUE',
          upstream: 'http://***@127.0.0.1:1/base',
          weight: 4,
          share_percent: 80,
        },
        { name: 'green', variable: 'GREEN', upstream: 'http://127.0.0.1:2', weight: 1, share_percent: 20 },
      ],
      sticky: { mode: 'off', cookie: 'colorproxy', ttl_ms: 86_400_000 },
      override_header: null,
      failover: true,
      users: null,
    },
  ])
  t.same(view.timeouts_ms, {
    connect: 5000,
    server: 60000,
    server_idle: 60000,
    client: 60000,
    http_keep_alive: 15000,
    tunnel: 3600000,
  })
  t.same(view.upstream_ms, { max_socket_age: 30000, keep_alive: 60000, resolve_every: 5000 })
  t.same(view.shutdown_ms, { delay: 2000, timeout: 2000 })
  t.match(view, { color_header: 'Color', preserve_host: true, log: { level: 'info', format: 'json' } })
  t.same(view.trusted_proxies, [])
  const trusted = await startColorProxy(t, { ...env, TRUSTED_PROXIES: '10.0.0.0/8' })
  t.same(JSON.parse((await get(`${trusted.admin}/config`)).body).trusted_proxies, ['Subnet: IPv4 10.0.0.0/8'])
  t.notMatch(answer.body, /hunter2|user[:@]/)
})

t.test('the admin listener never proxies, and says so for other paths and methods', async (t) => {
  const proxy = await startColorProxy(t, env)
  t.match(await get(`${proxy.admin}/anything`), { status: 404 })
  t.match(await get(`${proxy.admin}/anything`), {
    body: 'not found: the admin endpoints are / (the stats page), /stats.json, /metrics, /config, /healthz (liveness), /readyz (readiness)\n',
  })
  t.match(await get(`${proxy.admin}/stats`), {
    status: 404,
    body: /^not found: the stats page is at \/; the admin/,
  })
  t.match(await get(`${proxy.admin}/healthz?probe=1`), { status: 200 })
  const post = await get(`${proxy.admin}/healthz`, { method: 'POST' })
  t.equal(post.status, 405)
  t.equal(post.headers.allow, 'GET, HEAD')
  t.match(await get(`${proxy.admin}/healthz`, { method: 'HEAD' }), { status: 200, body: '' })
})

t.test(
  'metrics or stats that cannot be gathered (a worker that does not answer) are a 500 that says so',
  async (t) => {
    const config = loadConfig({ BLUE: 'http://127.0.0.1:1' }, { readFile: () => '' })
    const failing = () => Promise.reject(new Error('worker 2 did not answer'))
    const port = await listen(
      t,
      createAdminServer(config, { ready: () => true, metrics: failing, stats: failing }),
    )
    for (const [path, what] of [
      ['/metrics', 'metrics'],
      ['/stats.json', 'stats'],
      ['/', 'stats'],
    ]) {
      t.match(await get(`http://127.0.0.1:${port}${path}`), {
        status: 500,
        body: `${what} failed: worker 2 did not answer\n`,
      })
    }
  },
)
