import t from 'tap'
import { createAdminServer } from '../../src/observe/admin.js'
import { loadConfig } from '../../src/config/load.js'
import { get } from '../helpers/clients.js'
import { listen } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'
import { issue, testCa } from '../helpers/tls.js'
import { readCertificate } from '../../src/config/certificates.js'
import { life } from '../../src/observe/stats-page.js'

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

t.test('the stats page and stats.json list the served certificates and their remaining life', async (t) => {
  const config = loadConfig({ BLUE: 'http://127.0.0.1:1' }, { readFile: () => '' })
  const ca = testCa()
  const made = issue(ca, ['shop.example.com', 'www.example.com'], 90)
  const api = issue(ca, ['api.example.com'], 3)
  const served = [
    readCertificate('acme:shop.example.com', made.cert, made.key),
    readCertificate('TLS_CERT', api.cert, api.key),
  ]
  // The clock is pinned to a day after the first one was made.
  const now = () => (served[0] as { notAfter: Date }).notAfter.getTime() - 89 * 86_400_000
  const stats = () => Promise.resolve({ uptimeS: 1, rate: 0, requests: 0, sites: [] })
  const state = { ready: () => true, metrics: stats as never, stats, certificates: () => served, now }
  const port = await listen(t, createAdminServer(config, state))
  const json = JSON.parse((await get(`http://127.0.0.1:${port}/stats.json`)).body)
  t.match(json.certificates, [
    { names: ['shop.example.com', 'www.example.com'], source: 'acme', remainingS: 89 * 86_400 },
    { names: ['api.example.com'], source: 'TLS_CERT' },
  ])
  t.notMatch(JSON.stringify(json), /PRIVATE KEY/, 'never a key')
  const page = (await get(`http://127.0.0.1:${port}/`)).body
  t.match(page, /<h2>Certificates<\/h2>/)
  t.match(
    page,
    /<td>shop\.example\.com, www\.example\.com<\/td><td>acme<\/td><td>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td><td class="">89 days<\/td>/,
  )
  t.match(
    page,
    /<td>api\.example\.com<\/td><td>TLS_CERT<\/td><td>[^<]+<\/td><td class="short">(2 days|47 h)<\/td>/,
    'under a week left: marked',
  )
  const none = await listen(t, createAdminServer(config, { ...state, certificates: () => [] }))
  t.match((await get(`http://127.0.0.1:${none}/`)).body, /none served yet/, 'a TLS port with nothing yet')
  const plain = await listen(t, createAdminServer(config, { ...state, certificates: undefined }))
  t.notMatch((await get(`http://127.0.0.1:${plain}/`)).body, /Certificates/, 'no TLS, no list')
})

t.test('a remaining life reads in days, hours or minutes, and expired at its end', async (t) => {
  t.equal(life(89 * 86_400 + 5), '89 days')
  t.equal(life(2 * 86_400 - 1), '47 h')
  t.equal(life(2 * 3600 - 1), '119 min')
  t.equal(life(20), '1 min')
  t.equal(life(0), 'expired')
})
