// A chunked request body that does not parse gets 400 with Connection: close, and nothing of it is
// completed upstream (the issue "One client, bounded", item 3). Raw bytes in, raw bytes checked.
import { once } from 'node:events'
import http from 'node:http'
import t from 'tap'
import { rawConnection } from '../helpers/clients.js'
import { listen, recordingUpstream } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

const HEAD = 'POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'

for (const [name, body] of [
  ['a negative chunk size', '-1\r\nhello\r\n0\r\n\r\n'],
  ['a hexadecimal-prefixed chunk size', '0x5\r\nhello\r\n0\r\n\r\n'],
  ['a 17-digit chunk size', '10000000000000000\r\nhello\r\n0\r\n\r\n'],
  ['a bad chunk end', '5\r\nhelloXX0\r\n\r\n'],
]) {
  t.test(`${name} gets 400 with Connection: close, and nothing is forwarded`, async (t) => {
    const upstream = await recordingUpstream(t)
    const proxy = await startColorProxy(t, { BLUE: upstream.url })
    const client = rawConnection(proxy.port)
    client.socket.write(HEAD + body)
    await client.closed()
    t.match(client.text, /^HTTP\/1\.1 400 Bad Request\r\n/)
    t.match(client.text, /\r\nConnection: close\r\n/i)
    t.match(client.text, /\r\n\r\n400 the request body is malformed/)
    t.equal(upstream.requests.length, 0, 'the upstream got no request')
  })
}

t.test('a body that breaks after its first chunk went upstream: 400, and the upload is cut', async (t) => {
  let received = ''
  const server = http.createServer((req, res) => {
    req.setEncoding('latin1')
    req.on('data', (chunk: string) => {
      received += chunk
      server.emit('body')
    })
    req.on('end', () => res.end('complete'))
  })
  const port = await listen(t, server)
  const proxy = await startColorProxy(t, { BLUE: `http://127.0.0.1:${port}` })
  const client = rawConnection(proxy.port)
  const aborted = new Promise<void>((resolve) =>
    server.once('request', (req) => req.once('aborted', resolve)),
  )
  client.socket.write(`${HEAD}5\r\nhello\r\n`)
  await once(server, 'body')
  client.socket.write('-1\r\n')
  await client.closed()
  await aborted
  t.match(client.text, /^HTTP\/1\.1 400 Bad Request\r\n/)
  t.equal(received, 'hello', 'the upstream got the first chunk and never an end')
})

t.test('a broken body waiting its turn behind a pipelined request is answered 400 after it', async (t) => {
  const upstream = await recordingUpstream(t, (req, res) => {
    setTimeout(() => res.end('slow'), 100)
  })
  const proxy = await startColorProxy(t, { BLUE: upstream.url })
  const client = rawConnection(proxy.port)
  client.socket.write(`GET /slow HTTP/1.1\r\nHost: x\r\n\r\n${HEAD}0x5\r\nhello\r\n0\r\n\r\n`)
  await client.closed()
  const statuses = [...client.text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((match) => match[1])
  t.same(statuses, ['200', '400'])
  t.same(
    upstream.requests.map((request) => request.url),
    ['/slow'],
  )
})
