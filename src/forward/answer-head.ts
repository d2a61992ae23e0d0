// The upstream's answer has headers: check them, and pass them to the client minus hop-by-hop fields,
// plus the sticky cookie, framed for this hop. Returns where the answer's body goes.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { Writable } from 'node:stream'
import type { Exchange, ForwardOptions, SiteColor } from './exchange.js'
import { writeFailure } from './failures.js'
import { MAX_HEADER_FIELDS, stripResponseHopByHop } from './headers.js'

export interface Answer {
  statusCode: number
  headers: IncomingHttpHeaders
}

/**
 * Writes the answer's head to the client (or a 502 for a broken one). `ended` is called when the client's
 * response is already complete (a bodiless answer), so later upstream errors are moot.
 */
export function passAnswer(
  exchange: Exchange,
  res: ServerResponse,
  answer: Answer,
  options: ForwardOptions,
  ended: () => void,
): Writable {
  const { statusCode, headers } = answer
  const { req } = exchange
  exchange.upstreamStatus = statusCode
  const color = (exchange.color as SiteColor).name
  if (!validAnswer(statusCode, headers)) {
    exchange.reason = 'bad_response'
    options.events.upstreamFailed?.(color, 'bad_response')
    writeFailure(res, 'bad_response')
    ended()
    return discard()
  }
  options.events.upstreamAnswered?.(color)
  if (exchange.setCookie && options.stickyCookie) addCookie(headers, options.stickyCookie(color))
  options.logger.debug({ request_id: exchange.id, status: statusCode }, 'upstream headers')
  res.statusCode = statusCode
  const head = clientHeaders(req, res, answer)
  for (const name in head) res.setHeader(name, head[name] as string | string[])
  // RFC 9110 section 6.4.1: no body, whatever Content-Length says.
  if (statusCode === 204 || statusCode === 304 || req.method === 'HEAD') {
    ended()
    res.end()
    return discard()
  }
  return res
}

/** The answer's headers for the client: hop-by-hop gone, framing and keep-alive ours. */
function clientHeaders(req: IncomingMessage, res: ServerResponse, answer: Answer): IncomingHttpHeaders {
  const { headers } = answer
  stripResponseHopByHop(headers)
  if (req.httpVersionMajor === 2) return http2Headers(headers)
  // Our keep-alive with the client is ours to decide: Node's own choice, close while draining, and close
  // when the upstream answered before the client's body was all read (the rest is never forwarded).
  const keepAlive = frame(req, headers) && res.shouldKeepAlive && req.complete
  if (!keepAlive) res.shouldKeepAlive = false
  // Set, not written: the head goes out with the first body byte, so a drain that starts before then can
  // still make it say Connection: close.
  headers.connection = keepAlive ? 'keep-alive' : 'close'
  return headers
}

/**
 * RFC 9113 section 8.2.2: an HTTP/2 answer carries no connection-specific field (Node would throw on one),
 * and its DATA frames are its framing: Transfer-Encoding goes (the body arrives decoded from chunked).
 */
function http2Headers(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  for (const name of ['transfer-encoding', 'host', 'http2-settings']) delete headers[name]
  return headers
}

/** Adds the sticky cookie to the upstream's own cookies, never in place of them. */
function addCookie(headers: IncomingHttpHeaders, cookie: string): void {
  headers['set-cookie'] = [...([] as string[]).concat(headers['set-cookie'] ?? []), cookie]
}

/** RFC 9110 section 15: a status is three digits from 100 to 599; anything else is a broken upstream. */
function validAnswer(statusCode: number, headers: IncomingHttpHeaders): boolean {
  if (statusCode < 200 || statusCode > 599) return false
  let fields = 0
  for (const name in headers) {
    const value = headers[name]
    fields += Array.isArray(value) ? value.length : 1
  }
  return fields <= MAX_HEADER_FIELDS
}

/**
 * RFC 9112 section 6.1: the upstream's Transfer-Encoding is this hop's. Node frames the answer again
 * (chunked to an HTTP/1.1 client when there is no Content-Length). A coding other than chunked (`gzip`)
 * stays named, with chunked after it; an HTTP/1.0 client cannot be sent one, so its connection closes
 * after the answer. Returns whether the connection may stay open.
 */
function frame(req: IncomingMessage, headers: IncomingHttpHeaders): boolean {
  const te = headers['transfer-encoding']
  if (te === undefined) return true
  delete headers['transfer-encoding']
  const codings = String(te)
    .toLowerCase()
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '' && coding !== 'chunked')
  if (codings.length === 0) return true
  if (req.httpVersionMinor === 0) return false
  headers['transfer-encoding'] = [...codings, 'chunked'].join(', ')
  return true
}

/** Where a bodiless answer's (absent) body goes, once the client's response is already ended. */
const discard = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done()
    },
  })
