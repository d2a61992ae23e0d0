// ACME=true against Pebble, Let's Encrypt's own test CA, which validates every challenge for real on the
// proxy's ports: HTTP-01 and TLS-ALPN-01, a restart that orders nothing, a name the CA refuses, a renewal.
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { promisify } from 'node:util'
import t from 'tap'
import { startPebble, type Pebble } from '../helpers/pebble.js'
import { startColorProxy } from '../helpers/proxy.js'
import { recordingUpstream, refusedPort, type Teardown } from '../helpers/upstreams.js'

/** The proxy's ports first: Pebble is told where to validate before the proxy starts. */
async function ports() {
  const [port, httpsPort] = await Promise.all([refusedPort(), refusedPort()])
  return { port, httpsPort }
}

async function acmeProxy(
  t: Teardown,
  pebble: Pebble,
  at: { port: number; httpsPort: number },
  env: Record<string, string>,
) {
  const upstream = await recordingUpstream(t, (_req, res) => res.end('blue backend\n'))
  return startColorProxy(t, {
    BLUE: upstream.url,
    PORT: String(at.port),
    HTTPS_PORT: String(at.httpsPort),
    ACME: 'true',
    ACME_EMAIL: 'ops@example.com',
    ACME_DIRECTORY: pebble.directory,
    ACME_CA: pebble.ca,
    LOG_LEVEL: 'info',
    ...env,
  })
}

/** What the proxy serves for `name` on its TLS port: the leaf's serial and issuer. */
async function served(httpsPort: number, name: string, root: string) {
  const socket = tls.connect({ port: httpsPort, host: '127.0.0.1', servername: name, ca: root })
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
  const leaf = socket.getPeerCertificate()
  socket.end()
  return { serial: leaf.serialNumber, issuer: leaf.issuer.CN }
}

/** curl through the proxy with Pebble's root as the only trust, the name resolved to loopback. */
async function curl(name: string, httpsPort: number, root: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-root-'))
  writeFileSync(join(dir, 'root.pem'), root)
  const { stdout } = await promisify(execFile)('curl', [
    '-s',
    '--cacert',
    join(dir, 'root.pem'),
    '--resolve',
    `${name}:${httpsPort}:127.0.0.1`,
    `https://${name}:${httpsPort}/`,
  ])
  return stdout
}

const issued = (name: string) => (line: { msg?: unknown }) =>
  new RegExp(`^ACME: ${name}: certificate (issued|loaded from the store|renewed)`).test(String(line.msg))

for (const challenge of ['http-01', 'tls-alpn-01']) {
  t.test(
    `${challenge}: a.test and b.test get Pebble's certificates and answer through the proxy`,
    async (t) => {
      const at = await ports()
      const pebble = await startPebble(t, { httpPort: at.port, tlsPort: at.httpsPort })
      const store = mkdtempSync(join(tmpdir(), 'colorproxy-acme-'))
      const env = { ACME_DOMAINS: 'a.test,b.test', ACME_STORE: store, ACME_CHALLENGE: challenge }
      const proxy = await acmeProxy(t, pebble, at, env)
      await Promise.all([proxy.line(issued('a.test')), proxy.line(issued('b.test'))])
      const root = await pebble.root()
      t.equal(
        await curl('a.test', at.httpsPort, root),
        'blue backend\n',
        'curl --cacert <pebble root> https://a.test',
      )
      const first = await served(at.httpsPort, 'b.test', root)
      t.match(first.issuer, /^Pebble Intermediate CA/)
      t.equal(pebble.orders(), 2, 'one order per name')
      if (challenge !== 'http-01') return
      const metrics = await (await fetch(`${proxy.admin}/metrics`)).text()
      t.match(metrics, /^colorproxy_certificate_expiry_seconds\{name="a\.test",source="acme"\} \d+$/m)
      const view = (await (await fetch(`${proxy.admin}/config`)).json()) as { certificates: object[] }
      t.match(view.certificates, [
        { names: ['a.test'], source: 'acme', not_after: /^\d{4}-/ },
        { names: ['b.test'], source: 'acme' },
      ])
      t.notMatch(JSON.stringify(view), /PRIVATE KEY/, 'never a key')
      // The same store after a restart: nothing ordered, the same certificate served.
      await proxy.proxy.shutdown({ delayMs: 0 })
      const again = await acmeProxy(t, pebble, at, env)
      await Promise.all([again.line(issued('a.test')), again.line(issued('b.test'))])
      t.match(again.lines.filter(issued('b.test')), [{ msg: /loaded from the store/ }])
      t.equal((await served(at.httpsPort, 'b.test', root)).serial, first.serial, 'the same serial')
      t.equal(pebble.orders(), 2, 'no new order')
    },
  )
}

t.test('a name the CA refuses is logged with its reason and waits; the other name is served', async (t) => {
  const at = await ports()
  const pebble = await startPebble(t, { httpPort: at.port, tlsPort: at.httpsPort })
  // Pebble's validation for bad.test goes to an address nobody listens on: it fails for real.
  await pebble.resolve('bad.test', '127.0.0.2')
  const store = mkdtempSync(join(tmpdir(), 'colorproxy-acme-'))
  const proxy = await acmeProxy(t, pebble, at, { ACME_DOMAINS: 'bad.test,a.test', ACME_STORE: store })
  const refused = await proxy.line((line) => /^ACME: bad.test: the order failed: /.test(String(line.msg)))
  t.match(refused, { level: 40, failures: 1, msg: /127\.0\.0\.2.*; next try in 5m$/ })
  await proxy.line(issued('a.test'))
  const root = await pebble.root()
  t.equal(await curl('a.test', at.httpsPort, root), 'blue backend\n', 'a.test is served')
  await t.rejects(served(at.httpsPort, 'bad.test', root), 'bad.test has no certificate: its handshake fails')
  t.equal((await fetch(`${proxy.url}/`)).status, 200, 'and the proxy serves on')
})

t.test('a certificate near its end is renewed and served to new connections; open ones go on', async (t) => {
  const at = await ports()
  // Pebble's certificates live 30 s here, and are renewed with 25 s left: 5 s after they are issued.
  const pebble = await startPebble(t, { httpPort: at.port, tlsPort: at.httpsPort }, 30)
  const store = mkdtempSync(join(tmpdir(), 'colorproxy-acme-'))
  const proxy = await acmeProxy(t, pebble, at, {
    ACME_DOMAINS: 'a.test',
    ACME_STORE: store,
    ACME_RENEW_BEFORE: '25s',
    TLS_RELOAD_EVERY: '1s',
  })
  await proxy.line(issued('a.test'))
  const root = await pebble.root()
  const first = await served(at.httpsPort, 'a.test', root)
  const open = tls.connect({ port: at.httpsPort, host: '127.0.0.1', servername: 'a.test', ca: root })
  await new Promise((resolve) => open.once('secureConnect', resolve))
  t.teardown(() => open.destroy())
  const renewed = await proxy.line((line) => /^ACME: a.test: certificate renewed/.test(String(line.msg)))
  t.match(renewed, { level: 30, name: 'a.test' })
  const second = await served(at.httpsPort, 'a.test', root)
  t.not(second.serial, first.serial, 'a new connection gets the renewed certificate')
  t.equal(open.getPeerCertificate().serialNumber, first.serial, 'the open one keeps its own')
  open.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n')
  let answer = ''
  for await (const chunk of open) answer += String(chunk)
  t.match(answer, /^HTTP\/1\.1 200 OK[^]*blue backend\n$/, 'and is still served')
})
