// RATE_LIMIT, RATE_LIMIT_BURST, RATE_LIMIT_BY (the issue "One client, bounded", item 5): a token bucket per
// client; beyond it 429 with Retry-After, never forwarded, never counted against a color.
import http from 'node:http'
import t from 'tap'
import { createRateLimit } from '../../src/listen/rate-limit.js'
import { get } from '../helpers/clients.js'
import { recordingUpstream } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

/** One request from a given loopback address (127.0.0.0/8 is all this machine's). */
async function from(localAddress: string, url: string, headers: Record<string, string> = {}) {
  const req = http.request(url, { localAddress, headers, agent: false })
  req.end()
  const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve))
  res.resume()
  await new Promise((resolve) => res.once('end', resolve))
  return { status: res.statusCode, retryAfter: res.headers['retry-after'] }
}

t.test(
  'RATE_LIMIT=10 RATE_LIMIT_BURST=20: 100 requests in a second get 20–30 answers, the rest 429',
  async (t) => {
    const upstream = await recordingUpstream(t)
    const proxy = await startColorProxy(t, {
      BLUE: upstream.url,
      RATE_LIMIT: '10',
      RATE_LIMIT_BURST: '20',
      LOG_LEVEL: 'warn',
    })
    const start = performance.now()
    const answers = await Promise.all(Array.from({ length: 100 }, () => from('127.0.0.1', `${proxy.url}/`)))
    t.ok(performance.now() - start < 1000, 'all within a second')
    const ok = answers.filter((answer) => answer.status === 200).length
    const limited = answers.filter((answer) => answer.status === 429)
    t.ok(ok >= 20 && ok <= 30, `${ok} answered`)
    t.equal(ok + limited.length, 100, 'the rest got 429')
    t.ok(
      limited.every((answer) => Number(answer.retryAfter) >= 1),
      'each 429 says Retry-After in whole seconds',
    )
    t.equal(upstream.requests.length, ok, 'no 429 reached the backend')
    t.equal((await from('127.0.0.2', `${proxy.url}/`)).status, 200, 'a second client in the same second')
    const metrics = (await get(`${proxy.admin}/metrics`)).body
    t.match(metrics, new RegExp(`colorproxy_rate_limited_total\\{site="default"\\} ${limited.length}\\n`))
    t.match(
      metrics,
      new RegExp(
        `colorproxy_requests_total\\{site="default",color="none",code="429"\\} ${limited.length}\\n`,
      ),
    )
    t.notMatch(metrics, /color="blue",code="429"/, 'never counted against a color')
  },
)

t.test('RATE_LIMIT_BY=header:X-Api-Key keys by the header, and by the address without it', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, {
    BLUE: upstream.url,
    RATE_LIMIT: '1',
    RATE_LIMIT_BURST: '2',
    RATE_LIMIT_BY: 'header:X-Api-Key',
  })
  const statuses = async (headers: Record<string, string>, count: number) => {
    const seen: (number | undefined)[] = []
    for (let i = 0; i < count; i++) seen.push((await from('127.0.0.1', proxy.url, headers)).status)
    return seen
  }
  t.same(await statuses({ 'x-api-key': 'one' }, 3), [200, 200, 429], 'key one spends its burst')
  t.same(await statuses({ 'x-api-key': 'two' }, 2), [200, 200], 'key two from the same address has its own')
  t.same(await statuses({}, 3), [200, 200, 429], 'no key: the address')
})

t.test('per site: <SITE>_RATE_LIMIT, the other site unlimited', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, {
    SITES: 'api,web',
    API_PATHS: '/api',
    API_BLUE: upstream.url,
    API_RATE_LIMIT: '1',
    API_RATE_LIMIT_BURST: '1',
    WEB_BLUE: upstream.url,
  })
  t.equal((await from('127.0.0.1', `${proxy.url}/api/a`)).status, 200)
  t.equal((await from('127.0.0.1', `${proxy.url}/api/b`)).status, 429)
  for (let i = 0; i < 5; i++) t.equal((await from('127.0.0.1', `${proxy.url}/page`)).status, 200)
})

t.test('the limiter remembers at most its bound of clients: the oldest is forgotten', async (t) => {
  const limit = createRateLimit({ rate: 1, burst: 1, by: { mode: 'ip' } }, 2)
  const req = { headers: {} } as http.IncomingMessage
  t.equal(limit(req, 'a'), undefined)
  t.equal(limit(req, 'a'), 1, 'a is limited: one second to wait')
  t.equal(limit(req, 'b'), undefined)
  t.equal(limit(req, 'c'), undefined, 'c pushes a out')
  t.equal(limit(req, 'a'), undefined, 'a starts again with a full bucket')
})
