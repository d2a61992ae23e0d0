// SITES end to end: several services behind one proxy by host and path, each with its own colors; what
// each backend receives (STRIP_PATH, X-Forwarded-Prefix), the 404 with no default site, the metrics'
// `site` label, the access log, /config; and per site: sticky cookies, override, basic auth, WebSockets
// and HTTP/2.
import { once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import bcrypt from 'bcryptjs'
import t from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { get } from '../helpers/clients.js'
import { listen, recordingUpstream } from '../helpers/upstreams.js'
import { startProxy } from '../helpers/programs.js'
import { startColorProxy } from '../helpers/proxy.js'
import { issue, testCa } from '../helpers/tls.js'

/** A backend that answers with its own name, and what it was asked for. */
type Backend = Awaited<ReturnType<typeof recordingUpstream>>
const named = (name: string): Promise<Backend> =>
  recordingUpstream(t, (req, res) => res.end(`${name} ${req.headers.color} ${req.url}\n`))

t.test(
  'the issue: shop by host, api by path with its prefix stripped, the rest to the default site',
  async (t) => {
    const [main, shop, apiBlue, apiGreen] = (await Promise.all(
      ['main', 'shop', 'api-blue', 'api-green'].map(named),
    )) as [Backend, Backend, Backend, Backend]
    const env = {
      SITES: 'shop,api',
      SHOP_HOSTS: 'shop.localhost',
      SHOP_BLUE: shop.url,
      API_PATHS: '/api',
      API_STRIP_PATH: 'true',
      API_BLUE: apiBlue.url,
      API_GREEN: apiGreen.url,
      API_GREEN_WEIGHT: '1',
    }
    const proxy = await startProxy(t, { ...env, BLUE: main.url })
    const shopAnswer = await get(`${proxy.url}/`, {
      headers: { host: 'shop.localhost', 'x-forwarded-prefix': '/evil' },
    })
    t.equal(shopAnswer.body, 'shop blue /\n')
    t.equal(
      shop.requests[0]?.headers['x-forwarded-prefix'],
      undefined,
      "a client's X-Forwarded-Prefix is dropped",
    )
    t.equal((await get(`${proxy.url}/`, { headers: { host: 'SHOP.localhost.:8080' } })).body, 'shop blue /\n')

    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        get(`${proxy.url}/api/x?y=1`, { agent, headers: { host: 'localhost' } }),
      ),
    )
    agent.destroy()
    t.same(new Set(answers.map((answer) => answer.body.split(' ').slice(2).join(' '))), new Set(['/x?y=1\n']))
    t.ok(
      apiBlue.requests.length >= 70 && apiGreen.requests.length >= 70,
      `~50/50: ${apiBlue.requests.length} blue, ${apiGreen.requests.length} green`,
    )
    t.equal(apiBlue.requests.length + apiGreen.requests.length, 200)
    t.match(apiGreen.requests[0]?.headers, {
      color: 'green',
      'x-forwarded-prefix': '/api',
      host: 'localhost',
    })
    t.equal((await get(`${proxy.url}/api`)).body.split(' ')[2], '/\n', '/api → /')

    t.equal((await get(`${proxy.url}/anything`)).body, 'main blue /anything\n')
    t.equal((await get(`${proxy.url}/apix`)).body, 'main blue /apix\n', 'whole segments only')
    t.equal((await get(`${proxy.url}/`, { headers: { host: 'other.localhost' } })).body, 'main blue /\n')

    const metrics = (await get(`${proxy.admin}/metrics`)).body
    t.match(metrics, /^colorproxy_requests_total\{site="api",color="green",code="200"\} \d+$/m)
    t.match(metrics, /^colorproxy_requests_total\{site="shop",color="blue",code="200"\} 2$/m)
    t.match(metrics, /^colorproxy_requests_total\{site="default",color="blue",code="200"\} 3$/m)
    t.match(metrics, /^colorproxy_color_weight\{site="api",color="green"\} 1$/m)
    const config = JSON.parse((await get(`${proxy.admin}/config`)).body)
    t.same(
      config.sites.map((site: { name: string; hosts: string[] | null; paths: string[] }) => [
        site.name,
        site.hosts,
        site.paths,
      ]),
      [
        ['default', null, ['/']],
        ['shop', ['shop.localhost'], ['/']],
        ['api', null, ['/api']],
      ],
    )
    const logged = await proxy.program.line((line) => line.msg === 'request' && line.site === 'api')
    t.match(
      logged,
      { path: '/api/x', color: /^(blue|green)$/ },
      'the access log names the site and the path as sent',
    )
    t.ok(proxy.program.lines.some((line) => line.msg === 'site api serves any host /api'))

    // No default site: what no site serves is a 404 of colorproxy's own.
    const bare = await startProxy(t, env)
    const missing = await get(`${bare.url}/elsewhere`)
    t.equal(missing.status, 404)
    t.equal(missing.body, '404 no site serves this host and path\n')
    t.match(
      (await get(`${bare.admin}/metrics`)).body,
      /^colorproxy_requests_total\{site="none",color="none",code="404"\} 1$/m,
    )
    t.match(await bare.program.line((line) => line.status === 404), {
      site: 'none',
      route: 'refused',
      path: '/elsewhere',
    })
  },
)

t.test('per site: its own sticky cookie, override header, failover and users', async (t) => {
  const [shopBlue, shopGreen, apiBlue, apiGreen] = (await Promise.all(
    ['shop-blue', 'shop-green', 'api-blue', 'api-green'].map(named),
  )) as [Backend, Backend, Backend, Backend]
  const proxy = await startColorProxy(t, {
    SITES: 'shop,api',
    SHOP_HOSTS: 'shop.test',
    SHOP_BLUE: shopBlue.url,
    SHOP_GREEN: shopGreen.url,
    SHOP_GREEN_WEIGHT: '0',
    API_HOSTS: 'api.test',
    API_BLUE: apiBlue.url,
    API_GREEN: apiGreen.url,
    API_BLUE_WEIGHT: '0',
    STICKY: 'cookie',
    OVERRIDE_HEADER: 'X-Color',
    API_OVERRIDE_HEADER: 'X-Api-Color',
    API_USERS: `ann:${bcrypt.hashSync('ann-pass', 4)}`,
  })
  const shop = await get(proxy.url, { headers: { host: 'shop.test' } })
  t.equal(shop.body, 'shop-blue blue /\n')
  t.match(shop.headers['set-cookie'], [
    /^colorproxy-shop=blue; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/,
  ])
  t.equal(
    (await get(proxy.url, { headers: { host: 'shop.test', 'x-color': 'green' } })).body,
    'shop-green green /\n',
  )
  t.equal(
    (await get(proxy.url, { headers: { host: 'shop.test', 'x-api-color': 'green' } })).body,
    'shop-blue blue /\n',
    "another site's override header means nothing here",
  )
  const denied = await get(proxy.url, { headers: { host: 'api.test' } })
  t.equal(denied.status, 401, "api's users guard api")
  const auth = `Basic ${Buffer.from('ann:ann-pass').toString('base64')}`
  const api = await get(proxy.url, {
    headers: { host: 'api.test', authorization: auth, cookie: 'colorproxy-shop=blue' },
  })
  t.equal(api.body, 'api-green green /\n', "a shop cookie does not pin api's color")
  t.match(api.headers['set-cookie'], [/^colorproxy-api=green;/])
  t.equal(
    (await get(proxy.url, { headers: { host: 'api.test', authorization: auth, 'x-api-color': 'blue' } }))
      .body,
    'api-blue blue /\n',
  )
  t.equal(apiGreen.requests[0]?.headers.authorization, undefined, 'the credentials stay at the edge')
  t.match(
    proxy.lines.find((line) => line.status === 401),
    { site: 'api', color: null },
  )
})

t.test('per site over HTTP/2 (:authority) and WebSockets (STRIP_PATH)', async (t) => {
  const ca = testCa()
  const certificate = issue(ca, ['shop.test', 'localhost'])
  const shop = await named('shop')
  const sockets = new WebSocketServer({ noServer: true })
  const wsPaths: string[] = []
  const wsBackend = http.createServer()
  wsBackend.on('upgrade', (req, socket, head) => {
    wsPaths.push(`${req.url} ${req.headers['x-forwarded-prefix']}`)
    sockets.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(`echo ${data}`)))
  })
  const wsPort = await listen(t, wsBackend)
  const proxy = await startColorProxy(t, {
    SITES: 'shop,live',
    SHOP_HOSTS: 'shop.test',
    SHOP_BLUE: shop.url,
    LIVE_PATHS: '/live',
    LIVE_STRIP_PATH: 'true',
    LIVE_BLUE: `http://127.0.0.1:${wsPort}`,
    TLS_CERT: certificate.cert,
    TLS_KEY: certificate.key,
  })
  const session = http2.connect(proxy.https, { ca: ca.cert, servername: 'shop.test' })
  session.on('error', () => {})
  t.teardown(() => session.destroy())
  const stream = session.request({ ':path': '/cart', ':authority': 'shop.test' })
  const [head] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
  let body = ''
  for await (const chunk of stream) body += chunk
  t.equal(head[':status'], 200)
  t.equal(body, 'shop blue /cart\n')
  const other = session.request({ ':path': '/cart', ':authority': 'other.test' })
  const [otherHead] = (await once(other, 'response')) as [http2.IncomingHttpHeaders]
  other.resume()
  t.equal(otherHead[':status'], 404, 'an :authority no site serves')

  const client = new WebSocket(`ws://127.0.0.1:${proxy.port}/live/feed?x=1`)
  await once(client, 'open')
  client.send('hi')
  const [reply] = await once(client, 'message')
  t.equal(String(reply), 'echo hi')
  client.close()
  t.same(wsPaths, ['/feed?x=1 /live'])
})

t.test('per site: a dead color is ejected and failed over in its own site only', async (t) => {
  const { refusedPort } = await import('../helpers/upstreams.js')
  const dead = `http://127.0.0.1:${await refusedPort()}`
  const [shopBlue, apiGreen] = (await Promise.all(['shop-blue', 'api-green'].map(named))) as [
    Backend,
    Backend,
  ]
  const proxy = await startColorProxy(t, {
    SITES: 'shop,api',
    SHOP_HOSTS: 'shop.test',
    SHOP_BLUE: shopBlue.url,
    SHOP_GREEN: dead,
    SHOP_GREEN_WEIGHT: '0',
    SHOP_FAILOVER: 'false',
    API_HOSTS: 'api.test',
    API_BLUE: dead,
    API_GREEN: apiGreen.url,
    EJECT_AFTER: '2',
  })
  // Blue takes half of api's requests by a random pick, and ejection needs two of them: 20 requests make
  // fewer than two picks a one-in-50,000 chance (6 made it one in 9).
  for (let i = 0; i < 20; i++) {
    t.equal(
      (await get(proxy.url, { headers: { host: 'api.test', 'x-i': String(i) } })).status,
      200,
      'api fails over',
    )
  }
  const forced = await get(proxy.url, { headers: { host: 'shop.test' } })
  t.equal(forced.status, 200, "shop's blue is untouched")
  const metrics = (await get(`${proxy.admin}/metrics`)).body
  t.match(metrics, /^colorproxy_color_ejected\{site="api",color="blue"\} 1$/m)
  t.match(metrics, /^colorproxy_color_ejected\{site="shop",color="blue"\} 0$/m)
  t.match(metrics, /^colorproxy_ejections_total\{site="api",color="blue"\} 1$/m)
  t.match(metrics, /^colorproxy_failovers_total\{site="api",from="blue",to="green"\} [1-9]/m)
  t.match(
    proxy.lines.find((line) => line.msg?.toString().includes('ejected')),
    {
      site: 'api',
      color: 'blue',
      msg: /^blue \(site api\) ejected for 10000 ms/,
    },
  )
  const stats = JSON.parse((await get(`${proxy.admin}/stats.json`)).body)
  t.match(stats.sites, [
    { site: 'shop', serves: 'shop.test /', colors: [{ name: 'blue', ejected: false }, { name: 'green' }] },
    {
      site: 'api',
      serves: 'api.test /',
      colors: [{ name: 'blue', ejected: true, ejections: 1 }, { name: 'green' }],
    },
  ])
})
