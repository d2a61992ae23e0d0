// Two colorproxy processes sharing one Redis store against Pebble, both real: one order per name, the same
// certificates served by both, a challenge answered by either from the store, and Redis stopped mid-run
// and started again empty (nothing lost, nothing ordered twice), or down when a replica starts.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import t from 'tap'
import { startPebble, type Pebble } from '../helpers/pebble.js'
import { start, type Program } from '../helpers/programs.js'
import { PROXY } from '../helpers/paths.js'
import { startRedis } from '../helpers/redis.js'
import { recordingUpstream, refusedPort, type Teardown } from '../helpers/upstreams.js'

// Both replicas listen on the same ports, each on its own loopback address, as two tasks behind the mesh.
const REPLICAS = ['127.0.0.1', '127.0.0.2']

async function replica(t: Teardown, pebble: Pebble, at: { port: number; httpsPort: number }, env: object) {
  const upstream = await recordingUpstream(t, (_req, res) => res.end('blue backend\n'))
  return (address: string) => {
    const program = start(t, PROXY, {
      BLUE: upstream.url,
      HOST: address,
      HTTPS_HOST: address,
      PORT: String(at.port),
      HTTPS_PORT: String(at.httpsPort),
      ADMIN_PORT: '0',
      ADMIN_HOST: '127.0.0.1',
      ACME: 'true',
      ACME_EMAIL: 'ops@example.com',
      ACME_DIRECTORY: pebble.directory,
      ACME_CA: pebble.ca,
      TLS_RELOAD_EVERY: '1s',
      LOG_LEVEL: 'info',
      ...env,
    })
    return program
  }
}

const said = (program: Program, pattern: RegExp) => program.line((line) => pattern.test(String(line.msg)))
const serves = (program: Program, name: string) =>
  said(program, new RegExp(`^ACME: ${name}: certificate (issued|loaded from the store)`))

/** The serial the replica at `address` serves for `name`. */
async function serial(address: string, httpsPort: number, name: string, root: string) {
  const socket = tls.connect({ port: httpsPort, host: address, servername: name, ca: root })
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
  const { serialNumber } = socket.getPeerCertificate()
  socket.end()
  return serialNumber
}

async function setup(t: Teardown, redisRunning = true, validatedAt = REPLICAS) {
  const [port, httpsPort] = await Promise.all([refusedPort(), refusedPort()])
  const at = { port, httpsPort }
  const pebble = await startPebble(t, { httpPort: port, tlsPort: httpsPort })
  // Pebble validates a.test on the first address given, b.test on the last.
  await pebble.resolve('a.test', validatedAt[0] as string)
  await pebble.resolve('b.test', validatedAt.at(-1) as string)
  const redis = await startRedis(t, { running: redisRunning })
  const env = { ACME_DOMAINS: 'a.test,b.test', ACME_STORE: redis.url }
  const startReplica = await replica(t, pebble, at, env)
  return { at, pebble, redis, startReplica, env }
}

t.test('two replicas on one Redis: one order per name, one certificate each, served by both', async (t) => {
  // Pebble validates on the first replica, which listens before it orders; the second starts as soon as
  // it does, while the first's orders are on their way: both reach for the same locks.
  const { at, pebble, redis, startReplica } = await setup(t, true, REPLICAS.slice(0, 1))
  const one = startReplica(REPLICAS[0] as string)
  await one.line((line) => line.msg === 'listening')
  const two = startReplica(REPLICAS[1] as string)
  await Promise.all(
    [one, two].flatMap((program) => ['a.test', 'b.test'].map((name) => serves(program, name))),
  )
  t.equal(pebble.orders(), 2, 'Pebble received exactly one order per name')
  const root = await pebble.root()
  for (const name of ['a.test', 'b.test']) {
    const serials = await Promise.all(REPLICAS.map((address) => serial(address, at.httpsPort, name, root)))
    t.equal(serials[0], serials[1], `${name}: the same certificate on both replicas`)
  }
  // Redis goes away: both serve on, each says so once.
  await redis.stop()
  await Promise.all([one, two].map((program) => said(program, /^ACME: the store .* is unreachable/)))
  for (const address of REPLICAS)
    t.ok(await serial(address, at.httpsPort, 'a.test', root), `${address} serves on`)
  // It comes back empty (no persistence): the certificates go back into it, none is ordered again.
  await redis.start()
  await Promise.all([one, two].map((program) => said(program, /^ACME: the store .* is back$/)))
  const client = redis.client()
  for (const name of ['a.test', 'b.test']) {
    await Promise.race(
      [one, two].map((program) => said(program, new RegExp(`^ACME: ${name}: the store had lost`))),
    )
    t.match(
      await client.get(`colorproxy:acme:certificates/${name}.pem`),
      /BEGIN CERTIFICATE/,
      `${name} is stored again`,
    )
  }
  t.equal(pebble.orders(), 2, 'and nothing was ordered again')
  for (const program of [one, two]) {
    t.equal(program.lines.filter((line) => /is unreachable/.test(String(line.msg))).length, 1, 'said once')
    t.notMatch(JSON.stringify(program.lines), /PRIVATE KEY/, 'never a key in a log line')
  }
})

t.test('a replica whose Redis is down at startup serves, and orders once Redis is there', async (t) => {
  const { at, pebble, redis, startReplica } = await setup(t, false, REPLICAS.slice(0, 1))
  const one = startReplica(REPLICAS[0] as string)
  await one.line((line) => line.msg === 'listening')
  await said(one, /^ACME: the store .* is unreachable/)
  t.equal((await fetch(`http://${REPLICAS[0]}:${at.port}/`)).status, 200, 'it serves plain HTTP meanwhile')
  await redis.start()
  await Promise.all(['a.test', 'b.test'].map((name) => serves(one, name)))
  t.equal(pebble.orders(), 2, 'one order per name')
})

t.test('the replica that did not order answers the CA from the store, and serves the result', async (t) => {
  // Pebble validates both names on the second replica, which cannot reach the CA itself: its every order
  // fails, so the first one orders, and each validation reaches the one that did not.
  const { at, pebble, env } = await setup(t, true, REPLICAS.slice(1))
  const directory = `https://127.0.0.1:${await refusedPort()}/dir`
  const cut = await replica(t, pebble, at, { ...env, ACME_DIRECTORY: directory })
  // The second first, so that it listens before any validation: its orders fail and wait 5 minutes.
  const two = cut(REPLICAS[1] as string)
  for (const name of ['a.test', 'b.test'])
    t.match(await said(two, new RegExp(`^ACME: ${name}: the order failed`)), {
      msg: `ACME: ${name}: the order failed: the CA's directory ${directory} could not be reached; next try in 5m`,
    })
  const one = (await replica(t, pebble, at, env))(REPLICAS[0] as string)
  await Promise.all(
    [one, two].flatMap((program) => ['a.test', 'b.test'].map((name) => serves(program, name))),
  )
  t.equal(pebble.orders(), 2, 'one order per name, both by the first replica')
  t.notOk(
    one.lines.some((line) => /validation of/.test(String(line.msg))),
    'the first was never asked',
  )
  const answered = two.lines.map((line) => String(line.msg)).filter((msg) => msg.startsWith('ACME: answered'))
  // Pebble may ask more than once per name (as Let's Encrypt asks from several places).
  t.ok(answered.length >= 2, `the second answered every validation (${answered.length})`)
  for (const msg of answered)
    t.match(msg, /^ACME: answered the CA's HTTP-01 validation of token [\w-]+ from the store$/)
  const root = await pebble.root()
  for (const name of ['a.test', 'b.test']) {
    const serials = await Promise.all(REPLICAS.map((address) => serial(address, at.httpsPort, name, root)))
    t.equal(serials[0], serials[1], `${name}: the same serial on both`)
  }
})

t.test('WORKERS=2 on one folder store is one replica: one order per name, one certificate', async (t) => {
  const [port, httpsPort] = await Promise.all([refusedPort(), refusedPort()])
  const pebble = await startPebble(t, { httpPort: port, tlsPort: httpsPort })
  const store = mkdtempSync(join(tmpdir(), 'colorproxy-acme-'))
  const env = { ACME_DOMAINS: 'a.test,b.test', ACME_STORE: store, WORKERS: '2' }
  const program = (await replica(t, pebble, { port, httpsPort }, env))('127.0.0.1')
  // Each worker looks at the store; between them, each name is issued once and loaded by the other.
  for (const name of ['a.test', 'b.test']) {
    await said(program, new RegExp(`^ACME: ${name}: certificate issued`))
    await said(program, new RegExp(`^ACME: ${name}: certificate loaded from the store`))
  }
  t.equal(pebble.orders(), 2, 'one order per name')
  const root = await pebble.root()
  const serials = new Set<string>()
  // The primary hands connections to the workers in turn: a few connections reach both.
  for (let i = 0; i < 6; i++) serials.add(await serial('127.0.0.1', httpsPort, 'a.test', root))
  t.equal(serials.size, 1, 'every connection gets the same certificate')
})

t.test('a renewal due while Redis is down happens once it is back', async (t) => {
  const [port, httpsPort] = await Promise.all([refusedPort(), refusedPort()])
  // Pebble's certificates live 30 s here, renewed with 25 s left: due 5 s after they are issued.
  const pebble = await startPebble(t, { httpPort: port, tlsPort: httpsPort }, 30)
  const redis = await startRedis(t)
  const env = { ACME_DOMAINS: 'a.test', ACME_STORE: redis.url, ACME_RENEW_BEFORE: '25s' }
  const one = (await replica(t, pebble, { port, httpsPort }, env))('127.0.0.1')
  await said(one, /^ACME: a\.test: certificate issued/)
  const root = await pebble.root()
  const first = await serial('127.0.0.1', httpsPort, 'a.test', root)
  await redis.stop()
  await said(one, /^ACME: a\.test: the store failed/)
  t.equal(pebble.orders(), 1, 'no renewal while the store is away')
  t.equal(await serial('127.0.0.1', httpsPort, 'a.test', root), first, 'the certificate it has is served')
  await redis.start()
  await said(one, /^ACME: a\.test: certificate renewed/)
  t.equal(pebble.orders(), 2, 'renewed once')
  t.not(await serial('127.0.0.1', httpsPort, 'a.test', root), first, 'and the renewed one is served')
})
