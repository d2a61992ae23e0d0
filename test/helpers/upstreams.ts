// What the proxy talks to in a test: real servers on loopback port 0, torn down by the test that made them.
import { EventEmitter, once } from 'node:events'
import http, { type IncomingHttpHeaders, type Server } from 'node:http'
import { readFileSync } from 'node:fs'
import { type AddressInfo, createServer as createNetServer } from 'node:net'
import { until } from './wait.js'

export interface Teardown {
  teardown(fn: () => unknown): void
}

/** Listens on a free loopback port and closes the server (and its sockets) when the test ends. */
export async function listen(
  t: Teardown,
  server: Server | import('node:net').Server,
  host = '127.0.0.1',
): Promise<number> {
  server.listen(0, host)
  await once(server, 'listening')
  t.teardown(() => {
    if ('closeAllConnections' in server) server.closeAllConnections()
    server.close()
  })
  return (server.address() as AddressInfo).port
}

/** An upstream that records every request and counts TCP connections. */
export async function recordingUpstream(
  t: Teardown,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.end('ok'),
) {
  const requests: { url: string; headers: IncomingHttpHeaders; localAddress: string | undefined }[] = []
  let connections = 0
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers, localAddress: req.socket.localAddress })
    handler(req, res)
  })
  server.on('connection', () => {
    connections++
  })
  const port = await listen(t, server)
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections
    },
  }
}

/**
 * A loopback port whose TCP connects never complete: a child process listens with a backlog of 1 and
 * blocks its event loop, and two filler connections fill the accept queue, so the kernel drops later SYNs.
 */
export async function unansweredPort(t: Teardown): Promise<number> {
  const { spawn } = await import('node:child_process')
  const net = await import('node:net')
  // The port is written synchronously (stdout is a pipe) and the loop blocks in the same tick, so the
  // child never accepts a connection.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer();
       s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         process.stdout.write(s.address().port + '\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
       })`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  t.teardown(() => child.kill('SIGKILL'))
  const [data] = (await once(child.stdout, 'data')) as [Buffer]
  const port = Number(String(data).trim())
  const fillers = [0, 1, 2].map(() => net.connect(port, '127.0.0.1').on('error', () => {}))
  t.teardown(() => {
    for (const filler of fillers) filler.destroy()
  })
  await Promise.all(fillers.slice(0, 2).map((filler) => once(filler, 'connect')))
  return port
}

/** A loopback port nobody listens on: connecting is refused. */
export async function refusedPort(): Promise<number> {
  const server = createNetServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/**
 * A port free now that the kernel never hands out by itself: below the ephemeral range, so no other test's
 * port-0 listener or outgoing connection can take it between now and a page's command that listens on it
 * seconds later (refusedPort's ports are taken back from the ephemeral range, which a busy run reuses).
 */
export async function quietPort(taken: ReadonlySet<number> = new Set()): Promise<number> {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0])
  for (;;) {
    const port = 10000 + Math.floor(Math.random() * (low - 10000))
    if (taken.has(port)) continue
    // Free on both families: `curl localhost` tries ::1 first, where another listener would answer it.
    if ((await freeOn(port, '0.0.0.0')) && (await freeOn(port, '::'))) return port
  }
}

async function freeOn(port: number, host: string): Promise<boolean> {
  const server = createNetServer()
  const free = await new Promise<boolean>((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EAFNOSUPPORT'))
    server.listen(port, host, () => resolve(true))
  })
  if (server.listening) {
    server.close()
    await once(server, 'close')
  }
  return free
}

/**
 * An upstream that answers with exactly the bytes a test gives, and keeps every byte each connection
 * sent. `answer` runs once per request head received (a connection may carry several, one at a time).
 */
export async function rawUpstream(
  t: Teardown,
  answer: (request: string, socket: import('node:net').Socket, index: number) => void,
) {
  const connections: string[] = []
  let requests = 0
  const events = new EventEmitter()
  const server = createNetServer((socket) => {
    const at = connections.push('') - 1
    let seen = 0
    socket.on('error', () => {})
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      connections[at] += chunk
      const text = connections[at] as string
      // Each complete head not yet answered (bodies are the test's to read from `connections`).
      for (;;) {
        const end = text.indexOf('\r\n\r\n', seen)
        if (end < 0) break
        const head = text.slice(seen, end + 4)
        seen = end + 4
        answer(head, socket, requests++)
      }
      events.emit('data')
    })
  })
  const port = await listen(t, server)
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    /** Every connection's bytes, in order. */
    connections,
    get requests() {
      return requests
    },
    /** Resolves once some connection's bytes contain `part`. */
    received: (part: string) => until(() => connections.some((c) => c.includes(part)), events, 'data'),
  }
}
