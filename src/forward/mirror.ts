// MIRROR: a copy of bodiless GET and HEAD requests for one color, sent after the real request has gone
// out. Its answer is read and thrown away: it never reaches a client, never delays one and never fails one.
// At most MIRROR_MAX_IN_FLIGHT copies are out at once (shared by every site in the process); past that a
// copy is skipped and counted. Each answer is counted, and told to the canary's figures for a dark launch.
import type { IncomingMessage } from 'node:http'
import type { Admitted, SiteColor } from './exchange.js'
import type { RequestRecord } from './events.js'
import { attemptFields, joinPath, ownFields, requestFields, requestId } from './headers.js'

export interface MirrorOptions {
  site: string
  percent: number
  colorHeader: string
  preserveHost: boolean
  basicAuth: boolean
  timeouts: { serverMs: number; serverIdleMs: number }
  rand: () => number
  now: () => number
  /** Shared by every mirror in the process. */
  limit: { inFlight: number; max: number }
  /** A copy's answer: its status (0: no answer), for the metrics and the canary's figures. */
  answered(code: number | 'skipped', record?: RequestRecord): void
}

export type Mirror = (req: IncomingMessage, admitted: Admitted, servedBy: string | undefined) => void

export function createMirror(color: SiteColor, options: MirrorOptions): Mirror {
  const ours = ownFields(options.colorHeader, options.basicAuth)
  const { limit } = options
  return (req, admitted, servedBy) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) return
    // The request already went to this color: a copy would only double its load.
    if (servedBy === color.name || options.rand() * 100 >= options.percent) return
    if (limit.inFlight >= limit.max) return options.answered('skipped')
    limit.inFlight++
    const start = options.now()
    const base = requestFields(
      req.rawHeaders,
      req.headers.connection,
      ours,
      requestId(req.headers['x-request-id']),
      admitted.forwarded,
    )
    const given = req.headers.host
    const headers = attemptFields(base, {
      host: options.preserveHost && given !== undefined ? given : color.upstream.host,
      colorHeader: options.colorHeader,
      color: color.name,
      authorization: color.upstream.authorization,
    })
    const finish = (status: number) => {
      limit.inFlight--
      const durationMs = options.now() - start
      const record: RequestRecord = {
        site: options.site,
        color: color.name,
        status: status === 0 ? 502 : status,
        durationMs,
        via: 'weighted',
        failure: undefined,
        proto: 'http/1.1',
        tls: false,
      }
      options.answered(status, record)
    }
    send(color, req.method as string, admitted.path, headers, options.timeouts).then(finish, () => finish(0))
  }
}

async function send(
  color: SiteColor,
  method: string,
  path: string,
  headers: string[],
  timeouts: { serverMs: number; serverIdleMs: number },
): Promise<number> {
  const endpoint = await color.upstream.endpoint()
  return new Promise((resolve, reject) => {
    let status = 0
    // The answer is only counted: its body is read and dropped as it comes.
    endpoint.pool().dispatch(
      {
        path: joinPath(endpoint.target.pathname, path),
        method,
        headers,
        headersTimeout: timeouts.serverMs,
        bodyTimeout: timeouts.serverIdleMs,
      },
      {
        onConnect: () => {},
        onHeaders: (statusCode) => {
          status = statusCode
        },
        onData: () => true,
        onComplete: () => resolve(status),
        onError: reject,
      },
    )
  })
}
