// Every error colorproxy itself makes on the way to an upstream, one class each with its code, the way
// undici's lib/core/errors.js names its own. The transports (the own connections, node:http for uploads,
// http-proxy-3 for WebSockets) fail with these or with Node's system errors (ECONNREFUSED, ENOTFOUND, TLS
// codes, llhttp's HPE_*); forward/failures.ts maps every code here to what the client gets, and a test
// enumerates them.

/** The codes of the errors below, each mapped in forward/failures.ts. */
export const UPSTREAM_ERROR_CODES = [
  'ECONNECTTIMEOUT',
  'ESERVERTIMEOUT',
  'ESERVERIDLE',
  'EBADANSWER',
  'ECONNRESET',
  'ENOTFOUND',
  'EUPSTREAMOVERLOADED',
  'EINVALIDREQUEST',
] as const

export type UpstreamErrorCode = (typeof UPSTREAM_ERROR_CODES)[number]

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: UpstreamErrorCode,
  ) {
    super(message)
    this.name = new.target.name
  }
}

/** TIMEOUT_CONNECT: the connection (and its TLS handshake) did not complete in time. */
export class ConnectTimeoutError extends UpstreamError {
  constructor() {
    super('the upstream did not accept the connection within TIMEOUT_CONNECT', 'ECONNECTTIMEOUT')
  }
}

/** TIMEOUT_SERVER: the answer's head did not come in time. */
export class AnswerTimeoutError extends UpstreamError {
  constructor() {
    super('the upstream did not answer within TIMEOUT_SERVER', 'ESERVERTIMEOUT')
  }
}

/** TIMEOUT_SERVER_IDLE: the answer's body paused too long. */
export class AnswerStalledError extends UpstreamError {
  constructor() {
    super("the upstream's answer stalled for TIMEOUT_SERVER_IDLE", 'ESERVERIDLE')
  }
}

/** The upstream's bytes are no answer to the request (an upgrade nobody asked for, bytes after it). */
export class BadAnswerError extends UpstreamError {
  constructor(message: string) {
    super(message, 'EBADANSWER')
  }
}

/** The connection ended before the answer did: a reset, as a refused write is. */
export class ClosedEarlyError extends UpstreamError {
  constructor(message = 'the upstream closed the connection before its answer was complete') {
    super(message, 'ECONNRESET')
  }
}

/** The upstream's host resolved to no address. */
export class NoAddressError extends UpstreamError {
  constructor(hostname: string) {
    super(`${hostname} has no address`, 'ENOTFOUND')
  }
}

/** UPSTREAM_MAX_CONNECTIONS reached and UPSTREAM_MAX_PENDING full, or TIMEOUT_QUEUE passed. */
export class OverloadedError extends UpstreamError {
  constructor(message: string) {
    super(message, 'EUPSTREAMOVERLOADED')
  }
}

/** A request colorproxy will not write: a value or target holding what could smuggle a request. */
export class InvalidRequestError extends UpstreamError {
  constructor(message: string) {
    super(message, 'EINVALIDREQUEST')
  }
}

/** The timeouts of one upstream exchange, by phase: the same error whichever transport carries it. */
export const TIMEOUT_ERRORS = {
  connect: ConnectTimeoutError,
  head: AnswerTimeoutError,
  body: AnswerStalledError,
} as const

export type TimeoutPhase = keyof typeof TIMEOUT_ERRORS
