// Serial pipelining in-process (pipeline.ts): what waits its turn behind a request in flight.
import http from 'node:http'
import t from 'tap'
import { WebSocketServer } from 'ws'
import { rawConnection } from '../helpers/clients.js'
import { listen } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

t.test('a WebSocket upgrade pipelined behind a slow GET waits for its answer', async (t) => {
  const order: string[] = []
  const server = http.createServer((req, res) => {
    order.push(`start ${req.url}`)
    setTimeout(() => {
      order.push(`answer ${req.url}`)
      res.end('slow')
    }, 100)
  })
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws) => {
    order.push('upgrade')
    ws.send('hello')
  })
  t.teardown(() => wss.close())
  const port = await listen(t, server)
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}` })
  const client = rawConnection(proxy.port)
  t.teardown(() => client.socket.destroy())
  client.socket.write(
    'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  )
  await client.received('hello')
  t.same(order, ['start /slow', 'answer /slow', 'upgrade'])
  t.match(client.text, /^HTTP\/1\.1 200 OK\r\n[^]*slowHTTP\/1\.1 101 Switching Protocols\r\n/)
})
