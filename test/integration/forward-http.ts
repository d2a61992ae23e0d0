// What the proxy promises, one behaviour per test, over real sockets.
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { get, rawConnection } from '../helpers/clients.js'
import { recordingUpstream, refusedPort, unansweredPort } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

t.test('keeps the path and query', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  for (const path of ['/a/b?x=1', '/a//b/?y=2&y=3', '/%2Fencoded%20path?q=%26', '/..%2f?a=b=c']) {
    await get(`${proxy.url}${path}`)
    t.equal(up.requests.at(-1)?.url, path, path)
  }
})

t.test("joins the upstream's base path", async (t) => {
  const up = await recordingUpstream(t)
  const slash = await startColorProxy(t, { GREEN: `${up.url}/` })
  await get(`${slash.url}/a/b?x=1`)
  t.equal(up.requests.at(-1)?.url, '/a/b?x=1', 'GREEN=http://host:port/ and GET /a/b?x=1 → /a/b?x=1')
  const base = await startColorProxy(t, { GREEN: `${up.url}/base/` })
  await get(`${base.url}/a?x=1`)
  t.equal(up.requests.at(-1)?.url, '/base/a?x=1')
  const noSlash = await startColorProxy(t, { GREEN: `${up.url}/app` })
  await get(`${noSlash.url}/`)
  t.equal(up.requests.at(-1)?.url, '/app/')
})

t.test('sets the Color header on every forwarded request', async (t) => {
  const blue = await recordingUpstream(t)
  const green = await recordingUpstream(t)
  const sweep = [0, 0.9]
  const proxy = await startColorProxy(
    t,
    { BLUE: blue.url, GREEN: green.url },
    { rand: () => sweep.shift() ?? 0 },
  )
  await get(proxy.url)
  await get(proxy.url)
  t.equal(blue.requests[0]?.headers.color, 'blue')
  t.equal(green.requests[0]?.headers.color, 'green')
})

t.test('replaces a client-sent Color header', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  await get(proxy.url, { headers: { Color: 'green' } })
  t.equal(up.requests[0]?.headers.color, 'blue')
})

t.test('COLOR_HEADER names the header', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url, COLOR_HEADER: 'X-Version' })
  await get(proxy.url, { headers: { 'x-version': 'spoofed' } })
  t.equal(up.requests[0]?.headers['x-version'], 'blue')
  t.equal(up.requests[0]?.headers.color, undefined)
})

t.test("keeps the client's Host by default", async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  await get(proxy.url, { headers: { Host: 'shop.example.com' } })
  t.equal(up.requests[0]?.headers.host, 'shop.example.com')
})

t.test("PRESERVE_HOST=false sends the upstream's host", async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url, PRESERVE_HOST: 'false' })
  await get(proxy.url, { headers: { Host: 'shop.example.com' } })
  t.equal(up.requests[0]?.headers.host, `127.0.0.1:${up.port}`)
  t.equal(up.requests[0]?.headers['x-forwarded-host'], 'shop.example.com')
})

t.test('sets X-Forwarded-For, -Proto, -Host and -Port', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  await get(proxy.url, { headers: { Host: 'shop.example.com:8443' } })
  t.match(up.requests[0]?.headers, {
    'x-forwarded-for': '127.0.0.1',
    'x-forwarded-proto': 'http',
    'x-forwarded-host': 'shop.example.com:8443',
    'x-forwarded-port': '8443',
  })
})

t.test('reuses upstream connections: 200 sequential requests, one connection', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  for (let i = 0; i < 200; i++) t.equal((await get(proxy.url, { agent })).status, 200, `request ${i}`)
  t.equal(up.requests.length, 200)
  t.ok(up.connections <= 2, `${up.connections} upstream connection(s)`)
})

t.test("does not forward a client's Connection: close", async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  for (let i = 0; i < 5; i++) {
    const answer = await get(proxy.url, { headers: { Connection: 'close' } })
    t.equal(answer.headers.connection, 'close', 'the client still gets its close')
  }
  t.equal(up.requests[0]?.headers.connection, 'keep-alive')
  t.equal(up.connections, 1, 'the upstream socket stayed pooled')
})

t.test('strips hop-by-hop request headers and the ones Connection names', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  await get(proxy.url, {
    headers: {
      Connection: 'keep-alive, X-Hop',
      'Keep-Alive': 'timeout=99',
      'X-Hop': 'secret-of-this-hop',
      'Proxy-Connection': 'keep-alive',
      'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
      TE: 'trailers',
      'X-End-To-End': 'kept',
    },
  })
  const headers = up.requests[0]?.headers ?? {}
  for (const name of ['keep-alive', 'x-hop', 'proxy-connection', 'proxy-authorization', 'te']) {
    t.equal(headers[name], undefined, name)
  }
  t.equal(headers['x-end-to-end'], 'kept')
})

t.test('strips hop-by-hop response headers', async (t) => {
  const up = await recordingUpstream(t, (_req, res) => {
    res.writeHead(200, {
      Connection: 'keep-alive, X-Upstream-Hop',
      'Keep-Alive': 'timeout=1',
      'X-Upstream-Hop': '1',
      'X-Kept': '1',
    })
    res.end('ok')
  })
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const answer = await get(proxy.url, { agent: new http.Agent({ keepAlive: true }) })
  t.equal(answer.headers['x-upstream-hop'], undefined)
  t.equal(answer.headers['x-kept'], '1')
  t.not(answer.headers['keep-alive'], 'timeout=1', "the upstream's keep-alive hint is not ours")
})

t.test('forwards request bodies, chunked or not, and Expect: 100-continue', async (t) => {
  const up = await recordingUpstream(t, async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    res.end(`got ${body}`)
  })
  const proxy = await startColorProxy(t, { BLUE: up.url })
  t.equal((await get(proxy.url, { method: 'POST', body: 'hello' })).body, 'got hello')
  t.equal((await get(proxy.url, { method: 'PUT', body: 'x'.repeat(100000) })).body.length, 100004)
  const req = http.request(proxy.url, {
    method: 'POST',
    headers: { Expect: '100-continue', 'Transfer-Encoding': 'chunked' },
  })
  req.on('continue', () => req.end('after continue'))
  const [res] = (await once(req, 'response')) as [http.IncomingMessage]
  let body = ''
  for await (const chunk of res) body += chunk
  t.equal(body, 'got after continue')
})

t.test('passes X-Request-Id through, or makes one, and forwards it', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const given = await get(proxy.url, { headers: { 'X-Request-Id': 'abc-123' } })
  t.equal(up.requests[0]?.headers['x-request-id'], 'abc-123')
  t.equal(given.headers['x-request-id'], 'abc-123')
  const made = await get(proxy.url)
  t.match(made.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  t.equal(up.requests[1]?.headers['x-request-id'], made.headers['x-request-id'])
  await get(proxy.url, { headers: { 'X-Request-Id': 'has space' } })
  t.match(up.requests[2]?.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'an unprintable id is replaced')
})

t.test('logs one access line per request, without query or secrets', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: `http://user:hunter2@127.0.0.1:${up.port}` })
  await get(`${proxy.url}/orders?token=s3cret`, {
    headers: { Authorization: 'Bearer abc', Cookie: 'session=1' },
  })
  const line = await proxy.line((l) => l.msg === 'request')
  t.match(line, {
    method: 'GET',
    path: '/orders',
    status: 200,
    color: 'blue',
    upstream: `http://***@127.0.0.1:${up.port}`,
    duration_ms: Number,
    bytes: Number,
    request_id: String,
  })
  t.ok((line.bytes as number) > 0)
  t.notMatch(JSON.stringify(proxy.lines), /hunter2|s3cret|Bearer|session=1/)
})

t.test('LOG_LEVEL=warn writes no access line', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url, LOG_LEVEL: 'warn' })
  t.equal((await get(proxy.url)).status, 200)
  t.same(
    proxy.lines.filter((line) => line.msg === 'request'),
    [],
  )
})

t.test("sends the upstream URL's credentials as basic auth", async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: `http://user:hunter2@127.0.0.1:${up.port}` })
  await get(proxy.url, { headers: { Authorization: 'Bearer client' } })
  t.equal(up.requests[0]?.headers.authorization, `Basic ${Buffer.from('user:hunter2').toString('base64')}`)
})

t.test(
  'FAILOVER=false: one dead color gets its 502s, and does not stop the other from serving',
  async (t) => {
    const up = await recordingUpstream(t)
    const dead = await refusedPort()
    const sweep = [0.9, 0, 0.9, 0]
    const proxy = await startColorProxy(
      t,
      { BLUE: up.url, GREEN: `http://127.0.0.1:${dead}`, FAILOVER: 'false' },
      { rand: () => sweep.shift() ?? 0 },
    )
    t.same(
      [
        (await get(proxy.url)).status,
        (await get(proxy.url)).status,
        (await get(proxy.url)).status,
        (await get(proxy.url)).status,
      ],
      [502, 200, 502, 200],
    )
  },
)

/** An upstream that resets every connection on its second request, as a draining backend racing a reuse. */
async function resetsReusedSockets(t: Parameters<typeof recordingUpstream>[0]) {
  const served = new WeakSet<net.Socket>()
  return recordingUpstream(t, (req, res) => {
    if (served.has(req.socket)) {
      req.socket.resetAndDestroy()
      return
    }
    served.add(req.socket)
    res.end('ok')
  })
}

t.test(
  'retries a bodiless GET once on a new connection when a reused socket is reset before any answer',
  async (t) => {
    const up = await resetsReusedSockets(t)
    const proxy = await startColorProxy(t, { BLUE: up.url })
    t.equal((await get(proxy.url)).status, 200, 'first request: a new socket, pooled after')
    const retried = await get(proxy.url, { headers: { 'X-Trace': 'abc' } })
    t.equal(retried.status, 200, 'second request: the pooled socket is reset, the retry succeeds')
    t.equal(up.requests.length, 3)
    t.equal(up.requests[2]?.headers['x-trace'], 'abc', 'the retry carries the same headers')
    t.match(await proxy.line((l) => l.msg === 'request' && l.status === 200 && l.retried === true), {
      color: 'blue',
    })
  },
)

t.test('never retries a request with a body', async (t) => {
  const up = await resetsReusedSockets(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  t.equal((await get(proxy.url, { method: 'POST', body: 'order #1' })).status, 200, 'a new socket, kept')
  t.equal(
    (await get(proxy.url, { method: 'POST', body: 'order #2' })).status,
    502,
    'the kept socket is reset',
  )
  t.equal(up.requests.length, 2, 'order #2 was sent once')
})

t.test('502 with a one-line body when the upstream refuses', async (t) => {
  const port = await refusedPort()
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}` })
  const answer = await get(proxy.url)
  t.equal(answer.status, 502)
  t.equal(answer.body, '502 the upstream refused the connection\n')
  t.match(answer.headers['content-type'], /^text\/plain/)
  t.match(await proxy.line((l) => l.msg === 'request'), { status: 502, error: 'refused', color: 'blue' })
  t.equal((await get(proxy.url)).status, 502, 'still serving')
})

t.test('502 when the upstream name does not resolve', async (t) => {
  const proxy = await startColorProxy(
    t,
    { BLUE: 'http://myapp-v1:8080' },
    {
      resolve: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND myapp-v1'), { code: 'ENOTFOUND' })
      },
    },
  )
  const answer = await get(proxy.url)
  t.equal(answer.status, 502)
  t.equal(answer.body, '502 the upstream host name does not resolve\n')
})

t.test('504 when the upstream does not answer within TIMEOUT_SERVER', async (t) => {
  const up = await recordingUpstream(t, () => {})
  const proxy = await startColorProxy(t, { BLUE: up.url, TIMEOUT_SERVER: '200ms' })
  const answer = await get(proxy.url)
  t.equal(answer.status, 504)
  t.equal(answer.body, '504 the upstream did not answer in time\n')
})

t.test('504 when the upstream does not accept the connection within TIMEOUT_CONNECT', async (t) => {
  const port = await unansweredPort(t)
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}`, TIMEOUT_CONNECT: '200ms' })
  const answer = await get(proxy.url)
  t.equal(answer.status, 504)
  t.equal(answer.body, '504 the upstream did not accept the connection in time\n')
})

t.test('503 when no color can take the request', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url }, {}, (config) => {
    for (const color of config.sites.flatMap((site) => site.colors)) color.weight = 0
  })
  const answer = await get(proxy.url)
  t.equal(answer.status, 503)
  t.equal(answer.body, '503 no color is available to serve this request\n')
  t.match(await proxy.line((l) => l.msg === 'request'), { status: 503, color: null, error: 'no_color' })
})

t.test('a client that aborts mid-response cancels the upstream request', async (t) => {
  let upstreamRes: http.ServerResponse | undefined
  const up = await recordingUpstream(t, (_req, res) => {
    upstreamRes = res
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first part')
  })
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const req = http.request(proxy.url, { agent: false })
  req.end()
  const [res] = (await once(req, 'response')) as [http.IncomingMessage]
  await once(res, 'data')
  const cancelled = once(upstreamRes as http.ServerResponse, 'close')
  req.destroy()
  await cancelled
  t.equal(upstreamRes?.writableFinished, false, 'the upstream saw its response cut off')
  t.match(await proxy.line((l) => l.msg === 'request'), { status: 499, error: 'client_gone' })
})

t.test('an upstream that dies mid-body cuts the client response', async (t) => {
  const up = await recordingUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('partial', () => res.socket?.destroy())
  })
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const req = http.request(proxy.url, { agent: false })
  req.end()
  const [res] = (await once(req, 'response')) as [http.IncomingMessage]
  t.equal(res.statusCode, 200)
  const [error] = (await once(res.resume(), 'error')) as [NodeJS.ErrnoException]
  t.match(error, { message: 'aborted', code: 'ECONNRESET' }, 'the client sees an incomplete response')
  t.match(await proxy.line((l) => l.msg === 'request'), { error: 'reset' })
})

t.test('408 for a client that does not finish its request within TIMEOUT_CLIENT', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url, TIMEOUT_CLIENT: '200ms' })
  const client = rawConnection(proxy.port)
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n')
  await client.closed()
  t.match(client.text, /^HTTP\/1\.1 408/)
  t.equal(up.requests.length, 0)
})
