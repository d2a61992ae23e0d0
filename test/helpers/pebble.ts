// Pebble, Let's Encrypt's ACME test server, for real: started on free ports with a certificate made here,
// its DNS answers from pebble-challtestsrv (every name is 127.0.0.1), and its validations sent to the
// proxy's ports. Nothing of the CA is faked: it validates each challenge itself over the network.
import { type ChildProcess, spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { issue, testCa } from './tls.js'
import { refusedPort, type Teardown } from './upstreams.js'

export interface Pebble {
  /** The ACME directory URL. */
  directory: string
  /** Trust for the directory's HTTPS (ACME_CA). */
  ca: string
  /** Everything Pebble printed so far. */
  output(): string
  /** The root that signs what Pebble issues (for a client to trust the proxy). */
  root(): Promise<string>
  /** The number of orders Pebble logged so far. */
  orders(): number
  /** From now on Pebble's DNS answers `host` with `address` (127.0.0.1 for every other name). */
  resolve(host: string, address: string): Promise<void>
  stop(): Promise<void>
}

/** A free UDP port on loopback (for the DNS server). */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4')
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  const { port } = socket.address()
  socket.close()
  return port
}

/** Starts a process and resolves once its output contains `ready`. */
async function started(t: Teardown, command: string, args: string[], ready: string, env = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  const collect = (chunk: Buffer) => (text += chunk.toString())
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  t.teardown(() => stop(child))
  while (!text.includes(ready)) {
    const [event] = await Promise.race([
      once(child.stdout as NodeJS.EventEmitter, 'data').then(() => ['data']),
      once(child, 'exit').then(() => ['exit']),
    ])
    if (event === 'exit') throw new Error(`${command} exited: ${text}`)
  }
  return { child, output: () => text }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  await once(child, 'exit')
}

/**
 * Pebble validating on `httpPort` (HTTP-01) and `tlsPort` (TLS-ALPN-01) of 127.0.0.1; `validitySeconds`
 * makes its certificates short-lived, for renewal.
 */
export async function startPebble(
  t: Teardown,
  ports: { httpPort: number; tlsPort: number },
  validitySeconds?: number,
): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-pebble-'))
  const ca = testCa()
  const leaf = issue(ca, ['localhost'])
  writeFileSync(join(dir, 'cert.pem'), leaf.cert)
  writeFileSync(join(dir, 'key.pem'), leaf.key)
  const [listen, management, dns, dnsManagement] = await Promise.all([
    refusedPort(),
    refusedPort(),
    freeUdpPort(),
    refusedPort(),
  ])
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listen}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: ports.httpPort,
        tlsPort: ports.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(validitySeconds !== undefined && { certificateValidityPeriod: validitySeconds }),
      },
    }),
  )
  await started(
    t,
    'pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${dns}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${dnsManagement}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    'Starting management server',
  )
  const pebble = await started(
    t,
    'pebble',
    ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dns}`],
    'Listening on',
    // No random sleeps before validating, no nonce refused on purpose, every order validated afresh.
    { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
  )
  return {
    directory: `https://localhost:${listen}/dir`,
    ca: ca.cert,
    output: pebble.output,
    root: () => fetchText(`https://localhost:${management}/roots/0`, ca.cert),
    orders: () =>
      pebble
        .output()
        .split('\n')
        .filter((line) => /Added order .* to the db/.test(line)).length,
    resolve: (host, address) =>
      post(`http://127.0.0.1:${dnsManagement}/add-a`, { host, addresses: [address] }),
    stop: () => stop(pebble.child),
  }
}

async function fetchText(url: string, ca: string): Promise<string> {
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
    https.get(url, { ca }, resolve).on('error', reject),
  )
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return text
}

async function post(url: string, body: object): Promise<void> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
}
