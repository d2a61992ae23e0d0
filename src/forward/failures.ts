// The one table: why a request failed → the status the client gets and the one line it reads. Every
// failure here is the upstream's (or colorproxy's: no color), except client_gone; a malformed request is
// answered before any color is chosen (listen/request-target.ts) and never appears here. The writers at the
// end send such a line on a response, or on a raw socket for requests Node hands over without one.
import type { ServerResponse } from 'node:http'
import { http } from '../../lib/node-http.js'
import type { Duplex } from 'node:stream'

export type FailureReason =
  | 'refused'
  | 'reset'
  | 'dns'
  | 'unreachable'
  | 'connect_timeout'
  | 'server_timeout'
  | 'server_idle_timeout'
  | 'bad_response'
  | 'tls'
  | 'no_color'
  | 'upstream_overloaded'
  | 'client_gone'
  | 'error'

/** Status → the line the client reads, for each failure that gets it. */
const LINES: Record<number, Partial<Record<FailureReason, string>>> = {
  502: {
    refused: 'the upstream refused the connection',
    reset: 'the upstream closed the connection before answering',
    dns: 'the upstream host name does not resolve',
    unreachable: 'the upstream host is unreachable',
    tls: 'the TLS handshake with the upstream failed',
    bad_response: 'the upstream sent a malformed answer',
    error: 'the upstream request failed',
  },
  503: {
    no_color: 'no color is available to serve this request',
    upstream_overloaded:
      'the upstream has no free connection (UPSTREAM_MAX_CONNECTIONS) and too many requests wait',
  },
  504: {
    connect_timeout: 'the upstream did not accept the connection in time',
    server_timeout: 'the upstream did not answer in time',
    server_idle_timeout: 'the upstream stopped sending its answer',
  },
  // Nobody is left to answer: logged only (499 as nginx does).
  499: { client_gone: 'the client went away' },
}

export const FAILURES = Object.fromEntries(
  Object.entries(LINES).flatMap(([status, lines]) =>
    Object.entries(lines).map(([reason, text]) => [reason, { status: Number(status), text }]),
  ),
) as Record<FailureReason, { status: number; text: string }>

const CODE_REASONS: Record<string, FailureReason> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ECONNECTTIMEOUT: 'connect_timeout',
  ESERVERTIMEOUT: 'server_timeout',
  ESERVERIDLE: 'server_idle_timeout',
  EBADANSWER: 'bad_response',
  EUPSTREAMOVERLOADED: 'upstream_overloaded',
  // A request head colorproxy will not write (upstream/request-head.ts): Node's parsers let no such byte
  // through today, so this is a guard, answered as the generic failure it always was.
  EINVALIDREQUEST: 'error',
}

/** Every code colorproxy's own errors carry (upstream/errors.ts), mapped: a test checks none is missing. */
export const MAPPED_CODES: ReadonlySet<string> = new Set(Object.keys(CODE_REASONS))

/** Failures where the upstream was never reached: ejection counts them, and failover may act on them. */
export const CONNECT_FAILURES: ReadonlySet<FailureReason> = new Set([
  'refused',
  'dns',
  'unreachable',
  'connect_timeout',
])

export function failureReason(error: NodeJS.ErrnoException): FailureReason {
  const code = error.code ?? ''
  // llhttp's parse errors (an invalid chunk, a bad status line, Content-Length with Transfer-Encoding).
  if (code.startsWith('HPE_')) return 'bad_response'
  return (
    CODE_REASONS[code] ??
    (/^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO|HOSTNAME_MISMATCH)/.test(code)
      ? 'tls'
      : 'error')
  )
}

/** A one-line plain-text error answer. */
export function writeFailure(res: ServerResponse, reason: FailureReason): void {
  const { status, text } = FAILURES[reason]
  writePlain(res, status, `${status} ${text}\n`)
}

export function writePlain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

/** The same answer written on a raw socket, for requests Node hands over without a response object. */
export function writeRawAnswer(socket: Duplex, status: number, text: string, extra = ''): void {
  const body = `${status} ${text}\n`
  const head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`
  if (socket.writable) {
    socket.end(
      `${head}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    )
  }
}

export function writeRawFailure(socket: Duplex, reason: FailureReason): void {
  writeRawAnswer(socket, FAILURES[reason].status, FAILURES[reason].text)
}
