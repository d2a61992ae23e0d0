// One upstream: its keep-alive pools (address-pool.ts), and spreading over every address its host resolves to.
//
// Idle connections are kept for keepAliveMs (UPSTREAM_KEEP_ALIVE, below nginx's 75 s) rather than undici's
// 4 s, which reopened hundreds at once after a lull; an upstream's own `Keep-Alive: timeout=` is shorter
// and wins. Each connection is retired by age on its own (address-pool.ts). When the host resolves to
// several addresses (`tasks.myapp-v1`), each address gets its own pool and requests take the addresses in
// turn; the name is resolved again every resolveEveryMs.
import { lookup as dnsLookup } from 'node:dns/promises'
import type http from 'node:http'
import https from 'node:https'
import { isIP } from 'node:net'
import { rootCertificates } from 'node:tls'
import type { Duplex } from 'node:stream'
import { http as httpModule } from '../../lib/node-http.js'
import { ConnectionLimit, type LimitOptions } from './connection-limit.js'
import { ConnectionPool } from './address-pool.js'
import { NoAddressError } from './errors.js'
import type { UpstreamConnection } from './connection.js'
import { redactUrl } from '../config/redact.js'

export interface Address {
  address: string
  family: number
}

/** Resolves a host name to every address it has (dns.lookup with `all: true` by default). */
export type Resolver = (hostname: string) => Promise<Address[]>

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true })

export interface UpstreamOptions {
  maxSocketAgeMs: number
  /** UPSTREAM_KEEP_ALIVE: an idle pooled connection closes after this long. */
  keepAliveMs: number
  /** Draws a connection's share of maxSocketAgeMs, from 0.5 to 1 (Math.random by default; tests pin it). */
  random?: () => number
  resolveEveryMs: number
  /** TIMEOUT_CONNECT for the pools' new connections. */
  connectTimeoutMs: number
  resolve?: Resolver
  now?: () => number
  /** https:// upstreams: UPSTREAM_CA added to Node's roots; rejectUnauthorized false (UPSTREAM_TLS_VERIFY). */
  trust?: { ca: string | undefined; verify: boolean }
  /** UPSTREAM_MAX_CONNECTIONS, UPSTREAM_MAX_PENDING, TIMEOUT_QUEUE for this color (unlimited when not given). */
  limits?: LimitOptions
}

const UNLIMITED: LimitOptions = {
  maxConnections: Number.POSITIVE_INFINITY,
  maxPending: 0,
  queueTimeoutMs: 0,
}

/**
 * Where one endpoint is, as a URL's parts, the same for every transport (the own pools, uploads,
 * WebSockets). Not a URL object: WHATWG drops a default port (`https://x:443` has port ''), which a client
 * library would read as port 0; here the port is always a number.
 */
export interface Target {
  protocol: string
  /** The address; IPv6 in brackets, as in a URL. */
  hostname: string
  host: string
  port: number
  /** The upstream's base path. */
  pathname: string
  href: string
}

/** Where one request goes: the upstream with one address in place of its host name, and the pools for it. */
export interface Endpoint {
  /** `http://10.0.0.7:8080/base`: the base path of the upstream URL, the host replaced by one address. */
  target: Target
  address: string
  /** The keep-alive pool for bodiless requests; each of its connections is retired by age. */
  pool(): ConnectionPool
  /**
   * node:http's keep-alive agent for requests with a body (forward/upload.ts), replaced with the pool once
   * maxSocketAgeMs old.
   */
  agent(): http.Agent
  /** A new connection every time, never pooled: for WebSocket upgrades (the socket leaves any pool). */
  freshAgent: http.Agent
  /** Out of rotation: idle connections close now, busy ones after their request. */
  close(): void
  /** Closes one idle upload connection, for a request that waits for a slot; false when there is none. */
  closeIdleUpload(): boolean
  /** HEALTH_CHECK_*: false while active checks have taken it out of rotation (health-check.ts). */
  healthy: boolean
  /** An https:// upstream's TLS name and trust, for connections of its own (a health check). */
  tls: { servername?: string; ca?: string[]; rejectUnauthorized?: false }
}

export class Upstream {
  readonly url: URL
  /** The upstream's own `host[:port]`, sent as Host when PRESERVE_HOST=false. */
  readonly host: string
  /** `user:pass` from the URL, sent as basic auth; undefined when the URL has none. */
  readonly auth: string | undefined
  /** The Authorization header those credentials make; undefined without credentials. */
  readonly authorization: string | undefined
  /** The URL without credentials, safe to log and show (built once: the access log reads it per request). */
  readonly redacted: string
  private endpoints: Endpoint[] = []
  private turn = 0
  private resolvedAt = Number.NEGATIVE_INFINITY
  private resolving: Promise<Endpoint[]> | undefined
  private readonly hostname: string
  private readonly port: number
  private readonly resolve: Resolver
  private readonly now: () => number
  private trusted: { ca?: string[]; rejectUnauthorized?: false } | undefined
  /** Every connection to this color counts here (connection-limit.ts). */
  readonly limit: ConnectionLimit<UpstreamConnection>

  constructor(
    url: URL,
    private readonly options: UpstreamOptions,
  ) {
    this.url = url
    this.host = url.host
    this.auth =
      url.username || url.password
        ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
        : undefined
    this.authorization = this.auth && `Basic ${Buffer.from(this.auth).toString('base64')}`
    this.redacted = redactUrl(url)
    // WHATWG keeps IPv6 literals in brackets; sockets want them bare.
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1')
    this.port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
    this.resolve = options.resolve ?? systemResolver
    this.now = options.now ?? Date.now
    this.limit = new ConnectionLimit(options.limits ?? UNLIMITED, () => this.closeIdle())
    if (isIP(this.hostname)) {
      this.endpoints = [this.createEndpoint(this.hostname)]
      this.resolvedAt = Number.POSITIVE_INFINITY
    }
  }

  /** The next endpoint in turn. Resolves the host first when it has no addresses yet. */
  async endpoint(): Promise<Endpoint> {
    const now = this.endpointNow()
    if (now) return now
    await this.refresh()
    const endpoint = this.next()
    if (!endpoint) throw new NoAddressError(this.hostname)
    return endpoint
  }

  /** Every endpoint in rotation, resolved first when due (for health checks). */
  async current(): Promise<Endpoint[]> {
    if (this.now() - this.resolvedAt >= this.options.resolveEveryMs) await this.refresh()
    return this.endpoints
  }

  /** The next healthy endpoint in turn; when no address is healthy, the next of them all (as nginx does). */
  private next(): Endpoint | undefined {
    const { endpoints } = this
    for (let tries = 0; tries < endpoints.length; tries++) {
      const endpoint = endpoints[this.turn++ % endpoints.length] as Endpoint
      if (endpoint.healthy) return endpoint
    }
    return endpoints[this.turn++ % endpoints.length]
  }

  /** Addresses active health checks have taken out of rotation. */
  get unhealthyAddresses(): string[] {
    return this.endpoints.filter((endpoint) => !endpoint.healthy).map((endpoint) => endpoint.address)
  }

  /** Some address passes its health checks (or none is checked). */
  get anyHealthy(): boolean {
    return this.endpoints.length === 0 || this.endpoints.some((endpoint) => endpoint.healthy)
  }

  /**
   * The next endpoint in turn without waiting, as long as the host has addresses (undefined: call
   * endpoint()). Their refresh, when due, runs meanwhile.
   */
  endpointNow(): Endpoint | undefined {
    if (this.now() - this.resolvedAt >= this.options.resolveEveryMs) {
      const refresh = this.refresh()
      if (this.endpoints.length === 0) return undefined
      // Keep serving the addresses we have while a new answer is on its way.
      refresh.catch(() => {})
    }
    return this.next()
  }

  /** Addresses in rotation now. */
  get addresses(): string[] {
    return this.endpoints.map((endpoint) => endpoint.address)
  }

  /** Closes every pooled socket; requests in flight finish first. */
  close(): void {
    for (const endpoint of this.endpoints) endpoint.close()
    this.endpoints = []
  }

  /** A request waits for a slot: an idle connection (any address, or the upload agent's) makes room. */
  private closeIdle(): boolean {
    for (const endpoint of this.endpoints) {
      const kept = endpoint.pool().takeIdle()
      if (kept) {
        if (!this.limit.handOver(kept)) kept.destroy()
        return true
      }
      if (endpoint.closeIdleUpload()) return true
    }
    return false
  }

  private refresh(): Promise<Endpoint[]> {
    this.resolving ??= this.resolve(this.hostname)
      .then((found) => {
        this.resolvedAt = this.now()
        this.update(preferredAddresses(found))
        return this.endpoints
      })
      .finally(() => {
        this.resolving = undefined
      })
    return this.resolving
  }

  private update(addresses: string[]): void {
    if (addresses.length === 0) return
    const current = new Map(this.endpoints.map((endpoint) => [endpoint.address, endpoint]))
    this.endpoints = addresses.map((address) => current.get(address) ?? this.createEndpoint(address))
    for (const [address, endpoint] of current) {
      if (!addresses.includes(address)) endpoint.close()
    }
  }

  /** The TLS trust settings every connection to this upstream uses (computed once). */
  private trust(): { ca?: string[]; rejectUnauthorized?: false } {
    this.trusted ??= trustOptions(this.options.trust)
    return this.trusted
  }

  private createEndpoint(address: string): Endpoint {
    const hostname = isIP(address) === 6 ? `[${address}]` : address
    const host = `${hostname}:${this.port}`
    const { protocol, pathname } = this.url
    const target = {
      protocol,
      hostname,
      host,
      port: this.port,
      pathname,
      href: `${protocol}//${host}${pathname}`,
    }
    const secure = this.url.protocol === 'https:'
    // TLS must check the certificate against the name, not the address.
    const tls = secure ? { ...(!isIP(this.hostname) && { servername: this.hostname }), ...this.trust() } : {}
    const maxAgeMs = this.options.maxSocketAgeMs
    const current = new ConnectionPool({
      destination: {
        address,
        port: this.port,
        tls: secure ? tls : undefined,
        connectTimeoutMs: this.options.connectTimeoutMs,
      },
      keepAliveMs: this.options.keepAliveMs,
      maxAgeMs,
      now: this.now,
      random: this.options.random ?? Math.random,
      limit: this.limit,
    })
    const newAgent = (keepAlive: boolean) =>
      limited(
        secure ? new https.Agent({ keepAlive, ...tls }) : new httpModule.Agent({ keepAlive }),
        this.limit,
      )
    const keptAgent = () => newAgent(true)
    let agent = keptAgent()
    let born = this.now()
    const freshAgent = newAgent(false)
    return {
      target,
      address,
      freshAgent,
      pool: () => current,
      agent: () => {
        // Uploads' agent is replaced whole once old (requests in flight on the old one finish first).
        if (this.now() - born >= maxAgeMs) {
          retire(agent)
          agent = keptAgent()
          born = this.now()
        }
        return agent
      },
      close: () => {
        current.close()
        retire(agent)
      },
      closeIdleUpload: () => closeOneIdle(agent),
      healthy: true,
      tls,
    }
  }
}

/**
 * UPSTREAM_CA joins Node's own roots (tls.rootCertificates) rather than replacing them, as
 * NODE_EXTRA_CA_CERTS does; UPSTREAM_TLS_VERIFY=false accepts any certificate.
 */
function trustOptions(trust: UpstreamOptions['trust']): { ca?: string[]; rejectUnauthorized?: false } {
  if (trust === undefined) return {}
  if (!trust.verify) return { rejectUnauthorized: false }
  return trust.ca === undefined ? {} : { ca: [...rootCertificates, trust.ca] }
}

/**
 * The agent's connections count against the color's limit: a new one opens when a slot is free, else
 * waits for one (Agent's createConnection may answer through its callback), or fails as overloaded.
 */
function limited<A extends http.Agent>(agent: A, limit: ConnectionLimit<UpstreamConnection>): A {
  const create = agent.createConnection.bind(agent) as (options: object) => Duplex
  const open = (options: object): Duplex => {
    const socket = create(options)
    socket.once('close', () => limit.release())
    return socket
  }
  type Callback = (error: Error | null, socket?: Duplex) => void
  const createConnection = (options: object, callback: Callback): Duplex | undefined => {
    if (limit.tryAcquire()) return open(options)
    limit.wait({ granted: () => callback(null, open(options)), refused: (error) => callback(error) })
    return undefined
  }
  agent.createConnection = createConnection as typeof agent.createConnection
  return agent
}

/** Closes one of an agent's idle sockets: true when there was one. */
function closeOneIdle(agent: http.Agent): boolean {
  for (const sockets of Object.values(agent.freeSockets)) {
    const socket = sockets?.[0]
    if (socket) {
      socket.destroy()
      return true
    }
  }
  return false
}

/** An agent's idle sockets close now, and its busy ones once their request is done (Node's 'free' rule). */
function retire(agent: http.Agent): void {
  ;(agent as unknown as { keepAlive: boolean }).keepAlive = false
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
}

/**
 * IPv4 when the name has any: `localhost` resolves to ::1 and 127.0.0.1, and a backend listening on
 * 0.0.0.0 refuses ::1. Names with only IPv6 addresses use those.
 */
function preferredAddresses(found: readonly Address[]): string[] {
  const v4 = found.filter((entry) => entry.family === 4)
  return [...new Set((v4.length > 0 ? v4 : found).map((entry) => entry.address))]
}
