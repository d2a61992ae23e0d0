// Each client connection before any HTTP is read from it: the PROXY protocol header a trusted load balancer
// puts in front (PROXY_PROTOCOL), and MAX_CONNECTIONS_PER_CLIENT (nginx limit_conn).
//
// Behind the Swarm mesh the peer is the mesh, never the client (moby/moby#25526), so per-client limits
// need the address a load balancer in front tells: HAProxy's PROXY protocol, v1 (text) or v2 (binary),
// parsed by proxy-protocol-js. A connection from a TRUSTED_PROXIES peer must begin with one; from any other
// peer one is refused, so nobody can claim an address. The header's source address becomes the client's
// address for limits, STICKY=ip, X-Forwarded-For and the log (forward/x-forwarded.ts reads it off the socket).
import type { Server } from 'node:net'
import { type BlockList, isIP, type Socket } from 'node:net'
import { Command, V1ProxyProtocol, V2ProxyProtocol } from 'proxy-protocol-js'
import { CLIENT_ADDRESS, plainAddress, trusts } from '../forward/x-forwarded.js'

export interface ConnectionRules {
  /** PROXY_PROTOCOL: connections from these peers carry a PROXY header; undefined: off. */
  proxyProtocol: BlockList | undefined
  /** MAX_CONNECTIONS_PER_CLIENT; 0: off. */
  maxPerClient: number
  /** How long a trusted peer may take to send its header (TIMEOUT_CLIENT). */
  headerTimeoutMs: number
  /** A connection was closed at accept: why. */
  refused(reason: 'per_client_limit' | 'proxy_protocol'): void
}

type Tagged = Socket & { [CLIENT_ADDRESS]?: string }

const V1 = Buffer.from('PROXY ')
const V2 = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1')
/** v1's longest line (its spec: 107 bytes with CRLF); v2's longest header this proxy takes. */
const V1_MAX = 107
const V2_MAX = 16 + 536

/**
 * Puts the rules in front of every 'connection' listener the server has now (Node's HTTP parser, the TLS
 * handshake, the drainer): a connection reaches them only once admitted, with its PROXY header taken off.
 */
export function guardConnections(server: Server, rules: ConnectionRules): void {
  if (rules.proxyProtocol === undefined && rules.maxPerClient === 0) return
  const listeners = server.listeners('connection') as ((socket: Socket) => void)[]
  server.removeAllListeners('connection')
  const open = new Map<string, number>()
  const admit = (socket: Tagged) => {
    const client = socket[CLIENT_ADDRESS] ?? plainAddress(socket.remoteAddress)
    const count = (open.get(client) ?? 0) + 1
    if (rules.maxPerClient > 0 && count > rules.maxPerClient) {
      rules.refused('per_client_limit')
      return socket.destroy()
    }
    open.set(client, count)
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1
      if (left === 0) open.delete(client)
      else open.set(client, left)
    })
    for (const listener of listeners) listener.call(server, socket)
  }
  server.on('connection', (socket: Tagged) => {
    if (rules.proxyProtocol === undefined) return admit(socket)
    void readProxyHeader(
      socket,
      trusts(rules.proxyProtocol, plainAddress(socket.remoteAddress)),
      rules.headerTimeoutMs,
    ).then((ok) => {
      if (!ok) return refuse(socket, rules)
      admit(socket)
      // What followed the header was put back: it flows to the parser the listeners set up.
      if (!socket.destroyed) socket.resume()
    })
  })
}

function refuse(socket: Socket, rules: ConnectionRules): void {
  rules.refused('proxy_protocol')
  socket.destroy()
}

/**
 * Reads the connection's first bytes. A trusted peer's must be a whole PROXY header (its source address is
 * kept on the socket); another peer's must not begin like one. What follows the header is put back for
 * the HTTP parser or the TLS handshake. Resolves false to refuse the connection.
 */
function readProxyHeader(socket: Tagged, trusted: boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen: Buffer = Buffer.alloc(0)
    const done = (ok: boolean, rest?: Buffer) => {
      clearTimeout(timer)
      socket.removeListener('data', onData)
      socket.removeListener('close', gone)
      socket.removeListener('error', gone)
      socket.pause()
      if (rest !== undefined && rest.length > 0) socket.unshift(rest)
      resolve(ok)
    }
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk])
      const verdict = judge(seen, trusted)
      if (verdict === 'more') return
      if (verdict === 'refuse') return done(false)
      if (verdict.client !== undefined) socket[CLIENT_ADDRESS] = verdict.client
      done(true, verdict.rest)
    }
    // A reset before the header is whole: no listener of Node's is there yet to take the error.
    const gone = done.bind(undefined, false, undefined)
    const timer = setTimeout(gone, timeoutMs)
    socket.on('data', onData)
    socket.once('close', gone)
    socket.once('error', gone)
  })
}

type Verdict = 'more' | 'refuse' | { client: string | undefined; rest: Buffer }

/** What the first bytes say: wait for more, refuse, or the client they name and what follows. */
function judge(seen: Buffer, trusted: boolean): Verdict {
  const v1 = startsLike(seen, V1)
  const v2 = startsLike(seen, V2)
  if (!trusted) {
    if (v1 === 'yes' || v2 === 'yes') return 'refuse'
    return v1 === 'maybe' || v2 === 'maybe' ? 'more' : { client: undefined, rest: seen }
  }
  if (v1 === 'yes') return judgeV1(seen)
  if (v2 === 'yes') return judgeV2(seen)
  return v1 === 'maybe' || v2 === 'maybe' ? 'more' : 'refuse'
}

function judgeV1(seen: Buffer): Verdict {
  const end = seen.indexOf('\r\n')
  if (end === -1) return seen.length >= V1_MAX ? 'refuse' : 'more'
  if (end + 2 > V1_MAX) return 'refuse'
  const line = seen.toString('latin1', 0, end + 2)
  // UNKNOWN (the balancer's own health check): the rest of the line is ignored, the peer stays the client.
  if (line.startsWith('PROXY UNKNOWN')) return { client: undefined, rest: seen.subarray(end + 2) }
  try {
    const client = normalized(V1ProxyProtocol.parse(line).source.ipAddress)
    return client === undefined ? 'refuse' : { client, rest: seen.subarray(end + 2) }
  } catch {
    return 'refuse'
  }
}

function judgeV2(seen: Buffer): Verdict {
  if (seen.length < 16) return 'more'
  const length = 16 + seen.readUInt16BE(14)
  if (length > V2_MAX) return 'refuse'
  if (seen.length < length) return 'more'
  try {
    const header = V2ProxyProtocol.parse(seen.subarray(0, length))
    if (header.command === Command.LOCAL) return { client: undefined, rest: seen.subarray(length) }
    const source = (header.proxyAddress as { sourceAddress?: { address: number[] } }).sourceAddress?.address
    const client = source && addressText(source)
    return client === undefined ? 'refuse' : { client, rest: seen.subarray(length) }
  } catch {
    return 'refuse'
  }
}

/** `yes`: it begins with the signature; `maybe`: too short to tell; `no`. */
function startsLike(seen: Buffer, signature: Buffer): 'yes' | 'maybe' | 'no' {
  const length = Math.min(seen.length, signature.length)
  if (!seen.subarray(0, length).equals(signature.subarray(0, length))) return 'no'
  return length === signature.length ? 'yes' : 'maybe'
}

/** v2's 4 or 16 address bytes as text (IPv6 compressed, as Node writes it). */
function addressText(bytes: number[]): string | undefined {
  if (bytes.length === 4) return bytes.join('.')
  if (bytes.length !== 16) return undefined
  const groups = []
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16))
  return normalized(groups.join(':'))
}

/** An IP address in Node's own text form; undefined when it is none. */
function normalized(address: string): string | undefined {
  const family = isIP(address)
  if (family === 4) return address
  if (family === 6) return new URL(`http://[${address}]`).hostname.slice(1, -1)
  return undefined
}
