// Requests with a body, through node:http's client: the same timeouts and failures as every request.
import { once } from 'node:events'
import http from 'node:http'
import t from 'tap'
import { get, rawConnection } from '../helpers/clients.js'
import { rawUpstream, recordingUpstream, unansweredPort } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

const post = (url: string) => get(url, { method: 'POST', body: 'order #1' })

t.test(
  'an upload whose upstream does not accept the connection within TIMEOUT_CONNECT gets 504',
  async (t) => {
    const port = await unansweredPort(t)
    const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}`, TIMEOUT_CONNECT: '200ms' })
    const answer = await post(proxy.url)
    t.equal(answer.status, 504)
    t.equal(answer.body, '504 the upstream did not accept the connection in time\n')
  },
)

t.test('an upload whose upstream does not answer within TIMEOUT_SERVER gets 504', async (t) => {
  const up = await recordingUpstream(t, () => {})
  const proxy = await startColorProxy(t, { BLUE: up.url, TIMEOUT_SERVER: '200ms' })
  const answer = await post(proxy.url)
  t.equal(answer.status, 504)
  t.equal(answer.body, '504 the upstream did not answer in time\n')
})

t.test("an upload's answer that stalls for TIMEOUT_SERVER_IDLE is cut and counted", async (t) => {
  const upstream = await rawUpstream(t, (_head, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n7 bytes')
  })
  const proxy = await startColorProxy(t, { BLUE: upstream.url, TIMEOUT_SERVER_IDLE: '200ms' })
  const req = http.request(proxy.url, { method: 'POST', agent: false })
  req.end('order #1')
  const [res] = (await once(req, 'response')) as [http.IncomingMessage]
  const [error] = (await once(res.resume(), 'error')) as [NodeJS.ErrnoException]
  t.match(error, { code: 'ECONNRESET' })
  t.match(await proxy.line((l) => l.msg === 'request'), { status: 504, error: 'server_idle_timeout' })
})

t.test('a client that leaves mid-upload cancels the upstream request, logged 499', async (t) => {
  let upstreamReq: http.IncomingMessage | undefined
  const up = await recordingUpstream(t, (req) => {
    upstreamReq = req
    // The cut upload is an 'aborted' error here: the outcome this test waits for.
    req.on('error', () => {}).resume()
  })
  const proxy = await startColorProxy(t, { BLUE: up.url })
  const client = rawConnection(proxy.port)
  client.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nfirst part')
  while (!upstreamReq) await once(up.server, 'request')
  const seen = upstreamReq
  const gone = new Promise((resolve) => seen.once('close', resolve))
  client.socket.destroy()
  await gone
  t.equal(seen.complete, false, 'the upstream saw the upload cut off')
  t.match(await proxy.line((l) => l.msg === 'request'), { status: 499, error: 'client_gone' })
})

t.test("an upload's long answer to a client that reads late arrives whole", async (t) => {
  // The client reads nothing at first, so the proxy's writes to it report back-pressure and the upstream's
  // answer waits, then flows again as the client reads.
  const body = 'Z'.repeat(8_000_000)
  const upstream = await rawUpstream(t, (_head, socket) => {
    socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
  })
  const proxy = await startColorProxy(t, { BLUE: upstream.url })
  const client = rawConnection(proxy.port)
  client.socket.pause()
  client.socket.write('POST /o HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\norder #1')
  await upstream.received('order #1')
  client.socket.resume()
  await client.closed()
  t.match(client.text, /^HTTP\/1\.1 200 OK\r\n/)
  t.equal(client.text.split('Z').length - 1, body.length, 'all of its body')
  t.match(await proxy.line((l) => l.msg === 'request'), { status: 200, method: 'POST' })
})
