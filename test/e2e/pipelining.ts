// Pipelining against a real colorproxy process (the issue "One client, bounded", items 1 and 2): one
// connection's requests reach the backend one at a time and in order, and the proxy reads no faster than
// it answers.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import t from 'tap'
import { get, rawConnection } from '../helpers/clients.js'
import { listen, type Teardown } from '../helpers/upstreams.js'
import { startProxy } from '../helpers/programs.js'

/** Resident memory of a process in bytes (Linux). */
function rss(pid: number): number {
  const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1] ?? 0)
  return pages * 4096
}

/** A backend that counts requests in progress at once and answers each after `delayMs`. */
async function countingBackend(t: Teardown, delayMs = 0) {
  const seen: string[] = []
  let inFlight = 0
  let most = 0
  const server = http.createServer((req, res) => {
    inFlight++
    most = Math.max(most, inFlight)
    seen.push(`${req.method} ${req.url}`)
    const answer = () => {
      inFlight--
      res.end(`${req.method} ${req.url}\n`)
    }
    req.resume()
    req.once('end', () => (delayMs > 0 ? setTimeout(answer, delayMs) : setImmediate(answer)))
  })
  const port = await listen(t, server)
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    get most() {
      return most
    },
  }
}

t.test('2,000 pipelined GETs in one write: one at a time upstream, all answered in order', async (t) => {
  const backend = await countingBackend(t)
  const proxy = await startProxy(t, { BLUE: backend.url })
  const pid = proxy.program.child.pid as number
  const port = Number(new URL(proxy.url).port)
  // Warmed up first by ordinary keep-alive traffic, so what is measured is the flood, not the first
  // requests' compiled code and heap growth (about 20 MB on Node 26 for any 2,000 requests).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  for (let i = 0; i < 2000; i++) await get(`${proxy.url}/warm`, { agent })
  const before = rss(pid)
  let peak = before
  const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 20)
  t.teardown(() => clearInterval(sampler))
  const count = 2000
  const client = rawConnection(port)
  await once(client.socket, 'connect')
  let bytes = ''
  for (let i = 0; i < count; i++) bytes += `GET /r${i} HTTP/1.1\r\nHost: x\r\n\r\n`
  client.socket.write(bytes)
  await client.received(`GET /r${count - 1}\n`)
  clearInterval(sampler)
  client.socket.destroy()
  backend.seen.splice(0, 2000)
  t.equal(backend.seen.length, count, 'the backend saw every request')
  t.equal(backend.most, 1, 'never more than one of them at a time')
  const bodies = [...client.text.matchAll(/\r\n\r\n(GET \/r\d+)\n/g)].map((match) => match[1])
  t.equal(bodies.length, count, 'every request got its answer')
  t.same(
    bodies,
    Array.from({ length: count }, (_, i) => `GET /r${i}`),
    'in the order they were sent',
  )
  t.ok(
    peak - before < 20 * 1024 * 1024,
    `the proxy's RSS grew by ${((peak - before) / 1048576).toFixed(1)} MB`,
  )
})

t.test('a pipelined DELETE reaches the backend only after the POST ahead of it was answered', async (t) => {
  const order: string[] = []
  const server = http.createServer((req, res) => {
    order.push(`start ${req.method} ${req.url}`)
    req.resume()
    req.once('end', () =>
      setTimeout(
        () => {
          order.push(`answer ${req.method} ${req.url}`)
          res.end('done\n')
        },
        req.method === 'POST' ? 300 : 0,
      ),
    )
  })
  const port = await listen(t, server)
  const proxy = await startProxy(t, { BLUE: `http://127.0.0.1:${port}` })
  const client = rawConnection(Number(new URL(proxy.url).port))
  client.socket.write(
    'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi' +
      'DELETE /b HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  )
  await client.closed()
  t.same(order, [
    'start POST /a',
    'answer POST /a',
    'start DELETE /b',
    'answer DELETE /b',
    'start GET /c',
    'answer GET /c',
  ])
  t.equal(client.text.match(/HTTP\/1\.1 200 OK/g)?.length, 3, 'three answers')
})
