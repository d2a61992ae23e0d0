// Canary controls end to end, over real sockets: sticky cookie, sticky header across separately started
// proxies, override, failover, ejection, metrics and basic auth on the admin listener.
import http from 'node:http'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { recordingUpstream, refusedPort } from '../helpers/upstreams.js'
import { startProxy } from '../helpers/programs.js'
import { startColorProxy } from '../helpers/proxy.js'

/** Two upstreams that answer with their own name. */
async function blueAndGreen(t: Parameters<typeof recordingUpstream>[0]) {
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue'))
  const green = await recordingUpstream(t, (_req, res) => res.end('green'))
  return { BLUE: blue.url, GREEN: green.url }
}

async function bodies(url: string, n: number, headers: Record<string, string> = {}) {
  const agent = new http.Agent({ keepAlive: true })
  const seen: string[] = []
  for (let i = 0; i < n; i++) seen.push((await get(url, { headers, agent })).body)
  agent.destroy()
  return seen
}

const all = (seen: string[], color: string) => seen.every((body) => body === color)

t.test(
  'STICKY=cookie: a client keeps its color through a drain, and re-picks when it is removed',
  async (t) => {
    const upstreams = await blueAndGreen(t)
    const cookie = { cookie: 'colorproxy=green' }
    const even = await startColorProxy(t, { ...upstreams, STICKY: 'cookie' })
    t.ok(
      all(await bodies(even.url, 40, cookie), 'green'),
      '40 requests with colorproxy=green at 1:1 reach green',
    )

    const drained = await startColorProxy(t, { ...upstreams, STICKY: 'cookie', GREEN_WEIGHT: '0' })
    t.ok(all(await bodies(drained.url, 40, cookie), 'green'), 'at GREEN_WEIGHT=0 they still do')
    const fresh = await Promise.all(Array.from({ length: 40 }, () => get(drained.url)))
    t.ok(
      fresh.every((answer) => answer.body === 'blue'),
      'new clients all go blue',
    )
    t.match(fresh[0]?.headers['set-cookie'], [
      /^colorproxy=blue; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/,
    ])
    const kept = await get(drained.url, { headers: cookie })
    t.equal(kept.headers['set-cookie'], undefined, 'a valid cookie is not set again')

    const removed = await startColorProxy(t, { BLUE: upstreams.BLUE, STICKY: 'cookie' })
    const after = await get(removed.url, { headers: cookie })
    t.equal(after.body, 'blue', 'with GREEN removed they go blue')
    t.match(after.headers['set-cookie'], [/^colorproxy=blue;/], 'and the cookie is reset')
    t.match(await removed.line((l) => l.msg === 'request'), { route: 'weighted' })
  },
)

t.test("STICKY_COOKIE and STICKY_TTL name and age the cookie, next to the upstream's own", async (t) => {
  const up = await recordingUpstream(t, (_req, res) => {
    res.setHeader('set-cookie', ['session=1; Path=/'])
    res.end('blue')
  })
  const proxy = await startColorProxy(t, {
    BLUE: up.url,
    STICKY: 'cookie',
    STICKY_COOKIE: 'version',
    STICKY_TTL: '1h',
  })
  const answer = await get(proxy.url)
  t.same(answer.headers['set-cookie'], [
    'session=1; Path=/',
    'version=blue; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax',
  ])
})

t.test(
  'STICKY=header: 600 keys land alike on two separately started proxies, and more weight only pulls',
  async (t) => {
    const upstreams = await blueAndGreen(t)
    const env = {
      ...upstreams,
      STICKY: 'header:X-User',
      BLUE_WEIGHT: '4',
      GREEN_WEIGHT: '1',
    }
    const [one, two, heavier] = await Promise.all([
      startProxy(t, env),
      startProxy(t, env),
      startProxy(t, { ...env, GREEN_WEIGHT: '3' }),
    ])
    const keys = Array.from({ length: 600 }, (_, i) => `user-${i}`)
    const colorsOn = async (url: string) => {
      const agent = new http.Agent({ keepAlive: true })
      const out: string[] = []
      for (const key of keys) out.push((await get(url, { headers: { 'x-user': key }, agent })).body)
      agent.destroy()
      return out
    }
    const [a, b, c] = await Promise.all([colorsOn(one.url), colorsOn(two.url), colorsOn(heavier.url)])
    t.same(a, b, 'every key on the same color on both proxies')
    const green = a.filter((color) => color === 'green').length / keys.length
    t.ok(Math.abs(green - 0.2) <= 0.05, `green's share at 4:1 is ${(green * 100).toFixed(1)}% (20 ± 5)`)
    const movedAway = keys.filter((_, i) => a[i] === 'green' && c[i] === 'blue')
    const movedToward = keys.filter((_, i) => a[i] === 'blue' && c[i] === 'green')
    t.same(movedAway, [], 'GREEN_WEIGHT 1 → 3 moves no key from green to blue')
    t.ok(movedToward.length > 100, `${movedToward.length} keys moved toward green`)
  },
)

t.test('STICKY=ip hashes the peer address; a request without the header gets a weighted pick', async (t) => {
  const upstreams = await blueAndGreen(t)
  const byIp = await startColorProxy(t, { ...upstreams, STICKY: 'ip' })
  const seen = new Set(await bodies(byIp.url, 20))
  t.equal(seen.size, 1, 'one address, one color')
  t.match(await byIp.line((l) => l.msg === 'request'), { route: 'sticky' })

  const sweep = [0, 0.9]
  const byHeader = await startColorProxy(
    t,
    { ...upstreams, STICKY: 'header:X-User' },
    { rand: () => sweep.shift() ?? 0 },
  )
  t.same(await bodies(byHeader.url, 2), ['blue', 'green'])
  t.match(await byHeader.line((l) => l.msg === 'request'), { route: 'weighted' })
})

t.test(
  'OVERRIDE_HEADER: a header or cookie naming a color wins, even at weight 0; unknown names are ignored',
  async (t) => {
    const upstreams = await blueAndGreen(t)
    const proxy = await startColorProxy(t, {
      ...upstreams,
      GREEN_WEIGHT: '0',
      OVERRIDE_HEADER: 'X-Color',
      STICKY: 'cookie',
    })
    t.ok(all(await bodies(proxy.url, 10, { 'x-color': 'green' }), 'green'), 'header')
    t.ok(all(await bodies(proxy.url, 10, { cookie: 'a=1; X-Color=Green' }), 'green'), 'cookie')
    t.ok(
      all(await bodies(proxy.url, 10, { 'x-color': 'green', cookie: 'colorproxy=blue' }), 'green'),
      'over a sticky cookie',
    )
    t.ok(all(await bodies(proxy.url, 10, { 'x-color': 'purple' }), 'blue'), 'unknown: weighted')
    t.match(await proxy.line((l) => l.msg === 'request'), { route: 'override', color: 'green' })

    const off = await startColorProxy(t, { ...upstreams, GREEN_WEIGHT: '0' })
    t.ok(all(await bodies(off.url, 10, { 'x-color': 'green' }), 'blue'), 'off when unset')
  },
)

t.test('FAILOVER: GREEN on a closed port at 1:1, 100 requests all get 200 from blue', async (t) => {
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue'))
  const proxy = await startColorProxy(t, {
    BLUE: blue.url,
    GREEN: `http://127.0.0.1:${await refusedPort()}`,
  })
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => get(`${proxy.url}/${i}`)))
  t.same(new Set(answers.map((a) => `${a.status} ${a.body}`)), new Set(['200 blue']))
  t.equal(blue.requests.length, 100)
  t.ok(
    blue.requests.every((r) => r.headers.color === 'blue'),
    'the Color header names the color that served it',
  )
  const failovers = proxy.lines.filter((l) => l.route === 'failover')
  // Requests already on their way to green when it was ejected fail over too: 5 or a few more.
  t.ok(failovers.length >= 5, `${failovers.length} failed over before the ejection took hold`)
  t.match(failovers[0], { color: 'blue', failover_from: 'green', status: 200 })
  t.equal(
    proxy.lines.filter((l) => String(l.msg).startsWith('green ejected')).length,
    1,
    'the ejection is logged once',
  )
  const metrics = (await get(`${proxy.admin}/metrics`)).body
  t.match(metrics, /colorproxy_ejections_total\{site="default",color="green"\} 1/)
  t.match(metrics, /colorproxy_color_ejected\{site="default",color="green"\} 1/)
  t.match(metrics, `colorproxy_failovers_total{site="default",from="green",to="blue"} ${failovers.length}\n`)
  t.match(
    metrics,
    `colorproxy_upstream_errors_total{site="default",color="green",reason="refused"} ${failovers.length}\n`,
  )
})

t.test('FAILOVER leaves requests with a body alone: they get the 502', async (t) => {
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue'))
  const proxy = await startColorProxy(
    t,
    { BLUE: blue.url, GREEN: `http://127.0.0.1:${await refusedPort()}` },
    { rand: () => 0.9 },
  )
  const answer = await get(proxy.url, { method: 'POST', body: 'x=1' })
  t.equal(answer.status, 502)
  t.equal(blue.requests.length, 0)
})

t.test(
  'ejection: out after EJECT_AFTER connect failures, back after EJECT_FOR; the last color stays',
  async (t) => {
    let clock = 0
    const dead = `http://127.0.0.1:${await refusedPort()}`
    const blue = await recordingUpstream(t, (_req, res) => res.end('blue'))
    const proxy = await startColorProxy(
      t,
      { BLUE: blue.url, GREEN: dead, FAILOVER: 'false', EJECT_AFTER: '2', EJECT_FOR: '10s' },
      { rand: () => 0.9, now: () => clock },
    )
    const statuses = async (n: number) => {
      const out: number[] = []
      for (let i = 0; i < n; i++) out.push((await get(proxy.url)).status)
      return out
    }
    t.same(await statuses(4), [502, 502, 200, 200], 'two failures, then green is out of the split')
    clock = 9_999
    t.same(await statuses(1), [200], 'still out')
    clock = 10_000
    t.same(await statuses(3), [502, 502, 200], 'tried again, and out again')

    const lonely = await startColorProxy(t, { BLUE: dead, EJECT_AFTER: '1' })
    t.same([(await get(lonely.url)).status, (await get(lonely.url)).status], [502, 502])
    t.notOk(
      lonely.lines.some((l) => String(l.msg).includes('ejected')),
      'the only color is never ejected',
    )
  },
)

t.test('/metrics counts exactly the requests sent per color', async (t) => {
  const upstreams = await blueAndGreen(t)
  const picks = [0, 0.9, 0, 0, 0.9, 0, 0]
  const proxy = await startColorProxy(t, { ...upstreams }, { rand: () => picks.shift() ?? 0 })
  const seen = await bodies(proxy.url, 7)
  t.same(seen, ['blue', 'green', 'blue', 'blue', 'green', 'blue', 'blue'])
  const metrics = (await get(`${proxy.admin}/metrics`)).body
  t.match(metrics, /colorproxy_requests_total\{site="default",color="blue",code="200"\} 5\n/)
  t.match(metrics, /colorproxy_requests_total\{site="default",color="green",code="200"\} 2\n/)
  t.match(metrics, /colorproxy_routed_total\{site="default",color="blue",route="weighted"\} 5\n/)
  t.match(metrics, /colorproxy_request_duration_seconds_count\{site="default",color="green"\} 2\n/)
  t.match(metrics, /colorproxy_color_weight\{site="default",color="blue"\} 1\n/)
  t.match(metrics, /colorproxy_requests_in_flight 0\n/)
  t.match(metrics, /process_resident_memory_bytes \d+/)
  t.match(metrics, /colorproxy_ejections_total\{site="default",color="green"\} 0\n/)
  const stats = JSON.parse((await get(`${proxy.admin}/stats.json`)).body)
  t.match(stats.sites[0].colors, [
    { name: 'blue', requests: 5, observed: 71.4, configured: 50 },
    { name: 'green', requests: 2, observed: 28.6, configured: 50 },
  ])
})

t.test('a 503 is counted under color "none"', async (t) => {
  const proxy = await startColorProxy(t, { BLUE: 'http://127.0.0.1:1' }, {}, (config) => {
    for (const color of config.sites.flatMap((site) => site.colors)) color.weight = 0
  })
  t.equal((await get(proxy.url)).status, 503)
  t.match(
    (await get(`${proxy.admin}/metrics`)).body,
    /colorproxy_requests_total\{site="default",color="none",code="503"\} 1\n/,
  )
})

t.test('STATS_USER/STATS_PASS: basic auth on every admin path but /healthz and /readyz', async (t) => {
  const proxy = await startColorProxy(t, {
    BLUE: 'http://user:hunter2@127.0.0.1:1',
    STATS_USER: 'ops',
    STATS_PASS: 's3cret-pass',
  })
  const auth = (user: string, pass: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`,
  })
  for (const path of ['/', '/metrics', '/config', '/stats.json']) {
    const denied = await get(`${proxy.admin}${path}`)
    t.equal(denied.status, 401, `${path} without credentials`)
    t.match(denied.headers['www-authenticate'], /^Basic realm="colorproxy"/)
    t.equal((await get(`${proxy.admin}${path}`, { headers: auth('ops', 'wrong') })).status, 401)
    t.equal((await get(`${proxy.admin}${path}`, { headers: auth('nope', 's3cret-pass') })).status, 401)
    t.equal((await get(`${proxy.admin}${path}`, { headers: auth('ops', 's3cret-pass') })).status, 200)
  }
  t.equal(
    (await get(`${proxy.admin}/metrics`, { headers: { authorization: 'Basic bm9jb2xvbg==' } })).status,
    401,
  )
  t.equal((await get(`${proxy.admin}/healthz`)).status, 200)
  t.equal((await get(`${proxy.admin}/readyz`)).status, 200)
  const config = (await get(`${proxy.admin}/config`, { headers: auth('ops', 's3cret-pass') })).body
  t.notMatch(config, /s3cret-pass|hunter2/, '/config shows no secret')
  t.match(JSON.parse(config), {
    stats_auth: { user: 'ops' },
    sites: [{ name: 'default', failover: true, sticky: { mode: 'off' } }],
  })
})

t.test('the stats page serves the numbers in its HTML, and the live fragment alone', async (t) => {
  const upstreams = await blueAndGreen(t)
  const proxy = await startColorProxy(t, upstreams, { rand: () => 0 })
  await bodies(proxy.url, 3)
  const page = await get(`${proxy.admin}/`)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /<tr data-color="blue">[\s\S]*?<td class="requests">3<\/td>/)
  t.match(page.body, /<svg class="chart"/)
  t.notMatch(page.body, /https?:\/\/(?!127)/, 'nothing from the network')
  const live = await get(`${proxy.admin}/?part=live`)
  t.notMatch(live.body, /<html/)
  t.match(live.body, /<td class="observed">100%<\/td>/)
})
