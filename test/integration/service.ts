// The shutdown sequence (SPEC.md "Shutdown") and startup, in-process over real sockets.
import { EventEmitter, once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { get, rawConnection } from '../helpers/clients.js'
import { listen, recordingUpstream } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

/** An upstream that holds each response until release() is called. */
async function heldUpstream(t: Parameters<typeof recordingUpstream>[0]) {
  const held: http.ServerResponse[] = []
  const arrived = new EventEmitter()
  const up = await recordingUpstream(t, (_req, res) => {
    held.push(res)
    arrived.emit('request')
  })
  return {
    ...up,
    /** Resolves once n requests are being held. */
    async waitFor(n: number) {
      while (held.length < n) await once(arrived, 'request')
    },
    release() {
      for (const res of held.splice(0)) res.end('done')
    },
  }
}

t.test('logs one startup line per color with its share, then the ports', async (t) => {
  const proxy = await startColorProxy(t, {
    BLUE: 'http://u:secret@127.0.0.1:1',
    GREEN: 'http://127.0.0.1:2',
    BLUE_WEIGHT: '4',
    GREEN_WEIGHT: '1',
  })
  t.match(proxy.lines[0], { color: 'blue', upstream: 'http://***@127.0.0.1:1', weight: 4, share_percent: 80 })
  t.match(proxy.lines[1], { color: 'green', weight: 1, share_percent: 20, msg: 'green: 20% of new traffic' })
  t.match(proxy.lines[2], { msg: 'listening', port: proxy.port, admin_port: Number })
  t.notMatch(JSON.stringify(proxy.lines), /secret/)
})

t.test('start() rejects when the port is taken, and frees what it bound', async (t) => {
  const taken = await listen(t, net.createServer())
  await t.rejects(startColorProxy(t, { BLUE: 'http://127.0.0.1:1', PORT: String(taken) }), {
    code: 'EADDRINUSE',
  })
  const busyAdmin = await listen(t, net.createServer())
  await t.rejects(startColorProxy(t, { BLUE: 'http://127.0.0.1:1', ADMIN_PORT: String(busyAdmin) }), {
    code: 'EADDRINUSE',
  })
})

t.test('during SHUTDOWN_DELAY readyz is 503 and traffic is still served', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  t.equal((await get(`${proxy.admin}/readyz`)).status, 200)
  const done = proxy.proxy.shutdown({ delayMs: 60_000 })
  t.equal((await get(`${proxy.admin}/readyz`)).status, 503)
  t.equal((await get(`${proxy.admin}/healthz`)).status, 200, 'still alive')
  const served = await get(proxy.url)
  t.equal(served.status, 200, 'new connections are still served during the delay')
  // A second signal skips what is left of the delay.
  t.same(await proxy.proxy.shutdown({ delayMs: 60_000 }), { forced: 0 })
  t.same(await done, { forced: 0 })
})

t.test('an in-flight request completes, with Connection: close, then the drain ends', async (t) => {
  const up = await heldUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  const answer = get(proxy.url, { agent })
  await up.waitFor(1)
  const drained = proxy.proxy.shutdown({ delayMs: 0 })
  await proxy.line((l) => l.msg === 'draining: no new connections')
  up.release()
  const { status, headers, body } = await answer
  t.equal(status, 200)
  t.equal(body, 'done')
  t.equal(headers.connection, 'close', 'the keep-alive client is told to go')
  t.same(await drained, { forced: 0 })
  await t.rejects(get(proxy.url), { code: 'ECONNREFUSED' }, 'no longer accepting')
})

t.test('idle keep-alive connections are closed when the drain starts', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const client = rawConnection(proxy.port)
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await client.received('ok')
  t.same(await proxy.proxy.shutdown({ delayMs: 0 }), { forced: 0 })
  await client.closed()
  t.match(client.text, /connection: keep-alive/i, 'the socket was idle in keep-alive, and it was closed')
})

t.test('a response already streaming when the drain starts closes its socket when done', async (t) => {
  let upstreamRes: http.ServerResponse | undefined
  const up = await recordingUpstream(t, (_req, res) => {
    upstreamRes = res
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('part one, ')
  })
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const client = rawConnection(proxy.port)
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  // The head and the first part have reached the client: the answer started before the drain.
  await client.received('part one, ')
  const drained = proxy.proxy.shutdown({ delayMs: 0 })
  await proxy.line((l) => l.msg === 'draining: no new connections')
  upstreamRes?.end('part two')
  await client.closed()
  t.match(client.text, /part one, [\s\S]*part two/)
  t.match(client.text, /connection: keep-alive/i, 'headers went out before the drain')
  t.same(await drained, { forced: 0 })
})

t.test('WebSocket tunnels are ended when the drain starts', async (t) => {
  const server = http.createServer()
  const wss = new WebSocketServer({ server })
  const port = await listen(t, server)
  t.teardown(() => wss.close())
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}` })
  const ws = new WebSocket(proxy.url.replace('http', 'ws'))
  await once(ws, 'open')
  const closed = once(ws, 'close')
  t.same(await proxy.proxy.shutdown({ delayMs: 0 }), { forced: 0 })
  await closed
  t.pass('the tunnel was closed')
})

t.test('requests still running at SHUTDOWN_TIMEOUT are cut off', async (t) => {
  const up = await heldUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: up.url, SHUTDOWN_TIMEOUT: '200ms' })
  const answer = get(proxy.url).catch((error: Error) => error)
  await up.waitFor(1)
  t.same(await proxy.proxy.shutdown({ delayMs: 0 }), { forced: 1 })
  t.match(await answer, { code: 'ECONNRESET' })
  t.match(await proxy.line((l) => l.msg === 'drain timed out: connections closed'), { forced: 1 })
})

t.test(
  'a request sent on a busy keep-alive connection during the drain gets Connection: close',
  async (t) => {
    let first: http.ServerResponse | undefined
    const up = await recordingUpstream(t, (req, res) => {
      if (req.url === '/first') {
        first = res
        res.writeHead(200, { 'content-length': '10' })
        res.write('first ')
      } else {
        res.end('second')
      }
    })
    const proxy = await startColorProxy(t, { BLUE: up.url })
    const client = rawConnection(proxy.port)
    client.socket.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n')
    // The first answer's head has reached the client: it went out before the drain.
    await client.received('first ')
    const drained = proxy.proxy.shutdown({ delayMs: 0 })
    await proxy.line((l) => l.msg === 'draining: no new connections')
    // The connection is busy, so the drain leaves it open; a second request arrives on it now. It is
    // forwarded once the first is answered (serial pipelining): the proxy has read it after the write is
    // done and its event loop has polled once (two turns of setImmediate).
    await new Promise<void>((resolve) =>
      client.socket.write('GET /second HTTP/1.1\r\nHost: x\r\n\r\n', () => resolve()),
    )
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve))
    first?.end('done')
    await client.closed()
    const [firstReply, secondReply] = client.text.split(/(?=HTTP\/1\.1 )/)
    t.match(
      firstReply,
      /connection: keep-alive[\s\S]*first done$/i,
      'the first answer went out before the drain',
    )
    t.match(secondReply, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close[\s\S]*second$/i)
    t.same(await drained, { forced: 0 })
  },
)

t.test(
  'an answer whose upstream headers arrived before the drain, body after, says Connection: close',
  async (t) => {
    let held: http.ServerResponse | undefined
    const up = await recordingUpstream(t, (_req, res) => {
      held = res
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.flushHeaders()
    })
    const proxy = await startColorProxy(t, { BLUE: up.url, LOG_LEVEL: 'debug' })
    const agent = new http.Agent({ keepAlive: true })
    t.teardown(() => agent.destroy())
    const answer = get(proxy.url, { agent })
    // The proxy has the upstream's headers (and has copied them, keep-alive included) before any body.
    await proxy.line((l) => l.msg === 'upstream headers')
    const drained = proxy.proxy.shutdown({ delayMs: 0 })
    await proxy.line((l) => l.msg === 'draining: no new connections')
    held?.end('body after the drain began')
    const { headers, body } = await answer
    t.equal(body, 'body after the drain began')
    t.equal(headers.connection, 'close')
    t.same(await drained, { forced: 0 })
  },
)
