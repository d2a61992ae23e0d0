// HTTP/2 on the stream API: what a bodiless request reads as and what its response sends, on a real h2c
// server and client on port 0, and which streams http2.ts's serveStreams hands to the compatibility layer.
import { once } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type * as h2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { StreamRequest, StreamResponse } from '../../lib/http2-stream.js'
import { isHttp2Request, loadHttp2 } from '../../lib/node-http.js'
import { serveStreams } from '../../src/listen/http2.js'

const http2 = loadHttp2()

type Serve = (req: StreamRequest, res: StreamResponse) => void

/** An h2c server that serves every stream with `serve`, and a session to it. */
async function h2c(t: { teardown(fn: () => unknown): void }, serve: Serve) {
  const server = http2.createServer()
  server.on('stream', (stream, headers, _flags, rawHeaders: string[]) =>
    serve(new StreamRequest(stream, headers, rawHeaders), new StreamResponse(stream)),
  )
  return connect(t, server)
}

/** The server listening on port 0, and a session to it; both closed at the test's end. */
async function connect(t: { teardown(fn: () => unknown): void }, server: h2.Http2Server) {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  t.teardown(() => {
    session.destroy()
    server.close()
  })
  return session
}

/** A request's informational heads, final head and body. */
async function ask(session: h2.ClientHttp2Session, headers: h2.OutgoingHttpHeaders) {
  const stream = session.request(headers, { endStream: true })
  const early: h2.IncomingHttpHeaders[] = []
  stream.on('headers', (head) => early.push(head))
  const [head] = (await once(stream, 'response')) as [h2.IncomingHttpHeaders]
  let body = ''
  stream.setEncoding('utf8')
  for await (const chunk of stream) body += chunk as string
  return { head, body, early }
}

t.test('a request reads as HTTP/2 with its method, path, headers and socket', async (t) => {
  let seen: StreamRequest | undefined
  const session = await h2c(t, (req, res) => {
    seen = req
    res.end('ok')
  })
  await ask(session, { ':path': '/a?b=1', ':method': 'DELETE', 'x-one': '1' })
  const req = seen as StreamRequest
  t.equal(req.method, 'DELETE')
  t.equal(req.url, '/a?b=1')
  t.equal(req.headers['x-one'], '1')
  t.ok(req.rawHeaders.includes('x-one'))
  t.same([req.httpVersionMajor, req.httpVersionMinor, req.httpVersion, req.complete], [2, 0, '2.0', true])
  t.equal(req.socket.remoteAddress, '127.0.0.1')
  t.equal(req.socket.encrypted, true)
  t.equal(req.socket.destroyed, true, 'the stream is closed once answered')
  t.ok(isHttp2Request(req))
})

t.test('the head goes with the body: status, fields (never Connection), and the bytes counted', async (t) => {
  let res: StreamResponse | undefined
  const session = await h2c(t, (_req, answer) => {
    res = answer
    answer.statusCode = 201
    answer.setHeader('X-Color', 'blue')
    answer.setHeader('set-cookie', ['a=1', 'b=2'])
    answer.setHeader('connection', 'close')
    t.notOk(answer.headersSent)
    answer.end('hello')
    answer.end('again')
    t.ok(answer.headersSent)
    t.throws(() => answer.setHeader('late', '1'), /already sent/)
  })
  const { head, body } = await ask(session, { ':path': '/' })
  t.equal(head[':status'], 201)
  t.equal(head['x-color'], 'blue')
  t.same(head['set-cookie'], ['a=1', 'b=2'])
  t.notOk(head.connection)
  t.equal(body, 'hello', 'a second end writes nothing')
  t.equal(res?.bytesSent, 5)
  t.ok(res?.writableFinished)
  t.equal(res?.errored, null)
})

t.test('a body written in pieces, after writeHead, with a 103 before it', async (t) => {
  const session = await h2c(t, (_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload' })
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.writeEarlyHints({ link: '</late.css>; rel=preload' })
    t.equal(res.write('one '), true)
    t.equal(res.write(Buffer.from('two')), true)
    res.once('close', () => t.equal(res.bytesSent, 7))
    res.end()
  })
  const { head, body, early } = await ask(session, { ':path': '/' })
  t.equal(head['content-type'], 'text/plain')
  t.equal(body, 'one two')
  t.same(
    early.map((hints) => [hints[':status'], hints.link]),
    [[103, '</style.css>; rel=preload']],
    'hints only before the final head',
  )
})

t.test('HEAD, 204 and 304 end with the head: a body given is never written', async (t) => {
  const session = await h2c(t, (req, res) => {
    if (req.url === '/204') res.statusCode = 204
    else res.setHeader('content-length', 5)
    t.equal(res.write('hello'), true)
    res.end('hello')
  })
  const head = await ask(session, { ':path': '/', ':method': 'HEAD' })
  t.same([head.head[':status'], head.head['content-length'], head.body], [200, '5', ''])
  const empty = await ask(session, { ':path': '/204' })
  t.same([empty.head[':status'], empty.body], [204, ''])
})

t.test('a stream the client reset is written to no more, and its error stays its own', async (t) => {
  let answer: (() => void) | undefined
  let res: StreamResponse | undefined
  const session = await h2c(t, (req, response) => {
    res = response
    answer = () => {
      t.equal(req.socket.destroyed, true)
      t.equal(response.write('late'), false)
      response.writeHead(200)
      response.writeEarlyHints({ link: '</x>' })
      response.end('late')
      t.notOk(response.headersSent)
    }
    req.stream.once('close', () => answer?.())
  })
  const stream = session.request({ ':path': '/' }, { endStream: true })
  await once(session, 'remoteSettings').catch(() => undefined)
  stream.close(http2.constants.NGHTTP2_CANCEL)
  await once(stream, 'close')
  while (!res?.stream.closed) await new Promise((resolve) => setImmediate(resolve))
  t.ok(res.stream.destroyed)
})

t.test('destroy resets the stream with the error', async (t) => {
  const session = await h2c(t, (_req, res) => {
    res.write('part')
    res.destroy(new Error('cut'))
    t.equal(res.errored?.message, 'cut')
  })
  const stream = session.request({ ':path': '/' }, { endStream: true })
  stream.resume()
  const [error] = (await once(stream, 'error')) as [NodeJS.ErrnoException]
  t.equal(error.code, 'ERR_HTTP2_STREAM_ERROR')
})

t.test(
  'serveStreams: a bodiless request on the stream API, the others through the compatibility layer',
  async (t) => {
    const server = http2.createServer()
    const before = server.listeners('stream')
    const compat: string[] = []
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      compat.push(`${req.method} ${String(isHttp2Request(req))}`)
      req.resume()
      req.once('end', () => res.end('compat'))
    })
    server.on('connect', (_req, res: ServerResponse) => {
      compat.push('CONNECT')
      res.end()
    })
    const streamed: string[] = []
    serveStreams(server as unknown as h2.Http2SecureServer, before, (req, res) => {
      streamed.push(`${req.method} ${String(isHttp2Request(req))}`)
      res.end('stream')
    })
    t.equal(server.listeners('stream').length, 1, "node:http2's own handler is replaced")
    const session = await connect(t, server)
    t.equal((await ask(session, { ':path': '/' })).body, 'stream')
    const post = session.request({ ':path': '/', ':method': 'POST' })
    post.end('body')
    post.setEncoding('utf8')
    let body = ''
    for await (const chunk of post) body += chunk as string
    t.equal(body, 'compat')
    t.equal((await ask(session, { ':path': '/', expect: 'nothing' })).head[':status'], 417)
    const tunnel = session.request({ ':method': 'CONNECT', ':authority': 'example.test:443' })
    await once(tunnel, 'response')
    tunnel.destroy()
    t.same(streamed, ['GET true'])
    t.same(compat, ['POST true', 'CONNECT'])
  },
)

t.test(
  'serveStreams leaves every stream to node:http2 unless it finds exactly its one handler',
  async (t) => {
    const server = http2.createServer()
    const before = server.listeners('stream')
    server.on('request', () => {})
    const own = () => {}
    server.on('stream', own)
    serveStreams(server as unknown as h2.Http2SecureServer, before, () => t.fail('never the stream API'))
    t.equal(server.listeners('stream').length, 2, 'two new handlers: neither is taken')
    t.ok(server.listeners('stream').includes(own))
    const bare = http2.createServer()
    serveStreams(bare as unknown as h2.Http2SecureServer, [], () => t.fail('never the stream API'))
    t.equal(bare.listeners('stream').length, 0, 'no handler: none is added')
  },
)
