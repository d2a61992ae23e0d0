// WebSocket upgrades to a color's upstream, over http-proxy-3, each on a new connection: TIMEOUT_CONNECT
// and TIMEOUT_SERVER as every request has them (upstream/request-timeouts.ts), then TIMEOUT_TUNNEL of silence
// either way ends the tunnel. A failure before the upgrade gets the failure's status (failures.ts).
import type { ClientRequest, IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createRequire } from 'node:module'
import type { ProxyServer } from 'http-proxy-3'
import type { Decision } from './events.js'
import { Exchange, type Admitted, type ForwardOptions, type SiteColor } from './exchange.js'
import { FAILURES, failureReason, writeRawFailure } from './failures.js'
import { attemptFields, headerObject, ownFields, requestFields } from './headers.js'
import { guardRequest } from '../upstream/request-timeouts.js'

export type WsForwarder = (
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  admitted: Admitted,
  decision: Decision<SiteColor>,
) => void

/** An upgrade's exchange, and whether the upstream switched protocols. */
interface Upgrade {
  exchange: Exchange
  upgraded: boolean
  /** Its upstream is https: the connect timeout runs until the handshake is done. */
  secure: boolean
}

export function createWsForwarder(options: ForwardOptions): WsForwarder {
  const ours = ownFields(options.colorHeader, options.basicAuth)
  const upgrades = new WeakMap<IncomingMessage, Upgrade>()
  // Loaded with the first upgrade: http-proxy-3 brings node:http2 and node:https in (about 10 MB of RSS).
  let engine: ProxyServer | undefined
  const tunnels = () => (engine ??= createEngine(options, upgrades))

  return (req, socket, head, admitted, decision) => {
    // A client that vanishes before we answer must not become an uncaught 'error'.
    socket.on('error', (error) => options.logger.debug({ err: error }, 'client socket error'))
    const exchange = Exchange.admitted(req, decision, admitted, options)
    const upgrade: Upgrade = { exchange, upgraded: false, secure: false }
    upgrades.set(req, upgrade)
    const bytesBefore = (socket as Socket).bytesWritten ?? 0
    socket.once('close', () =>
      exchange.finish(loggedStatus(upgrade), ((socket as Socket).bytesWritten ?? 0) - bytesBefore),
    )
    const color = exchange.color
    if (!color) {
      exchange.reason = 'no_color'
      writeRawFailure(socket, 'no_color')
      return
    }
    const onError = (error: Error) => {
      exchange.reason = failureReason(error as NodeJS.ErrnoException)
      if (upgrade.upgraded) return socket.destroy()
      options.events.upstreamFailed?.(color.name, exchange.reason)
      writeRawFailure(socket, exchange.reason)
    }
    const fields = attemptFields(
      requestFields(req.rawHeaders, req.headers.connection, ours, exchange.id, admitted.forwarded),
      {
        host: exchange.hostFor(color),
        colorHeader: options.colorHeader,
        color: color.name,
        authorization: color.upstream.authorization,
      },
    )
    const protocol = req.headers.upgrade as string
    color.upstream.endpoint().then((endpoint) => {
      if (socket.destroyed) return
      // http-proxy-3 forwards req.headers: they become ours, built like an ordinary request's.
      req.headers = { ...headerObject(fields), connection: 'upgrade', upgrade: protocol }
      req.url = admitted.path
      upgrade.secure = endpoint.target.protocol === 'https:'
      const call = { target: endpoint.target, agent: endpoint.freshAgent, auth: color.upstream.auth }
      tunnels().ws(req, socket, head, call, onError)
    }, onError)
  }
}

/** http-proxy-3's engine, its errors logged and each upgrade request's timeouts guarded. */
function createEngine(options: ForwardOptions, upgrades: WeakMap<IncomingMessage, Upgrade>): ProxyServer {
  const { createProxyServer } = createRequire(import.meta.url)(
    'http-proxy-3',
  ) as typeof import('http-proxy-3')
  const engine = createProxyServer({ xfwd: false, toProxy: true })
  // Errors that reach no callback (a client socket failing mid-tunnel): logged, never thrown.
  engine.on('error', (error: Error) => options.logger.debug({ err: error }, 'proxy socket error'))
  // Every http-proxy-3 event names the client request; its upgrade was recorded before it began.
  engine.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage, socket: Duplex) => {
    const upgrade = upgrades.get(req) as Upgrade
    guardTimeouts(proxyReq, upgrade, options)
    // Data either way is activity on the client socket, so one idle timer covers the tunnel.
    ;(socket as Socket).setTimeout(options.timeouts.tunnelMs, () => socket.destroy())
  })
  return engine
}

/** 101 once upgraded; else the failure's status, or the upstream's own refusal (a 4xx instead of 101). */
function loggedStatus({ exchange, upgraded }: Upgrade): number {
  if (upgraded) return 101
  return exchange.reason ? FAILURES[exchange.reason].status : (exchange.upstreamStatus ?? 0)
}

/** TIMEOUT_CONNECT, then TIMEOUT_SERVER until the upstream answers (101 or a refusal); then the tunnel's. */
function guardTimeouts(proxyReq: ClientRequest, upgrade: Upgrade, options: ForwardOptions): void {
  const guard = guardRequest(proxyReq, options.timeouts, upgrade.secure)
  proxyReq.once('response', (response: IncomingMessage) => {
    guard.answered()
    upgrade.exchange.upstreamStatus = response.statusCode
  })
  proxyReq.once('upgrade', (response: IncomingMessage) => {
    guard.answered()
    upgrade.exchange.upstreamStatus = response.statusCode
    upgrade.upgraded = true
  })
  proxyReq.once('close', () => guard.answered())
}
