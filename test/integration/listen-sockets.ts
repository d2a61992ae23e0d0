// The traffic port's listening sockets (src/listen/sockets.ts): several sockets of one process on the port,
// every connection they accept handed to the one server, closed with it; and a port in use still refused.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { connect, createServer, type Server } from 'node:net'
import t from 'tap'
import { listen } from '../../src/listen/sockets.js'

const linux = process.platform === 'linux'

/** The sockets listening on `port` (IPv4), from /proc/net/tcp: state 0A is LISTEN. */
function listeningSockets(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((line) => {
      const fields = line.trim().split(/\s+/)
      return fields[1]?.endsWith(`:${hex}`) && fields[3] === '0A'
    }).length
}

const portOf = (server: Server | http.Server) => (server.address() as { port: number }).port

/** `count` connections at once, each one GET; the server's answers. */
async function burst(port: number, count: number): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: count })
  const answers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<string>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, agent }, (res) => {
              let body = ''
              res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
              res.on('end', () => resolve(body))
            })
            .on('error', reject)
        }),
    ),
  )
  agent.destroy()
  return answers
}

t.test(
  'every acceptor hands its connections to the one server, and closes with it',
  { skip: !linux },
  async (t) => {
    const acceptedBy = new Set<unknown>()
    const server = http.createServer((req, res) => {
      // net.Server keeps the server that accepted a socket on it; the request is the main server's.
      acceptedBy.add((req.socket as unknown as { _server: unknown })._server)
      const owner = (req.socket as unknown as { server: unknown }).server
      res.end(`${String(req.socket.allowHalfOpen)} ${String(owner === server)}`)
    })
    const connections: unknown[] = []
    server.on('connection', (socket) => connections.push(socket))
    await listen(server, 0, '127.0.0.1', { acceptors: 4 })
    const port = portOf(server)
    t.equal(listeningSockets(port), 4, 'four sockets listen on the port')
    const answers = await burst(port, 64)
    t.same(new Set(answers), new Set(['true true']), "each socket has the http server's allowHalfOpen")
    t.equal(connections.length, 64, "every connection is the server's 'connection'")
    t.ok(acceptedBy.size > 1, `accepted by ${acceptedBy.size} of the sockets`)
    server.close()
    t.equal(listeningSockets(port), 0, 'closing the server closes every socket')
    const refused = connect({ host: '127.0.0.1', port })
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException]
    t.equal(error.code, 'ECONNREFUSED')
  },
)

t.test('a port in use is refused, even when its sockets take SO_REUSEPORT', { skip: !linux }, async (t) => {
  const first = http.createServer()
  await listen(first, 0, '127.0.0.1', { acceptors: 2 })
  const port = portOf(first)
  await t.rejects(listen(http.createServer(), port, '127.0.0.1', { acceptors: 2 }), { code: 'EADDRINUSE' })
  t.equal(listeningSockets(port), 2, 'the second server bound nothing')
  const plain = createServer()
  await t.rejects(listen(plain, port, '127.0.0.1'), { code: 'EADDRINUSE' })
  first.close()
  const again = http.createServer()
  await listen(again, port, '127.0.0.1', { acceptors: 2 })
  t.equal(listeningSockets(port), 2, 'once free, the port is taken again')
  again.close()
})

t.test(
  'one acceptor is one plain socket; a worker shares the port with its siblings',
  { skip: !linux },
  async (t) => {
    const server = http.createServer()
    await listen(server, 0, '127.0.0.1')
    const port = portOf(server)
    t.equal(listeningSockets(port), 1)
    server.close()
    const workers = [http.createServer(), http.createServer()]
    await listen(workers[0] as http.Server, 0, '127.0.0.1', { reusePort: true, acceptors: 2 })
    const shared = portOf(workers[0] as http.Server)
    await listen(workers[1] as http.Server, shared, '127.0.0.1', { reusePort: true, acceptors: 2 })
    t.equal(listeningSockets(shared), 4, 'two workers, two sockets each')
    for (const worker of workers) worker.close()
    t.equal(listeningSockets(shared), 0)
  },
)
