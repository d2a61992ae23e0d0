// The rehearsal's own parts, each shown to catch what it is there to catch: a load that would not count a
// lost request, or an updater that would not roll back, would make the test/rehearsal-<name>.ts scenarios pass for nothing.
import http from 'node:http'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import t from 'tap'
import { Front, reset } from '../../scripts/rehearsal/front.js'
import { Load } from '../../scripts/rehearsal/load.js'
import { Service } from '../../scripts/rehearsal/service.js'
import { get } from '../helpers/clients.js'
import { listen } from '../helpers/upstreams.js'

t.test(
  'the load counts a 502 and a cut-off answer as failures, and retries a reset reused socket once',
  async (t) => {
    // One keep-alive client; the upstream misbehaves once in each way, in this order, then answers.
    const script = ['ok', 'reset-on-reuse', 'ok', '502', 'cut', 'ok']
    let turn = 0
    const server = http.createServer((req, res) => {
      const what = script[turn++] ?? 'ok'
      if (what === 'reset-on-reuse') {
        req.socket.resetAndDestroy()
      } else if (what === '502') {
        res.writeHead(502).end('502 the upstream refused the connection\n')
      } else if (what === 'cut') {
        res.writeHead(200, { 'content-length': 100 })
        res.write('blue ')
        setImmediate(() => req.socket.destroy())
      } else {
        res.end('blue myapp-v1\n')
      }
    })
    const port = await listen(t, server)
    const load = new Load({ url: `http://127.0.0.1:${port}`, clients: 1, slowEvery: 1000 })
    load.start()
    await load.answers(3)
    const report = await load.stop()
    t.equal(report.retries, 1, 'the reset on a reused socket was retried')
    t.equal(report.failures, 2)
    t.match(report.failed, [/502 "502 the upstream refused/, /answer cut off/])
    t.equal(report.requests, turn - report.retries, 'a retry is the same request, not another one')
  },
)

t.test('a step whose every request fails ends with its failures counted, not a hang', async (t) => {
  const front = new Front()
  await front.listen()
  t.teardown(() => front.close())
  const load = new Load({ url: front.url, clients: 2, slowEvery: 1000 })
  load.start()
  await load.answers(20)
  const report = await load.stop()
  t.ok(report.failures >= 20, `${report.failures} failed`)
  t.equal(report.retries, 0, 'a refused new connection is not retried')
  t.same(Object.fromEntries(load.phase()), {})
})

t.test(
  'the front hands new connections to its members in turn, and refuses them with nobody in rotation',
  async (t) => {
    const names: string[] = []
    for (const name of ['a', 'b']) {
      const port = await listen(
        t,
        http.createServer((_req, res) => res.end(name)),
      )
      names.push(`${name}:${port}`)
    }
    const front = new Front()
    await front.listen()
    t.teardown(() => front.close())
    for (const member of names) {
      const [id, port] = member.split(':') as [string, string]
      front.add(id, Number(port))
    }
    const bodies: string[] = []
    for (let i = 0; i < 4; i++) bodies.push((await get(front.url)).body)
    t.same(bodies.sort(), ['a', 'a', 'b', 'b'])
    front.remove('a')
    front.remove('b')
    t.same(front.members, [])
    const socket = connect(front.port, '127.0.0.1')
    let error: NodeJS.ErrnoException | undefined
    socket.on('error', (e) => (error = e))
    await new Promise((resolve) => socket.once('close', resolve))
    t.equal(error?.code, 'ECONNRESET', 'reset')
    t.equal(socket.bytesRead, 0, 'without a byte')
  },
)

t.test(
  'the front resets a connection, and closes one that has already ended instead',
  { timeout: 10_000 },
  async (t) => {
    const accepted: Socket[] = []
    const server = createServer((socket) => {
      socket.on('error', () => {})
      accepted.push(socket)
    })
    const port = await listen(t, server)
    const peers: Socket[] = []
    for (let i = 0; i < 2; i++) {
      const peer = connect(port, '127.0.0.1')
      peer.on('error', () => {})
      peers.push(peer)
      await once(server, 'connection')
    }
    const [open, ended] = accepted as [Socket, Socket]
    // An open connection is reset: its peer sees ECONNRESET, as through the mesh.
    reset(open)
    const [peerError] = (await once(peers[0] as Socket, 'error')) as [NodeJS.ErrnoException]
    t.equal(peerError.code, 'ECONNRESET')
    // A connection whose FIN is still on its way cannot be reset: Node's resetAndDestroy() fails with EINVAL
    // and never closes the handle, and the process then spins at exit (the rehearsal's scenario files hung
    // so under load). It must close all the same; the test's timeout says so if it does not.
    ended.end()
    const errors: NodeJS.ErrnoException[] = []
    ended.on('error', (error) => errors.push(error))
    reset(ended)
    await once(ended, 'close')
    t.same(errors, [], 'closed without an error')
    for (const peer of peers) peer.destroy()
  },
)

t.test(
  'an update whose new replica never gets ready is rolled back, and the service keeps its size',
  async (t) => {
    const front = new Front()
    await front.listen()
    t.teardown(() => front.close())
    const events: string[] = []
    const app = new Service('myapp', 'myapp', front, {
      readyWithinMs: 3000,
      timeline: (event) => events.push(event),
    })
    t.teardown(() => app.remove())
    await app.create({ HOSTNAME: 'old' }, 2)
    // A health check that never passes: with LOG_LEVEL=warn it never says where it listens.
    t.equal(await app.update({ HOSTNAME: 'new', LOG_LEVEL: 'warn' }, 'stop-first'), false)
    t.ok(events.includes('myapp: update failed: myapp.3 not ready within 3000 ms'), 'said why')
    t.ok(events.includes('myapp: rollback complete'))
    t.equal(front.members.length, 2, 'two replicas in rotation again')
    const bodies = new Set<string>()
    for (let i = 0; i < 4; i++) bodies.add((await get(front.url)).body)
    t.same([...bodies], ['unknown old\n'], 'all on the previous environment')
  },
)
