// node:http and node:http2 as colorproxy loads them. node:http is required, not imported: an ES module's
// import of a built-in reads every one of its exports, and since Node 22 node:http's WebSocket, CloseEvent
// and MessageEvent are getters that load undici (on Node 26 a process that imports node:http takes 60 MB
// of RSS, one that requires it 45). node:http2 (about 10 MB) is loaded only by a TLS listener with HTTP2
// on, so a request can be an HTTP/2 one only once it is.
import { createRequire } from 'node:module'
import type { Http2ServerRequest } from 'node:http2'
import { StreamRequest } from './http2-stream.js'

const require = createRequire(import.meta.url)

export const http = require('node:http') as typeof import('node:http')

let Http2Request: typeof Http2ServerRequest | undefined

/** node:http2, loaded now if it was not. */
export function loadHttp2(): typeof import('node:http2') {
  const http2 = require('node:http2') as typeof import('node:http2')
  Http2Request = http2.Http2ServerRequest
  return http2
}

/** node:https, loaded now if it was not (with node:tls, about 4 MB). */
export const loadHttps = (): typeof import('node:https') =>
  require('node:https') as typeof import('node:https')

/**
 * An HTTP/2 request: node:http2's compatibility request, or a bodiless one on the stream API
 * (http2-stream.ts). An HTTP/1.x request line saying `HTTP/2.0` is neither.
 */
export function isHttp2Request(req: object): req is Http2ServerRequest {
  return req instanceof StreamRequest || (Http2Request !== undefined && req instanceof Http2Request)
}
