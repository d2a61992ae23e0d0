// What a client can send, and what it can never make colorproxy do: raw bytes in, raw bytes checked on
// both sides (the issue "Hardening", items 1, 4, 5, 6, 10, 11, 13, 14 and 15).
import { once } from 'node:events'
import http from 'node:http'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { get, rawConnection } from '../helpers/clients.js'
import { listen, rawUpstream, recordingUpstream } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'

/** Sends raw bytes on a new connection and resolves everything the client got once it closes. */
async function exchange(port: number, bytes: string): Promise<string> {
  const client = rawConnection(port)
  client.socket.write(bytes)
  await client.closed()
  return client.text
}

/** The headers (lower-cased names) of the first request head in a raw upstream connection's bytes. */
function headLines(raw: string): string[] {
  return (raw.split('\r\n\r\n', 1)[0] as string).split('\r\n')
}

t.test(
  'a Connection header cannot remove the color header, X-Request-Id, X-Forwarded-* or Host',
  async (t) => {
    const upstream = await rawUpstream(t, (_head, socket) => socket.write(OK))
    const proxy = await startColorProxy(t, { BLUE: upstream.url })
    const named =
      'close, color, x-request-id, x-forwarded-for, x-forwarded-host, x-forwarded-proto, x-forwarded-port, host'
    const reply = await exchange(
      proxy.port,
      `GET /x HTTP/1.1\r\nHost: shop.example\r\nConnection: ${named}\r\n\r\n`,
    )
    t.match(reply, /^HTTP\/1\.1 200 OK\r\n/)
    const lines = headLines(upstream.connections[0] as string)
    t.equal(lines[0], 'GET /x HTTP/1.1')
    for (const expected of [
      /^host: shop\.example$/,
      /^Color: blue$/,
      /^x-request-id: [0-9a-f-]{36}$/,
      /^x-forwarded-for: 127\.0\.0\.1$/,
      /^x-forwarded-host: shop\.example$/,
      /^x-forwarded-proto: http$/,
      /^x-forwarded-port: 80$/,
    ]) {
      t.equal(lines.filter((line) => expected.test(line)).length, 1, `exactly one ${expected}`)
    }
  },
)

t.test('Connection: content-length or transfer-encoding never drops a request body', async (t) => {
  const up = await recordingUpstream(t, async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    res.end(`got ${body}`)
  })
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const sized = await exchange(
    proxy.port,
    'POST / HTTP/1.1\r\nHost: x\r\nConnection: close, content-length\r\nContent-Length: 5\r\n\r\nhello',
  )
  t.match(sized, /\r\n\r\ngot hello$/)
  const chunked = await exchange(
    proxy.port,
    'POST / HTTP/1.1\r\nHost: x\r\nConnection: close, transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nworld\r\n0\r\n\r\n',
  )
  t.match(chunked, /\r\n\r\ngot world$/)
})

t.test('a Connection header cannot remove the color header from a WebSocket upgrade', async (t) => {
  const server = http.createServer()
  const wss = new WebSocketServer({ server })
  const seen: http.IncomingHttpHeaders[] = []
  wss.on('connection', (_ws, req) => seen.push(req.headers))
  const port = await listen(t, server)
  t.teardown(() => wss.close())
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}` })
  const ws = new WebSocket(proxy.url.replace('http', 'ws'), {
    headers: { Connection: 'Upgrade, Color, X-Forwarded-For', 'X-Forwarded-For': '203.0.113.9' },
  })
  await once(ws, 'open')
  ws.close()
  t.equal(seen[0]?.color, 'blue')
  t.equal(seen[0]?.['x-forwarded-for'], '127.0.0.1')
})

t.test("a client's X-Forwarded-* never reach the backend from an untrusted peer", async (t) => {
  const upstream = await rawUpstream(t, (_head, socket) => socket.write(OK))
  const proxy = await startColorProxy(t, { BLUE: upstream.url })
  await exchange(
    proxy.port,
    'GET / HTTP/1.1\r\nHost: good.example\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\n' +
      'X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Port: 443\r\nX-Forwarded-Prefix: /evil\r\n' +
      'X_Forwarded_Prefix: /evil\r\nConnection: close\r\n\r\n',
  )
  const lines = headLines(upstream.connections[0] as string).map((line) => line.toLowerCase())
  t.same(
    lines.filter((line) => line.startsWith('x-forwarded-')),
    [
      'x-forwarded-for: 127.0.0.1',
      'x-forwarded-host: good.example',
      'x-forwarded-proto: http',
      'x-forwarded-port: 80',
    ],
  )
  t.notMatch(upstream.connections[0], /evil|203\.0\.113\.9|https|443/)
  // STRIP_PATH's prefix is colorproxy's: a client's, or a Connection token, neither forges nor removes it.
  const sited = await startColorProxy(t, {
    SITES: 'api',
    API_PATHS: '/api',
    API_STRIP_PATH: 'true',
    API_BLUE: upstream.url,
  })
  await exchange(
    sited.port,
    'GET /api/x HTTP/1.1\r\nHost: good.example\r\nX-Forwarded-Prefix: /evil\r\n' +
      'Connection: close, x-forwarded-prefix\r\n\r\n',
  )
  const stripped = headLines(upstream.connections[1] as string)
  t.equal(stripped[0], 'GET /x HTTP/1.1')
  t.same(
    stripped.filter((line) => /^x-forwarded-prefix:/i.test(line)),
    ['x-forwarded-prefix: /api'],
  )
})

t.test(
  "TRUSTED_PROXIES: a trusted peer's X-Forwarded-* are kept and appended to, and name the client",
  async (t) => {
    const up = await recordingUpstream(t)
    const proxy = await startColorProxy(t, { BLUE: up.url, TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1' })
    await get(proxy.url, {
      headers: {
        'X-Forwarded-For': '203.0.113.9, 10.1.2.3',
        'X-Forwarded-Host': 'shop.example',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Port': '443',
      },
    })
    t.match(up.requests[0]?.headers, {
      'x-forwarded-for': '203.0.113.9, 10.1.2.3, 127.0.0.1',
      'x-forwarded-host': 'shop.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
    })
    t.match(await proxy.line((l) => l.msg === 'request'), { client: '203.0.113.9' })
    const sited = await startColorProxy(t, {
      SITES: 'api',
      API_PATHS: '/v2/api',
      API_STRIP_PATH: 'true',
      API_BLUE: up.url,
      TRUSTED_PROXIES: '127.0.0.1',
    })
    await get(`${sited.url}/v2/api/x`, { headers: { 'X-Forwarded-Prefix': '/shop/' } })
    t.match(up.requests[1], { url: '/x', headers: { 'x-forwarded-prefix': '/shop/v2/api' } })
    await get(`${sited.url}/v2/api/x`, { headers: { 'X-Forwarded-Prefix': '/outer' } })
    t.match(
      up.requests[2]?.headers,
      { 'x-forwarded-prefix': '/outer/v2/api' },
      "a trusted proxy's prefix comes first",
    )
  },
)

t.test('STICKY=ip hashes the client TRUSTED_PROXIES name, and only theirs', async (t) => {
  const blue = await recordingUpstream(t)
  const green = await recordingUpstream(t)
  const env = { BLUE: blue.url, GREEN: green.url, STICKY: 'ip' }
  const untrusted = await startColorProxy(t, env)
  const trusted = await startColorProxy(t, { ...env, TRUSTED_PROXIES: '127.0.0.1' })
  const colors = async (url: string) => {
    for (let i = 1; i <= 40; i++) await get(url, { headers: { 'X-Forwarded-For': `198.51.100.${i}` } })
  }
  await colors(untrusted.url)
  t.ok(blue.requests.length === 40 || green.requests.length === 40, 'a forged X-Forwarded-For moves no one')
  const before = { blue: blue.requests.length, green: green.requests.length }
  await colors(trusted.url)
  t.ok(
    blue.requests.length > before.blue && green.requests.length > before.green,
    '40 clients spread over both',
  )
  t.match(await trusted.line((l) => l.msg === 'request' && l.client === '198.51.100.7'), { route: 'sticky' })
})

t.test('an absolute-form target is forwarded as its path and query when it names the Host', async (t) => {
  const upstream = await rawUpstream(t, (_head, socket) => socket.write(OK))
  const proxy = await startColorProxy(t, { BLUE: upstream.url })
  const reply = await exchange(
    proxy.port,
    'GET http://Good.Example/x/../y?z=1 HTTP/1.1\r\nHost: good.example\r\nConnection: close\r\n\r\n',
  )
  t.match(reply, /^HTTP\/1\.1 200 OK/)
  t.equal(headLines(upstream.connections[0] as string)[0], 'GET /y?z=1 HTTP/1.1')
})

t.test(
  'targets that are not origin-form get a 400 from the proxy, never counted against a color',
  async (t) => {
    const upstream = await rawUpstream(t, (_head, socket) => socket.write(OK))
    const proxy = await startColorProxy(t, { BLUE: upstream.url })
    for (const [request, status] of [
      ['GET http://evil.example/x HTTP/1.1\r\nHost: good.example\r\n\r\n', 400],
      ['OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET x.example:80 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
      ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
      ['GET /\r\n\r\n', 505],
      ['GET / HTTP/1.2\r\nHost: x\r\n\r\n', 505],
    ] as const) {
      const reply = await exchange(proxy.port, request)
      t.match(
        reply,
        new RegExp(`^HTTP/1\\.1 ${status} [^\\r]+\\r\\n(.*\\r\\n)*\\r\\n${status} .+\\n$`),
        JSON.stringify(request),
      )
    }
    t.equal(upstream.requests, 0, 'nothing reached the upstream')
    const metrics = (await get(`${proxy.admin}/metrics`)).body
    t.notMatch(metrics, /colorproxy_requests_total\{site="default",color="blue"/)
    t.notMatch(metrics, /colorproxy_upstream_errors_total\{/)
    t.match(metrics, /colorproxy_requests_total\{site="none",color="none",code="400"\} \d/)
    t.match(metrics, /colorproxy_requests_total\{site="none",color="none",code="505"\} \d/)
  },
)

t.test('dot-segments never climb out of the upstream base path', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { GREEN: `${up.url}/base/` })
  for (const [path, expected] of [
    ['/../secret', '/base/secret'],
    ['/%2e%2e/secret', '/base/secret'],
    ['/a/%2E/b/../c?x=../y', '/base/a/c?x=../y'],
    ['/a/..', '/base/'],
  ] as const) {
    await exchange(proxy.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    t.equal(up.requests.at(-1)?.url, expected, path)
  }
})

t.test(
  'an upstream that answers an upload early gets one answer to the client, then the connection closes',
  async (t) => {
    const up = await recordingUpstream(t, (_req, res) => {
      res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' })
      res.end('too large\n')
    })
    const proxy = await startColorProxy(t, { BLUE: up.url, TIMEOUT_CLIENT: '500ms' })
    const client = rawConnection(proxy.port)
    client.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n')
    client.socket.write('x'.repeat(1000))
    await client.closed()
    t.equal(client.text.match(/HTTP\/1\.1 /g)?.length, 1, 'exactly one response')
    t.match(client.text, /^HTTP\/1\.1 413 [^]*\r\nconnection: close\r\n/i)
    t.match(client.text, /too large\n/)
  },
)

t.test('a non-WebSocket Upgrade is answered as the ordinary request it is', async (t) => {
  const upstream = await rawUpstream(t, (_head, socket) => socket.write(OK))
  const proxy = await startColorProxy(t, { BLUE: upstream.url })
  const reply = await exchange(
    proxy.port,
    'GET /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n' +
      'GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  )
  t.equal(reply.match(/HTTP\/1\.1 200 OK/g)?.length, 2, 'both requests answered, in order')
  const sent = upstream.connections.join('')
  t.match(sent, /^GET \/h2c HTTP\/1\.1\r\n/)
  t.notMatch(sent, /upgrade|http2-settings/i, 'the Upgrade and what Connection named stay on this hop')
  t.match(sent, /GET \/next HTTP\/1\.1\r\n/)
  const tls = await exchange(
    proxy.port,
    'GET /tls HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: TLS/1.0\r\n\r\nGET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  )
  t.equal(tls.match(/HTTP\/1\.1 200 OK/g)?.length, 2, 'Connection: Upgrade alone goes too')
})

t.test('CONNECT gets a 405 with a one-line body, not a closed socket', async (t) => {
  const proxy = await startColorProxy(t, { BLUE: 'http://127.0.0.1:1' })
  const reply = await exchange(
    proxy.port,
    'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
  )
  t.match(reply, /^HTTP\/1\.1 405 Method Not Allowed\r\n/)
  t.match(reply, /\r\nAllow: GET, HEAD/)
  t.match(reply, /\r\n\r\n405 CONNECT is not supported: colorproxy is not a forward proxy\n$/)
})

t.test('a client header with _ that reads as a framing or colorproxy header is dropped', async (t) => {
  const upstream = await rawUpstream(t, (_head, socket) => socket.write(OK))
  const proxy = await startColorProxy(t, { BLUE: upstream.url })
  await exchange(
    proxy.port,
    'GET / HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\nContent_Length: 5\r\nX_Forwarded_For: 1.2.3.4\r\n' +
      'Color_: x\r\nX_Custom_Field: kept\r\nConnection: close\r\n\r\n',
  )
  const sent = upstream.connections[0] as string
  t.notMatch(sent, /Transfer_Encoding|Content_Length|X_Forwarded_For/)
  t.match(sent, /\r\nX_Custom_Field: kept\r\n/, 'other names with _ pass')
})

t.test('a request with more than 100 header fields gets a 431, never a truncated forward', async (t) => {
  const upstream = await rawUpstream(t, (_head, socket) => socket.write(OK))
  const proxy = await startColorProxy(t, { BLUE: upstream.url })
  const fields = Array.from({ length: 98 }, (_, i) => `X-F${i}: ${i}\r\n`).join('')
  const within = await exchange(proxy.port, `GET / HTTP/1.1\r\nHost: x\r\n${fields}Connection: close\r\n\r\n`)
  t.match(within, /^HTTP\/1\.1 200/, '100 fields are forwarded whole')
  t.match(upstream.connections[0], /\r\nX-F97: 97\r\n/)
  const many = Array.from({ length: 1100 }, (_, i) => `X-F${i}: ${i}\r\n`).join('')
  const over = await exchange(proxy.port, `GET / HTTP/1.1\r\nHost: x\r\n${many}Content-Length: 2\r\n\r\nab`)
  t.match(over, /^HTTP\/1\.1 431 [^]*\r\n\r\n431 the request has more than 100 header fields\n$/)
  t.equal(upstream.requests, 1, 'the oversized request never reached the upstream')
})

t.test(
  'pipelined requests are answered in order up to the one that says close, and none after it is forwarded',
  async (t) => {
    const up = await recordingUpstream(t, (req, res) => res.end(`answer ${req.url}`))
    const proxy = await startColorProxy(t, { BLUE: up.url })
    const request = (n: number, close = false) =>
      `GET /${n} HTTP/1.1\r\nHost: x\r\n${close ? 'Connection: close\r\n' : ''}\r\n`
    const reply = await exchange(proxy.port, request(0) + request(1) + request(2, true) + request(3))
    t.same(
      [...reply.matchAll(/answer \/(\d)/g)].map((match) => match[1]),
      ['0', '1', '2'],
    )
    t.equal(reply.match(/HTTP\/1\.1 /g)?.length, 3)
    t.same(up.requests.map((r) => r.url).sort(), ['/0', '/1', '/2'], 'the upstream never saw /3')
  },
)
