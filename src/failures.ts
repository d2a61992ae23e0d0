// The one table: why a request failed → the status the client gets and the one line it reads. Every
// failure here is the upstream's (or colorproxy's: no color), except client_gone; a malformed request is
// answered before any color is chosen (request-target.ts) and never appears here.

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
  | 'client_gone'
  | 'error'

export const FAILURES: Record<FailureReason, { status: number; text: string }> = {
  refused: { status: 502, text: 'the upstream refused the connection' },
  reset: { status: 502, text: 'the upstream closed the connection before answering' },
  dns: { status: 502, text: 'the upstream host name does not resolve' },
  unreachable: { status: 502, text: 'the upstream host is unreachable' },
  tls: { status: 502, text: 'the TLS handshake with the upstream failed' },
  bad_response: { status: 502, text: 'the upstream sent a malformed answer' },
  error: { status: 502, text: 'the upstream request failed' },
  connect_timeout: { status: 504, text: 'the upstream did not accept the connection in time' },
  server_timeout: { status: 504, text: 'the upstream did not answer in time' },
  server_idle_timeout: { status: 504, text: 'the upstream stopped sending its answer' },
  no_color: { status: 503, text: 'no color is available to serve this request' },
  // Nobody is left to answer: logged only (499 as nginx does).
  client_gone: { status: 499, text: 'the client went away' },
}

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
  // undici's own codes
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'server_timeout',
  UND_ERR_BODY_TIMEOUT: 'server_idle_timeout',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'bad_response',
  UND_ERR_HEADERS_OVERFLOW: 'bad_response',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'bad_response',
}

/** Failures where the upstream was never reached: ejection counts them, and failover may act on them. */
export const CONNECT_FAILURES: ReadonlySet<FailureReason> = new Set([
  'refused',
  'dns',
  'unreachable',
  'connect_timeout',
])

export function failureReason(error: NodeJS.ErrnoException): FailureReason {
  const code = error.code ?? ''
  // llhttp's parse errors (an invalid chunk, a bad status line, Content-Length with Transfer-Encoding):
  // undici's carry no code, only their name.
  if (code.startsWith('HPE_') || error.name === 'HTTPParserError') return 'bad_response'
  // undici says "bad response" for an answer no request asked for, or a 100 Continue it cannot take.
  if (code === 'UND_ERR_SOCKET' && error.message === 'bad response') return 'bad_response'
  return (
    CODE_REASONS[code] ??
    (/^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO|HOSTNAME_MISMATCH)/.test(code)
      ? 'tls'
      : 'error')
  )
}
