// WebSocket upgrades through the proxy, one behaviour per test, over real sockets.
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { listen, recordingUpstream, refusedPort } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

t.test('WebSocket upgrades: echo through the proxy, with the color header', async (t) => {
  const server = http.createServer()
  const wss = new WebSocketServer({ server })
  let seenColor: string | undefined
  wss.on('connection', (ws, req) => {
    seenColor = req.headers.color as string
    ws.on('message', (data) => ws.send(`echo ${data}`))
  })
  const port = await listen(t, server)
  t.teardown(() => wss.close())
  const proxy = await startColorProxy(
    t,
    { BLUE: `http://127.0.0.1:${port}`, GREEN: `http://127.0.0.1:${port}` },
    { rand: () => 0.9 },
  )
  const ws = new WebSocket(`${proxy.url.replace('http', 'ws')}/socket`, { headers: { Color: 'spoofed' } })
  await once(ws, 'open')
  ws.send('hello')
  const [reply] = await once(ws, 'message')
  t.equal(String(reply), 'echo hello')
  t.equal(seenColor, 'green')
  ws.close()
  await once(ws, 'close')
  const line = await proxy.line((l) => l.msg === 'request' && l.path === '/socket')
  t.match(line, { status: 101, color: 'green' })
  t.ok((line.bytes as number) > 129, `a tunnel's bytes count its frames too (${line.bytes})`)
})

t.test('a WebSocket whose upstream resets after the upgrade is closed', async (t) => {
  const server = http.createServer()
  const wss = new WebSocketServer({ server })
  wss.on('connection', (_ws, req) => {
    ;(req.socket as net.Socket).resetAndDestroy()
  })
  const port = await listen(t, server)
  t.teardown(() => wss.close())
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}` })
  const ws = new WebSocket(proxy.url.replace('http', 'ws'))
  ws.on('error', () => {})
  const [code] = await once(ws, 'close')
  t.equal(code, 1006)
  t.match(await proxy.line((l) => l.msg === 'request'), { status: 101 })
})

t.test('WebSocket upgrade to an upstream that does not answer within TIMEOUT_SERVER gets 504', async (t) => {
  const up = await recordingUpstream(t)
  // The upstream takes the upgrade request and never answers it.
  up.server.on('upgrade', () => {})
  const proxy = await startColorProxy(t, { BLUE: up.url, TIMEOUT_SERVER: '200ms' })
  const ws = new WebSocket(proxy.url.replace('http', 'ws'))
  ws.on('error', () => {})
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage]
  t.equal(res.statusCode, 504)
})

t.test('WebSocket upgrade to a refused upstream gets 502', async (t) => {
  const port = await refusedPort()
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}` })
  const ws = new WebSocket(proxy.url.replace('http', 'ws'))
  ws.on('error', () => {})
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage]
  t.equal(res.statusCode, 502)
})

t.test('WebSocket upgrade when no color can take it gets 503', async (t) => {
  const proxy = await startColorProxy(t, { BLUE: 'http://127.0.0.1:1' }, {}, (config) => {
    for (const color of config.sites.flatMap((site) => site.colors)) color.weight = 0
  })
  const ws = new WebSocket(proxy.url.replace('http', 'ws'))
  ws.on('error', () => {})
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage]
  t.equal(res.statusCode, 503)
  t.match(await proxy.line((l) => l.msg === 'request'), { status: 503, color: null, error: 'no_color' })
})

t.test('an idle WebSocket is closed after TIMEOUT_TUNNEL', async (t) => {
  const server = http.createServer()
  const wss = new WebSocketServer({ server })
  const port = await listen(t, server)
  t.teardown(() => wss.close())
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}`, TIMEOUT_TUNNEL: '300ms' })
  const ws = new WebSocket(proxy.url.replace('http', 'ws'))
  await once(ws, 'open')
  const [code] = await once(ws, 'close')
  t.equal(code, 1006, 'closed without a close frame: the tunnel was cut')
})
