// One request's journey, shared by HTTP and WebSocket forwarding: which color it went to and why, what
// failed, and, when it is over, its access-log line and the `done` event observers count.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { infoLine, type Logger } from '../../lib/logger.js'
import { isHttp2Request } from '../../lib/node-http.js'
import type { Decision, ProxyEvents, DecisionReason } from './events.js'
import { type FailureReason, writePlain } from './failures.js'
import type { Forwarded } from './x-forwarded.js'
import { requestId } from './headers.js'
import { sentBytes } from './sent-bytes.js'
import type { Upstream } from '../upstream/color-pools.js'

export interface SiteColor {
  name: string
  upstream: Upstream
}

/** A request that passed the checks of request-target.ts: where it goes, and who sent it. */
export interface Admitted {
  /** Origin-form path and query, dot-segments removed: what the upstream is asked for. */
  path: string
  /** What the client asked for, when `<SITE>_STRIP_PATH` made `path` differ: for the access log. */
  clientPath?: string
  forwarded: Forwarded
  /** The user basic auth (USERS) proved, for the access log. */
  user?: string
}

/** What both forwarders need: the settings that shape a request, and who to tell about it. */
export interface ForwardOptions {
  /** The site these options forward for (`none`: refusals before any site was chosen). */
  site: string
  colorHeader: string
  /** USERS is set: the client's Authorization was for colorproxy and is not forwarded. */
  basicAuth?: boolean
  preserveHost: boolean
  timeouts: {
    connectMs: number
    serverMs: number
    /** TIMEOUT_SERVER_IDLE: the longest silence from the upstream while its answer's body streams. */
    serverIdleMs: number
    tunnelMs: number
  }
  logger: Logger
  now: () => number
  events: ProxyEvents
  /** FAILOVER: another color for a request whose upstream could not be reached (undefined: none, or off). */
  failover?: (from: string) => SiteColor | undefined
  /** STICKY=cookie: the Set-Cookie value that keeps a client on this color. */
  stickyCookie?: (color: string) => string
}

export class Exchange {
  /** Undefined when no color could take the request (503). After a failover, the color that took over. */
  color: SiteColor | undefined
  via: DecisionReason
  /** STICKY=cookie and the client had none: the answer sets one for the color that served it. */
  readonly setCookie: boolean
  /** The color that could not be reached, after a failover. */
  failedOverFrom: string | undefined
  reason: FailureReason | undefined
  upstreamStatus: number | undefined
  /** Already sent a second time, on a new connection. */
  retried = false
  /** The user basic auth proved (USERS). */
  user: string | undefined
  readonly start: number
  readonly id: string
  /** The client came over TLS (read now: an HTTP/2 stream forgets its session once closed). */
  readonly tls: boolean

  constructor(
    readonly req: IncomingMessage,
    decision: Decision<SiteColor>,
    /** Origin-form path and query the upstream is asked for (or, for a refused request, what the client sent). */
    readonly path: string,
    readonly client: string,
    private readonly options: ForwardOptions,
    /** What the client asked for, for the access log, when STRIP_PATH made `path` differ. */
    private readonly clientPath: string = path,
  ) {
    this.color = decision.color
    this.via = decision.reason
    this.setCookie = decision.setCookie === true
    this.id = decision.reason === 'refused' ? randomUUID() : requestId(req.headers['x-request-id'])
    this.start = options.now()
    this.tls = (req.socket as { encrypted?: boolean }).encrypted === true
    options.events.started?.()
  }

  /** The exchange of an admitted request: its path, client, the user basic auth proved. */
  static admitted(
    req: IncomingMessage,
    decision: Decision<SiteColor>,
    admitted: Admitted,
    options: ForwardOptions,
  ): Exchange {
    const { path, forwarded, clientPath } = admitted
    const exchange = new Exchange(req, decision, path, forwarded.client, options, clientPath)
    exchange.user = admitted.user
    return exchange
  }

  /** The Host an attempt sends: the client's (PRESERVE_HOST) or the upstream's. */
  hostFor(color: SiteColor): string {
    const given = this.req.headers.host
    return this.options.preserveHost && given !== undefined ? given : color.upstream.host
  }

  /** Another color takes over. */
  failOver(to: SiteColor): void {
    this.failedOverFrom = this.color?.name
    this.color = to
    this.via = 'failover'
    this.reason = undefined
  }

  /** `h2`, `http/1.1`, `http/1.0`. */
  get proto(): string {
    return isHttp2Request(this.req) ? 'h2' : `http/${this.req.httpVersion}`
  }

  /** Logs the request and tells whoever listens that it is over. */
  finish(status: number, bytes: number): void {
    this.accessLog(status, bytes)
    this.options.events.done?.({
      site: this.options.site,
      color: this.color?.name ?? null,
      status,
      durationMs: this.options.now() - this.start,
      via: this.via,
      failure: this.reason,
      proto: this.proto,
      tls: this.tls,
    })
  }

  private accessLog(status: number, bytes: number): void {
    const { logger, now } = this.options
    // LOG_LEVEL above info: not even the line's object is built.
    if (!logger.isLevelEnabled('info')) return
    infoLine(
      logger,
      {
        method: this.req.method,
        path: this.clientPath.split('?', 1)[0],
        status,
        site: this.options.site,
        color: this.color?.name ?? null,
        upstream: this.color?.upstream.redacted ?? null,
        duration_ms: Math.round((now() - this.start) * 10) / 10,
        bytes,
        request_id: this.id,
        route: this.via,
        client: this.client,
        proto: this.proto,
        tls: this.tls,
        ...(this.user !== undefined && { user: this.user }),
        ...(this.failedOverFrom && { failover_from: this.failedOverFrom }),
        ...(this.reason && { error: this.reason }),
        ...(this.retried && { retried: true }),
      },
      'request',
    )
  }
}

/** A request colorproxy will not forward: answered here, logged, never counted against a color. */
export function refuse(
  options: ForwardOptions,
  req: IncomingMessage,
  res: ServerResponse,
  refusal: { status: number; text: string; client: string; headers?: Record<string, string> },
): void {
  const { status, text, client } = refusal
  const exchange = new Exchange(
    req,
    { color: undefined, reason: 'refused' },
    (req.url ?? '').slice(0, 200),
    client,
    options,
  )
  const bytes = sentBytes(req, res)
  res.once('close', () => exchange.finish(status, bytes()))
  // The rest of a refused request is never read: the connection ends with this answer.
  res.shouldKeepAlive = false
  for (const [name, value] of Object.entries(refusal.headers ?? {})) res.setHeader(name, value)
  writePlain(res, status, `${status} ${text}\n`)
}
