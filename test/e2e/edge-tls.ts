// The TLS listener end to end, with certificates made here by openssl: HTTP/2 and HTTP/1.1 on one port by
// ALPN, SNI from TLS_CERTS_DIR and its reload, what reaches the backend over h2, streams, resets, drain,
// HSTS, WebSockets over TLS, and https:// upstreams with a private CA.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { promisify } from 'node:util'
import t from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { get } from '../helpers/clients.js'
import { listen, rawUpstream, recordingUpstream } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'
import { issue, testCa } from '../helpers/tls.js'

const ca = testCa()
const localhost = issue(ca, ['localhost'])
const TLS = { TLS_CERT: localhost.cert, TLS_KEY: localhost.key }

/** One HTTP/2 session to the proxy, closed when the test ends. */
function h2session(t: { teardown(fn: () => unknown): void }, url: string, servername = 'localhost') {
  const session = http2.connect(url, { ca: ca.cert, servername })
  session.on('error', () => {})
  t.teardown(() => session.destroy())
  return session
}

/** One request on a session: status, headers and body. */
async function h2request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string | Buffer,
) {
  const stream = session.request(headers, { endStream: body === undefined })
  if (body !== undefined) stream.end(body)
  const [head] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return { status: Number(head[':status']), headers: head, body: Buffer.concat(chunks).toString() }
}

t.test('curl --http2: ALPN h2, the answer through the proxy, and what the backend got', async (t) => {
  const upstream = await recordingUpstream(t, (_req, res) => res.end('blue backend\n'))
  const proxy = await startColorProxy(t, { BLUE: upstream.url, ...TLS })
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-ca-'))
  writeFileSync(join(dir, 'ca.pem'), ca.cert)
  const url = `https://localhost:${proxy.httpsPort}/a/b?x=1`
  const { stdout, stderr } = await promisify(execFile)('curl', [
    '-sv',
    '--cacert',
    join(dir, 'ca.pem'),
    '--http2',
    url,
  ])
  t.equal(stdout, 'blue backend\n')
  t.match(stderr, /ALPN: server accepted h2/)
  const seen = upstream.requests[0]?.headers ?? {}
  t.equal(upstream.requests[0]?.url, '/a/b?x=1')
  t.equal(seen.color, 'blue')
  t.equal(seen['x-forwarded-proto'], 'https')
  t.equal(seen['x-forwarded-host'], `localhost:${proxy.httpsPort}`)
  t.equal(seen.host, `localhost:${proxy.httpsPort}`, ':authority is the Host')
  t.notOk(
    Object.keys(seen).some((name) => name.startsWith(':')),
    'no pseudo-header reaches the backend',
  )
  const line = await proxy.line((l) => l.msg === 'request')
  t.match(line, { proto: 'h2', tls: true, status: 200, color: 'blue' })
  const metrics = await get(`${proxy.admin}/metrics`)
  t.match(metrics.body, /colorproxy_client_requests_total\{proto="h2",tls="true"\} 1/)
})

t.test(
  'HTTP/1.1 over TLS on the same port: X-Forwarded-Proto https, HSTS; plain HTTP has none',
  async (t) => {
    const upstream = await recordingUpstream(t)
    const proxy = await startColorProxy(t, { BLUE: upstream.url, HSTS: '31536000', ...TLS })
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      https
        .get(
          `https://localhost:${proxy.httpsPort}/`,
          { ca: ca.cert, ALPNProtocols: ['http/1.1'] } as https.RequestOptions,
          resolve,
        )
        .on('error', reject),
    )
    res.resume()
    t.equal(res.httpVersion, '1.1')
    t.equal(res.headers['strict-transport-security'], 'max-age=31536000')
    t.equal(upstream.requests[0]?.headers['x-forwarded-proto'], 'https')
    const plain = await get(proxy.url)
    t.equal(plain.status, 200)
    t.notOk(plain.headers['strict-transport-security'], 'never on plain HTTP')
    const session = h2session(t, proxy.https)
    const h2 = await h2request(session, { ':path': '/' })
    t.equal(h2.headers['strict-transport-security'], 'max-age=31536000')
  },
)

t.test('SNI picks the certificate by its own names; a replaced file serves new connections', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-certs-'))
  const first = issue(ca, ['shop.test'])
  const wildcard = issue(ca, ['*.api.test'])
  writeFileSync(join(dir, 'shop.pem'), first.cert + first.key)
  writeFileSync(join(dir, 'api.pem'), wildcard.key + wildcard.cert)
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, {
    BLUE: upstream.url,
    ...TLS,
    TLS_CERTS_DIR: dir,
    TLS_RELOAD_EVERY: '100ms',
  })
  const peer = (servername: string) => peerCertificate(proxy.httpsPort, servername)
  t.equal((await peer('shop.test')).subject.CN, 'shop.test')
  t.equal((await peer('v2.api.test')).subject.CN, '*.api.test')
  t.equal((await peer('deep.v2.api.test')).subject.CN, 'localhost', 'a wildcard covers one label only')
  t.equal((await peer('other.test')).subject.CN, 'localhost', 'no match: TLS_CERT')
  const before = (await peer('shop.test')).fingerprint256
  const renewed = issue(ca, ['shop.test', 'www.shop.test'])
  writeFileSync(join(dir, 'shop.pem'), renewed.cert + renewed.key)
  await proxy.line((line) => line.msg === 'TLS certificates reloaded')
  const after = await peer('www.shop.test')
  t.not(after.fingerprint256, before, 'the renewed certificate, without a restart')
  t.equal(after.subject.CN, 'shop.test')
  writeFileSync(join(dir, 'shop.pem'), 'not a certificate')
  await proxy.line((line) => String(line.msg).includes('shop.pem holds no PEM certificate'))
  t.equal(
    (await peer('www.shop.test')).fingerprint256,
    after.fingerprint256,
    'a broken file keeps the last good one',
  )
})

async function peerCertificate(port: number, servername: string) {
  const socket = tls.connect({ port, host: '127.0.0.1', servername, ca: ca.cert, rejectUnauthorized: false })
  await once(socket, 'secureConnect')
  const certificate = socket.getPeerCertificate()
  socket.destroy()
  return certificate
}

t.test('100 concurrent streams on one HTTP/2 session are all answered', async (t) => {
  const upstream = await recordingUpstream(t, (req, res) => res.end(req.url))
  const proxy = await startColorProxy(t, { BLUE: upstream.url, ...TLS })
  const session = h2session(t, proxy.https)
  const answers = await Promise.all(
    Array.from({ length: 100 }, (_, i) => h2request(session, { ':path': `/n/${i}` })),
  )
  t.same(
    answers.map((answer) => answer.body),
    Array.from({ length: 100 }, (_, i) => `/n/${i}`),
  )
  t.ok(answers.every((answer) => answer.status === 200))
})

t.test(
  'HTTP/2 bodies stream both ways; a sticky cookie is set; forbidden answer fields are dropped',
  async (t) => {
    const upstream = await rawUpstream(t, (head, socket) => {
      if (head.startsWith('POST')) return
      socket.write(
        'HTTP/1.1 200 OK\r\nConnection: keep-alive, x-hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nHost: evil\r\n' +
          'Upgrade: h2c\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      )
    })
    const echo = await recordingUpstream(t, (req, res) => req.pipe(res))
    const proxy = await startColorProxy(t, {
      BLUE: upstream.url,
      GREEN: echo.url,
      STICKY: 'cookie',
      OVERRIDE_HEADER: 'X-Color',
      ...TLS,
    })
    const session = h2session(t, proxy.https)
    const answer = await h2request(session, { ':path': '/', 'x-color': 'blue' })
    t.equal(answer.status, 200)
    t.equal(answer.body, 'hello')
    for (const name of ['connection', 'keep-alive', 'x-hop', 'host', 'upgrade', 'transfer-encoding']) {
      t.notOk(answer.headers[name], `${name} is not sent over h2`)
    }
    const big = Buffer.alloc(3_000_000, 'x')
    const echoed = await h2request(
      session,
      { ':path': '/upload', ':method': 'POST', 'x-color': 'green' },
      big,
    )
    t.equal(echoed.body.length, big.length, 'a 3 MB body went up and came back')
    const fresh = await h2request(session, { ':path': '/' })
    t.match(String(fresh.headers['set-cookie']), /^colorproxy=(blue|green); /)
  },
)

t.test('a client stream reset mid-body cancels the upstream request; the session goes on', async (t) => {
  let aborted: () => void = () => {}
  const upstreamGone = new Promise<void>((resolve) => (aborted = resolve))
  let started: () => void = () => {}
  const upstreamStarted = new Promise<void>((resolve) => (started = resolve))
  const upstream = await recordingUpstream(t, (req, res) => {
    if (req.method !== 'POST') return void res.end('ok')
    req.once('data', () => started())
    req.once('aborted', () => aborted())
    res.once('close', () => aborted())
  })
  const proxy = await startColorProxy(t, { BLUE: upstream.url, ...TLS })
  const session = h2session(t, proxy.https)
  const stream = session.request({ ':path': '/slow', ':method': 'POST' }, { endStream: false })
  stream.on('error', () => {})
  stream.write('first part')
  await upstreamStarted
  stream.close(http2.constants.NGHTTP2_CANCEL)
  await upstreamGone
  t.pass('the upstream saw its request end')
  const after = await h2request(session, { ':path': '/' })
  t.equal(after.status, 200, 'the same session still serves')
})

t.test('HTTP/2 admission: Host against :authority, and too many fields', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: upstream.url, ...TLS })
  const session = h2session(t, proxy.https)
  const mismatch = await h2request(session, {
    ':path': '/',
    ':authority': `localhost:${proxy.httpsPort}`,
    host: 'elsewhere.test',
  })
  t.equal(mismatch.status, 400)
  const many: http2.OutgoingHttpHeaders = { ':path': '/' }
  for (let i = 0; i < 101; i++) many[`x-f${i}`] = 'v'
  t.equal((await h2request(session, many)).status, 431)
  t.equal(upstream.requests.length, 0, 'neither reached the backend')
})

t.test('drain: HTTP/2 sessions get GOAWAY and finish their streams', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  let arrived: () => void = () => {}
  const inFlight = new Promise<void>((resolve) => (arrived = resolve))
  const upstream = await recordingUpstream(t, (_req, res) => {
    arrived()
    held.then(() => res.end('finished'))
  })
  const proxy = await startColorProxy(t, { BLUE: upstream.url, ...TLS })
  const session = h2session(t, proxy.https)
  const goaway = once(session, 'goaway')
  const answer = h2request(session, { ':path': '/slow' })
  await inFlight
  const stopped = proxy.proxy.shutdown({ delayMs: 0 })
  await goaway
  release()
  t.equal((await answer).body, 'finished', 'the stream in flight finished')
  t.same(await stopped, { forced: 0 })
})

t.test('WebSockets over TLS (wss://, HTTP/1.1) with the color header', async (t) => {
  const backend = http.createServer()
  const wss = new WebSocketServer({ server: backend })
  wss.on('connection', (socket, req) =>
    socket.send(`hello ${req.headers.color} ${req.headers['x-forwarded-proto']}`),
  )
  const port = await listen(t, backend)
  t.teardown(() => wss.close())
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}`, ...TLS })
  const client = new WebSocket(`wss://localhost:${proxy.httpsPort}/ws`, { ca: ca.cert })
  const [message] = await once(client, 'message')
  t.equal(String(message), 'hello blue https')
  client.close()
})

t.test('https:// upstreams: UPSTREAM_CA trusts a private CA; UPSTREAM_TLS_VERIFY=false warns', async (t) => {
  const backend = https.createServer({ ...issue(ca, ['localhost']) }, (_req, res) => res.end('secure'))
  const port = await listen(t, backend as unknown as http.Server)
  const BLUE = `https://localhost:${port}`
  const untrusted = await startColorProxy(t, { BLUE })
  t.equal((await get(untrusted.url)).status, 502)
  const warning = await untrusted.line((line) => String(line.msg).startsWith('TLS with blue'))
  t.match(warning.cause, /certificate/)
  const trusted = await startColorProxy(t, { BLUE, UPSTREAM_CA: ca.cert })
  t.equal((await get(trusted.url)).body, 'secure')
  t.equal((await get(trusted.url, { method: 'POST', body: 'x' })).body, 'secure', 'uploads too')
  const blind = await startColorProxy(t, { BLUE, UPSTREAM_TLS_VERIFY: 'false' })
  t.equal((await get(blind.url)).body, 'secure')
  t.match(blind.config.warnings.join('\n'), /UPSTREAM_TLS_VERIFY=false/)
})

t.test('HTTP/2 timeouts: an idle session is closed, a body that never ends resets its stream', async (t) => {
  const upstream = await recordingUpstream(t, (req, res) =>
    req.method === 'POST' ? req.resume() : res.end('ok'),
  )
  const proxy = await startColorProxy(t, {
    BLUE: upstream.url,
    TIMEOUT_HTTP_KEEP_ALIVE: '200ms',
    TIMEOUT_CLIENT: '300ms',
    ...TLS,
  })
  const session = h2session(t, proxy.https)
  const stream = session.request({ ':path': '/upload', ':method': 'POST' }, { endStream: false })
  stream.on('error', () => {})
  let answered = false
  stream.on('response', () => (answered = true))
  stream.write('never finished')
  await once(stream, 'close')
  t.notOk(answered, 'the stream was reset before any answer')
  t.equal(upstream.requests.length, 1, 'the upload had begun')
  const idle = h2session(t, proxy.https)
  t.equal((await h2request(idle, { ':path': '/' })).status, 200)
  await once(idle, 'goaway')
  t.pass('the idle session was told to go after TIMEOUT_HTTP_KEEP_ALIVE')
})

t.test('drain: a stream still open at SHUTDOWN_TIMEOUT is cut, and says so', async (t) => {
  let arrived: () => void = () => {}
  const inFlight = new Promise<void>((resolve) => (arrived = resolve))
  const upstream = await recordingUpstream(t, () => arrived())
  const proxy = await startColorProxy(t, { BLUE: upstream.url, SHUTDOWN_TIMEOUT: '200ms', ...TLS })
  const session = h2session(t, proxy.https)
  const stream = session.request({ ':path': '/forever' })
  stream.on('error', () => {})
  await inFlight
  const result = await proxy.proxy.shutdown({ delayMs: 0 })
  t.equal(result.forced, 1)
})

t.test(
  'HTTP2=false serves HTTP/1.1 only; an unreadable TLS_CERTS_DIR at reload keeps what is served',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'colorproxy-certs-'))
    const site = issue(ca, ['shop.test'])
    writeFileSync(join(dir, 'shop.pem'), site.cert + site.key)
    const upstream = await recordingUpstream(t)
    const proxy = await startColorProxy(t, {
      BLUE: upstream.url,
      HTTP2: 'false',
      TLS_CERTS_DIR: dir,
      TLS_RELOAD_EVERY: '50ms',
    })
    const socket = tls.connect({
      port: proxy.httpsPort,
      host: '127.0.0.1',
      servername: 'shop.test',
      ca: ca.cert,
      ALPNProtocols: ['h2', 'http/1.1'],
    })
    await once(socket, 'secureConnect')
    t.equal(socket.alpnProtocol, 'http/1.1')
    socket.destroy()
    const { rmSync } = await import('node:fs')
    rmSync(dir, { recursive: true })
    const warning = await proxy.line((line) => String(line.msg).includes('cannot read'))
    t.equal(warning.code, 'ENOENT')
    t.equal((await peerCertificate(proxy.httpsPort, 'shop.test')).subject.CN, 'shop.test')
  },
)

t.test('over TLS, an Upgrade that is not a WebSocket is answered as a plain request', async (t) => {
  const upstream = await recordingUpstream(t, (_req, res) => res.end('plain'))
  const proxy = await startColorProxy(t, { BLUE: upstream.url, ...TLS })
  const req = https.request(`https://localhost:${proxy.httpsPort}/`, {
    ca: ca.cert,
    headers: { connection: 'upgrade', upgrade: 'h2c' },
  })
  req.end()
  const [res] = (await once(req, 'response')) as [http.IncomingMessage]
  let body = ''
  for await (const chunk of res) body += chunk
  t.equal(res.statusCode, 200)
  t.equal(body, 'plain')
  t.notOk(upstream.requests[0]?.headers.upgrade, 'the Upgrade is dropped')
})

t.test('HTTP/2 CONNECT is a 405 and OPTIONS * a 400', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: upstream.url, ...TLS })
  const session = h2session(t, proxy.https)
  const connect = session.request({ ':method': 'CONNECT', ':authority': 'elsewhere.test:443' })
  connect.on('error', () => {})
  const [head] = (await once(connect, 'response')) as [http2.IncomingHttpHeaders]
  t.equal(head[':status'], 405, JSON.stringify(head))
  t.equal(head.allow, 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH')
  connect.destroy()
  t.equal((await h2request(session, { ':method': 'OPTIONS', ':path': '*' })).status, 400)
  t.equal(upstream.requests.length, 0)
})

t.test(
  'an HTTP/1.1 request line that says HTTP/2.0 on the TLS port gets 505, never the HTTP/2 path',
  async (t) => {
    const upstream = await recordingUpstream(t, (_req, res) => res.end('blue backend\n'))
    const proxy = await startColorProxy(t, { BLUE: upstream.url, ...TLS })
    const socket = tls.connect({
      port: proxy.httpsPort as number,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: ca.cert,
      ALPNProtocols: ['http/1.1'],
    })
    await once(socket, 'secureConnect')
    socket.end('GET / HTTP/2.0\r\nHost: localhost\r\n\r\n')
    let text = ''
    for await (const chunk of socket) text += String(chunk)
    t.match(text, /^HTTP\/1\.1 505 /)
    t.equal(upstream.requests.length, 0, 'nothing reached the backend')
    const session = h2session(t, `https://localhost:${proxy.httpsPort}`)
    t.equal((await h2request(session, { ':path': '/' })).status, 200, 'and the proxy still serves')
  },
)
