// UPSTREAM_MAX_CONNECTIONS, UPSTREAM_MAX_PENDING and TIMEOUT_QUEUE (the issue "One client, bounded", item
// 4): connections to one color are capped whatever carries them, a short line waits, the rest get 503 at
// once, counted in colorproxy_upstream_overflow_total.
import { once } from 'node:events'
import http from 'node:http'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { get } from '../helpers/clients.js'
import { listen } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

/** A backend that answers after `delayMs` and counts the TCP connections open at once. */
async function slowBackend(t: Parameters<typeof listen>[0], delayMs: number) {
  let open = 0
  let most = 0
  const server = http.createServer((req, res) => {
    req.resume()
    setTimeout(() => res.end('slow'), delayMs)
  })
  server.on('connection', (socket) => {
    most = Math.max(most, ++open)
    socket.once('close', () => open--)
  })
  const port = await listen(t, server)
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    get most() {
      return most
    },
  }
}

t.test('600 slow clients against 50 connections and 100 waiting: about 450 get 503 at once', async (t) => {
  // A backend slow enough that a 503 "at once" is told from a wait even on a loaded machine.
  const backend = await slowBackend(t, 2000)
  const proxy = await startColorProxy(t, {
    BLUE: backend.url,
    UPSTREAM_MAX_CONNECTIONS: '50',
    UPSTREAM_MAX_PENDING: '100',
    TIMEOUT_QUEUE: '10s',
    LOG_LEVEL: 'warn',
  })
  const answers = await Promise.all(
    Array.from({ length: 600 }, async () => {
      const start = performance.now()
      const answer = await get(`${proxy.url}/slow`)
      return { status: answer.status, ms: performance.now() - start, body: answer.body }
    }),
  )
  const ok = answers.filter((answer) => answer.status === 200)
  const refused = answers.filter((answer) => answer.status === 503)
  t.equal(ok.length + refused.length, 600, 'every client got 200 or 503')
  // 50 at a time and 100 waiting: 150 served, and a few more whose request came after the first answers.
  t.ok(refused.length >= 400 && refused.length <= 450, `${refused.length} got 503`)
  t.ok(backend.most <= 50, `the backend saw at most 50 connections at once (${backend.most})`)
  t.ok(
    refused.every((answer) => answer.ms < 1500),
    `each 503 came at once, before a slot could free (slowest ${Math.round(Math.max(...refused.map((answer) => answer.ms)))} ms)`,
  )
  t.match(refused[0]?.body, /^503 the upstream has no free connection/)
  t.ok(
    ok.every((answer) => answer.ms < 10_000),
    'nobody waited past TIMEOUT_QUEUE',
  )
  const metrics = (await get(`${proxy.admin}/metrics`)).body
  t.match(
    metrics,
    new RegExp(`colorproxy_upstream_overflow_total\\{site="default",color="blue"\\} ${refused.length}\\n`),
  )
  t.match(
    metrics,
    new RegExp(`colorproxy_requests_total\\{site="default",color="blue",code="503"\\} ${refused.length}\\n`),
  )
})

t.test('a request waits at most TIMEOUT_QUEUE for a connection, then gets 503', async (t) => {
  const backend = await slowBackend(t, 1500)
  const proxy = await startColorProxy(t, {
    BLUE: backend.url,
    UPSTREAM_MAX_CONNECTIONS: '1',
    TIMEOUT_QUEUE: '200ms',
  })
  const first = get(`${proxy.url}/first`)
  await once(backend.server, 'request')
  const start = performance.now()
  const second = await get(`${proxy.url}/second`)
  const waited = performance.now() - start
  t.equal(second.status, 503)
  t.ok(
    waited >= 190 && waited < 1400,
    `it waited TIMEOUT_QUEUE, not for the first (${Math.round(waited)} ms)`,
  )
  t.equal((await first).status, 200, 'the first is served')
  const line = await proxy.line((l) => l.msg === 'request' && l.path === '/second')
  t.match(line, { status: 503, color: 'blue', error: 'upstream_overloaded' })
})

t.test('a waiting request takes the kept connection the one before it finishes', async (t) => {
  let connections = 0
  const server = http.createServer((req, res) => setTimeout(() => res.end(req.url), 50))
  server.on('connection', () => connections++)
  const port = await listen(t, server)
  const proxy = await startColorProxy(t, {
    BLUE: `http://127.0.0.1:${port}`,
    UPSTREAM_MAX_CONNECTIONS: '2',
  })
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`${proxy.url}/${i}`)))
  t.same(
    answers.map((answer) => answer.status),
    Array(10).fill(200),
  )
  t.equal(connections, 2, 'ten requests over two connections')
})

t.test('uploads and WebSocket tunnels count against the same limit', async (t) => {
  const server = http.createServer((req, res) => {
    req.resume()
    req.once('end', () => setTimeout(() => res.end('stored'), 300))
  })
  const wss = new WebSocketServer({ server })
  t.teardown(() => wss.close())
  const port = await listen(t, server)
  const proxy = await startColorProxy(t, {
    BLUE: `http://127.0.0.1:${port}`,
    UPSTREAM_MAX_CONNECTIONS: '1',
    UPSTREAM_MAX_PENDING: '0',
  })
  const upload = get(`${proxy.url}/up`, { method: 'POST', body: 'data' })
  await once(server, 'request')
  t.equal((await get(`${proxy.url}/x`, { method: 'POST', body: 'more' })).status, 503, 'a second upload')
  t.equal((await get(`${proxy.url}/y`)).status, 503, 'a GET')
  t.equal((await upload).status, 200)
  // The upload's kept connection is idle now: a tunnel waits for none, it makes room.
  const ws = new WebSocket(proxy.url.replace('http', 'ws'))
  await once(ws, 'open')
  t.teardown(() => ws.close())
  t.equal((await get(`${proxy.url}/z`)).status, 503, 'the tunnel holds the one connection')
  ws.close()
  await once(ws, 'close')
  let status = 503
  // The tunnel's upstream socket closes a moment after the client's: the next request finds the slot.
  while (status === 503) status = (await get(`${proxy.url}/again`)).status
  t.equal(status, 200)
})

t.test(
  'an upload waiting behind a GET gets the slot once the kept connection is closed for it',
  async (t) => {
    let connections = 0
    const server = http.createServer((req, res) => {
      req.resume()
      req.once('end', () => setTimeout(() => res.end(`${req.method} done`), 100))
    })
    server.on('connection', () => connections++)
    const port = await listen(t, server)
    const proxy = await startColorProxy(t, {
      BLUE: `http://127.0.0.1:${port}`,
      UPSTREAM_MAX_CONNECTIONS: '1',
    })
    const first = get(`${proxy.url}/first`)
    await once(server, 'request')
    const upload = await get(`${proxy.url}/up`, { method: 'POST', body: 'data' })
    t.equal(upload.body, 'POST done', 'the upload waited and was served')
    t.equal((await first).body, 'GET done')
    t.equal(connections, 2, "the GET's connection closed to make room, then the upload's opened")
  },
)
