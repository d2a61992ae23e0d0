// colorproxy's own upstream connections (upstream-pool.ts, upstream-connection.ts, request-head.ts):
// raw bytes from the upstream, raw bytes checked at the upstream, the answers the handler heard.
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import t from 'tap'
import { ConnectionLimit } from '../../src/upstream/connection-limit.js'
import type { AnswerHandler, UpstreamRequest } from '../../src/upstream/connection.js'
import { ConnectionPool } from '../../src/upstream/address-pool.js'
import { listen, rawUpstream } from '../helpers/upstreams.js'

function pool(port: number, keepAliveMs = 60_000) {
  return new ConnectionPool({
    destination: { address: '127.0.0.1', port, tls: undefined, connectTimeoutMs: 5000 },
    keepAliveMs,
    maxAgeMs: 30_000,
    now: Date.now,
    random: () => 0,
    limit: new ConnectionLimit(
      { maxConnections: Number.POSITIVE_INFINITY, maxPending: 0, queueTimeoutMs: 0 },
      () => false,
    ),
  })
}

const request = (path = '/', method = 'GET', headers: string[] = ['host', 'x']): UpstreamRequest => ({
  method,
  path,
  headers,
  headersTimeout: 5000,
  bodyTimeout: 5000,
})

interface Heard {
  heads: [number, string[]][]
  body: string
  error: (Error & { code?: string }) | undefined
}

/** One request through the pool; resolves what its handler heard once it completed or failed. */
function send(target: ConnectionPool, req = request(), fresh = false, readable = () => true) {
  return new Promise<Heard>((resolve) => {
    const heard: Heard = { heads: [], body: '', error: undefined }
    const handler: AnswerHandler = {
      onConnect: () => {},
      onHeaders: (status, fields) => {
        heard.heads.push([status, fields])
      },
      onData: (chunk) => {
        heard.body += chunk
        return readable()
      },
      onComplete: () => resolve(heard),
      onError: (error) => resolve({ ...heard, error }),
    }
    if (fresh) target.fresh(req, handler)
    else target.dispatch(req, handler)
  })
}

t.test(
  'the request head goes out as written, with Connection: keep-alive, and the connection is kept',
  async (t) => {
    const up = await rawUpstream(t, (_head, socket) =>
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    )
    const p = pool(up.port)
    t.teardown(() => p.close())
    for (let i = 0; i < 3; i++) {
      const heard = await send(p, request('/a?b=1', 'GET', ['host', 'x', 'color', 'blue']))
      t.same(heard.heads, [[200, ['Content-Length', '2']]])
      t.equal(heard.body, 'ok')
    }
    t.same(up.connections, [
      'GET /a?b=1 HTTP/1.1\r\nhost: x\r\ncolor: blue\r\nconnection: keep-alive\r\n\r\n'.repeat(3),
    ])
  },
)

t.test('a path or field value that could smuggle a request is never sent', async (t) => {
  const up = await rawUpstream(t, (_head, socket) =>
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
  )
  const p = pool(up.port)
  t.teardown(() => p.close())
  for (const [path, headers] of [
    ['/a HTTP/1.1\r\nx: y', ['host', 'x']],
    ['/a b', ['host', 'x']],
    ['/', ['host', 'x\r\nGET /smuggled HTTP/1.1']],
    ['/', ['x-a', 'nul\0']],
    ['/', ['x-a', 'wide\u0100']],
  ] as const) {
    for (const fresh of [false, true]) {
      const heard = await send(p, request(path, 'GET', [...headers]), fresh)
      t.equal(heard.error?.code, 'EINVALIDREQUEST', JSON.stringify([path, headers]))
    }
  }
  t.equal((await send(p, request('/é', 'GET', ['x-a', 'tab\tand latin1 \u00e9']))).error, undefined)
  t.same(up.connections, ['GET /é HTTP/1.1\r\nx-a: tab\tand latin1 é\r\nconnection: keep-alive\r\n\r\n'])
})

t.test('an HTTP/1.0 answer keeps the connection only when it says keep-alive; a HEAD too', async (t) => {
  for (const [method, head, kept] of [
    ['GET', 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', false],
    ['GET', 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok', true],
    ['HEAD', 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n', false],
    ['HEAD', 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n', true],
    ['HEAD', 'HTTP/1.1 200 OK\r\n\r\n', true],
    ['HEAD', 'HTTP/1.1 200 OK\r\nConnection: x, Close\r\n\r\n', false],
  ] as const) {
    const up = await rawUpstream(t, (_request, socket) => socket.write(head))
    const p = pool(up.port)
    await send(p, request('/', method))
    const heard = await send(p, request('/', method))
    t.equal(heard.error, undefined)
    t.equal(up.connections.length, kept ? 1 : 2, `${method} ${JSON.stringify(head)}: kept ${kept}`)
    p.close()
  }
})

t.test("an upstream's Keep-Alive: timeout= shortens how long its connection is kept", async (t) => {
  const up = await rawUpstream(t, (_request, socket) =>
    socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n'),
  )
  const p = pool(up.port)
  t.teardown(() => p.close())
  await send(p)
  await send(p)
  t.equal(up.connections.length, 2, 'timeout=1 leaves no time to reuse it: closed after each answer')
})

t.test('an idle connection closes once the keep-alive time has passed', async (t) => {
  let closed: Promise<unknown> | undefined
  const server = createServer((socket) => {
    closed = once(socket, 'close')
    socket.on('data', () =>
      socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n'),
    )
  })
  const p = pool(await listen(t, server), 50)
  await send(p)
  await closed
  t.pass("colorproxy closed it (after the shorter of 50 ms and the upstream's 4 s)")
})

t.test('bytes no request asked for close the connection; the answer before them stands', async (t) => {
  const closed: Promise<unknown>[] = []
  const up = await rawUpstream(t, (head, socket) => {
    const extra = head.startsWith('GET /same') ? 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' : ''
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok${extra}`)
    if (head.startsWith('GET /later')) setImmediate(() => socket.write('HTTP/1.1 204 No Content\r\n\r\n'))
    closed.push(once(socket, 'close'))
  })
  const p = pool(up.port)
  t.teardown(() => p.close())
  for (const path of ['/same', '/later']) {
    const heard = await send(p, request(path))
    t.equal(heard.body, 'ok', `${path}: its own answer is whole`)
  }
  await Promise.all(closed)
  await send(p)
  t.equal(up.connections.length, 3, 'each connection that sent more was closed, never reused')
})

t.test('a 101 nobody asked for, or a status under 100, is a bad answer', async (t) => {
  for (const status of ['101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade', '099 Odd']) {
    const up = await rawUpstream(t, (_request, socket) => socket.write(`HTTP/1.1 ${status}\r\n\r\n`))
    const p = pool(up.port)
    const heard = await send(p)
    t.equal(heard.error?.code, 'EBADANSWER', status)
    t.same(heard.heads, [], 'the handler heard no head')
    p.close()
  }
})

t.test('1xx heads come first, then the answer', async (t) => {
  const up = await rawUpstream(t, (_request, socket) =>
    socket.write(
      'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx',
    ),
  )
  const p = pool(up.port)
  t.teardown(() => p.close())
  const heard = await send(p)
  t.same(heard.heads, [
    [103, ['Link', '</a>']],
    [200, ['Content-Length', '1']],
  ])
  t.equal(heard.body, 'x')
})

t.test('more than 32 fields reach the handler whole', async (t) => {
  const fields = Array.from({ length: 40 }, (_, i) => `X-${i}: ${i}\r\n`).join('')
  const up = await rawUpstream(t, (_request, socket) =>
    socket.write(`HTTP/1.1 200 OK\r\n${fields}Content-Length: 0\r\n\r\n`),
  )
  const p = pool(up.port)
  t.teardown(() => p.close())
  const [[, got] = [0, []]] = (await send(p)).heads
  t.equal(got.length, 82)
  t.same(got.slice(0, 2), ['X-0', '0'])
})

t.test('while the reader waits, the upstream is paused and its idle timer off', async (t) => {
  const body = 'x'.repeat(4 << 20)
  const up = await rawUpstream(t, (_request, socket) =>
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
  )
  const p = pool(up.port)
  t.teardown(() => p.close())
  let resume: (() => void) | undefined
  let waited = false
  const heard = await new Promise<Heard>((resolve) => {
    const heard: Heard = { heads: [], body: '', error: undefined }
    p.dispatch(
      { ...request(), bodyTimeout: 50 },
      {
        onConnect: () => {},
        onHeaders: (status, fields, go) => {
          heard.heads.push([status, fields])
          resume = go
        },
        onData: (chunk) => {
          heard.body += chunk
          if (waited) return true
          waited = true
          // The reader is slow: three idle timeouts pass before it reads on.
          setTimeout(() => (resume as () => void)(), 200)
          return false
        },
        onComplete: () => resolve(heard),
        onError: (error) => resolve({ ...heard, error }),
      },
    )
  })
  t.equal(heard.error, undefined, 'not cut by TIMEOUT_SERVER_IDLE')
  t.equal(heard.body.length, body.length)
})

t.test('close() closes idle connections now and busy ones after their answer', async (t) => {
  const sockets: Socket[] = []
  let slowSocket: Socket | undefined
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.on('data', (data) => {
      if (!String(data).startsWith('GET /slow')) return void socket.write(ok)
      slowSocket = socket
      setTimeout(() => socket.write(ok), 50)
    })
  })
  const p = pool(await listen(t, server))
  await Promise.all([send(p), send(p)])
  t.equal(sockets.length, 2, 'two idle connections')
  let answered = false
  const slow = send(p, request('/slow')).then((heard) => ((answered = true), heard))
  const closed = sockets.map((socket) => once(socket, 'close'))
  await send(p, request('/other'))
  p.close()
  const idle = sockets.find((socket) => socket !== slowSocket) as Socket
  await closed[sockets.indexOf(idle)]
  t.notOk(answered, 'the idle one closed while the busy one still waited')
  t.equal((await slow).error, undefined, 'the busy one finished its answer')
  await closed[sockets.indexOf(slowSocket as Socket)]
  t.pass('and then closed')
  const after = await send(p)
  t.equal(after.error, undefined, 'a request after close() still goes out, on a connection closed after it')
})

t.test('a request aborted while connecting closes its connection and hears nothing more', async (t) => {
  const up = await rawUpstream(t, (_request, socket) =>
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
  )
  const p = pool(up.port)
  t.teardown(() => p.close())
  let heard = 0
  p.dispatch(request(), {
    onConnect: (abort) => abort(),
    onHeaders: () => void heard++,
    onData: () => Boolean(heard++),
    onComplete: () => void heard++,
    onError: () => void heard++,
  })
  t.equal((await send(p)).error, undefined)
  t.equal(heard, 0)
})
