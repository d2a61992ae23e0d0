// One request's journey: its id, the Host each attempt sends, a failover, and the line and record it ends
// with. A real IncomingMessage on an unconnected socket; the clock is pinned.
import { once } from 'node:events'
import { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { createLogger } from '../../lib/logger.js'
import { Exchange, type ForwardOptions, type SiteColor } from '../../src/forward/exchange.js'
import type { RequestRecord } from '../../src/forward/events.js'
import type { Upstream } from '../../src/upstream/color-pools.js'

function request(headers: Record<string, string>, method = 'GET', version = '1.1'): IncomingMessage {
  const req = new IncomingMessage(new Socket())
  req.headers = headers
  req.method = method
  req.httpVersion = version
  return req
}

const color = (name: string, host: string): SiteColor => ({
  name,
  upstream: { host, redacted: `http://${host}` } as Upstream,
})
const BLUE = color('blue', 'blue:80')
const GREEN = color('green', 'green:80')

function options(level = 'info', preserveHost = false) {
  const out = new PassThrough()
  const lines: Record<string, unknown>[] = []
  out.on('data', (chunk: Buffer) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
  })
  const records: RequestRecord[] = []
  let clock = 1000
  const forward: ForwardOptions = {
    site: 'default',
    colorHeader: 'Color',
    preserveHost,
    timeouts: { connectMs: 1, serverMs: 1, serverIdleMs: 1, tunnelMs: 1 },
    logger: createLogger({ level: level as 'info', format: 'json' }, out),
    now: () => clock,
    events: { done: (record) => records.push(record) },
  }
  return { forward, lines, records, advance: (ms: number) => (clock += ms), written: () => once(out, 'data') }
}

t.test("the client's request id is kept; a refused request always gets its own", async (t) => {
  const { forward } = options()
  const req = request({ 'x-request-id': 'given-1' })
  t.equal(new Exchange(req, { color: BLUE, reason: 'weighted' }, '/', 'c', forward).id, 'given-1')
  const refused = new Exchange(req, { color: undefined, reason: 'refused' }, '/', 'c', forward)
  t.not(refused.id, 'given-1')
  t.match(refused.id, /^[0-9a-f-]{36}$/)
})

t.test("Host is the upstream's unless PRESERVE_HOST, and a failover says where it came from", async (t) => {
  const req = request({ host: 'shop.test' })
  const plain = new Exchange(req, { color: BLUE, reason: 'weighted' }, '/', 'c', options().forward)
  t.equal(plain.hostFor(BLUE), 'blue:80')
  const kept = new Exchange(req, { color: BLUE, reason: 'weighted' }, '/', 'c', options('info', true).forward)
  t.equal(kept.hostFor(GREEN), 'shop.test')
  t.equal(kept.hostFor({ ...GREEN }), 'shop.test')
  const bare = new Exchange(
    request({}),
    { color: BLUE, reason: 'weighted' },
    '/',
    'c',
    options('info', true).forward,
  )
  t.equal(bare.hostFor(GREEN), 'green:80', 'no Host given: the upstream’s')
  plain.reason = 'connect_timeout'
  plain.failOver(GREEN)
  t.same([plain.color, plain.via, plain.failedOverFrom, plain.reason], [GREEN, 'failover', 'blue', undefined])
})

t.test('finish logs one access line and tells the record, timed on the injected clock', async (t) => {
  const { forward, lines, records, advance, written } = options()
  const req = request({ 'x-request-id': 'r1' }, 'POST', '1.0')
  const exchange = Exchange.admitted(
    req,
    { color: BLUE, reason: 'sticky' },
    { path: '/b?q=1', clientPath: '/api/b?q=1', forwarded: { client: '10.0.0.9' } as never, user: 'ann' },
    forward,
  )
  advance(12.25)
  exchange.retried = true
  exchange.finish(201, 7)
  t.same(records, [
    {
      site: 'default',
      color: 'blue',
      status: 201,
      durationMs: 12.25,
      via: 'sticky',
      failure: undefined,
      proto: 'http/1.0',
      tls: false,
    },
  ])
  t.same(lines, [], 'the line is written once this turn of the event loop is over')
  await written()
  t.match(lines, [
    {
      msg: 'request',
      method: 'POST',
      path: '/api/b',
      status: 201,
      color: 'blue',
      upstream: 'http://blue:80',
      duration_ms: 12.3,
      bytes: 7,
      request_id: 'r1',
      route: 'sticky',
      client: '10.0.0.9',
      user: 'ann',
      retried: true,
    },
  ])
})

t.test('above info, the access line is never built, and the record still goes out', async (t) => {
  const { forward, lines, records } = options('warn')
  new Exchange(request({}), { color: undefined, reason: 'weighted' }, '/', 'c', forward).finish(503, 0)
  t.same(lines, [])
  t.match(records, [{ color: null, status: 503 }])
})
