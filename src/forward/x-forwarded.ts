// Who the client is, and what X-Forwarded-* say about it. colorproxy is the edge: by default nothing a
// client sends in X-Forwarded-* reaches a backend, and X-Forwarded-For starts afresh with the peer address.
// TRUSTED_PROXIES names the peers (a load balancer in front) whose X-Forwarded-* are kept and appended to,
// and whose X-Forwarded-For names the client, as nginx's real_ip_recursive and HAProxy do.
import { type BlockList, isIP } from 'node:net'
import type { IncomingMessage } from 'node:http'

/** What the upstream is told about the client, and who the client is for STICKY=ip and the access log. */
export interface Forwarded {
  /** The client address: the peer, or behind trusted proxies the last untrusted hop. */
  client: string
  for: string
  host: string
  proto: string
  port: string
  /** X-Forwarded-Prefix: the path prefix something in front took off (a trusted proxy's, then STRIP_PATH's). */
  prefix?: string
}

export type ForwardedReader = (req: IncomingMessage, proto: 'http' | 'https') => Forwarded

/**
 * The client address a PROXY header named (client-connections.ts), kept on the connection's socket; on a
 * TLS socket, on the plain socket under it (`_parent`).
 */
export const CLIENT_ADDRESS = Symbol.for('colorproxy.client-address')

type Tagged = { [CLIENT_ADDRESS]?: string; _parent?: Tagged; remoteAddress?: string }

/** The peer: what a PROXY header said, else the socket's own. */
function proxiedPeer(socket: Tagged): string | undefined {
  return socket[CLIENT_ADDRESS] ?? socket._parent?.[CLIENT_ADDRESS] ?? socket.remoteAddress
}

/** A header's value, its repeated fields joined as one list. */
function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value
}

/** Node reports IPv4 peers of a dual-stack socket as `::ffff:1.2.3.4`: the address as the rules read it. */
export function plainAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:(?=\d+\.)/, '')
}

/** Whether the list holds the address; BlockList wants the family right. */
export function trusts(list: BlockList, address: string): boolean {
  const family = isIP(address)
  if (family === 0) return false
  return list.check(address, family === 6 ? 'ipv6' : 'ipv4')
}

export function createForwardedReader(
  trusted: BlockList | undefined,
  proxyProtocol = false,
): ForwardedReader {
  return (req, proto) => {
    const address = proxyProtocol ? proxiedPeer(req.socket as Tagged) : req.socket.remoteAddress
    const peer = plainAddress(address)
    const headers = req.headers
    const host = headers.host ?? ''
    const ownPort = /:(\d+)$/.exec(host)?.[1] ?? (proto === 'https' ? '443' : '80')
    if (trusted === undefined || !trusts(trusted, peer)) {
      return { client: peer, for: peer, host, proto, port: ownPort }
    }
    const chain = joined(headers['x-forwarded-for'])
    const hops = chain === undefined ? [] : chain.split(',').map((hop) => hop.trim())
    // The rightmost address a trusted proxy did not add is the client; all trusted: the leftmost.
    let client = peer
    for (let i = hops.length - 1; i >= 0; i--) {
      client = hops[i] as string
      if (!trusts(trusted, client)) break
    }
    return {
      client,
      for: chain === undefined ? peer : `${chain}, ${peer}`,
      host: joined(headers['x-forwarded-host']) ?? host,
      proto: joined(headers['x-forwarded-proto']) ?? proto,
      port: joined(headers['x-forwarded-port']) ?? ownPort,
      prefix: joined(headers['x-forwarded-prefix']),
    }
  }
}
