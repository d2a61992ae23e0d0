// A request with a body goes to its upstream through node:http's client, which streams the body, honours
// `Expect: 100-continue` and skips a 100 Continue (RFC 9110 section 15.2). Bodiless requests take
// colorproxy's own kept connections (upstream/address-pool.ts), which are faster (docs/performance.md).
// Both speak one contract to the request they carry (upstream/connection.ts's AnswerHandler): the attempt
// starts (and can be cancelled), heads come (1xx first), the body comes with back-pressure, then its end
// or one error.
import type { IncomingMessage } from 'node:http'
import { http } from '../../lib/node-http.js'
import https from 'node:https'
import { onMalformed } from './malformed.js'
import type { Endpoint } from '../upstream/color-pools.js'
import type { AnswerHandler } from '../upstream/connection.js'
import { ClosedEarlyError } from '../upstream/errors.js'
import { guardRequest, type RequestTimeouts } from '../upstream/request-timeouts.js'

export interface Upload {
  method: string
  path: string
  /** Flat name/value list, Host included. */
  headers: string[]
  /** The client's request: its body is streamed to the upstream. */
  body: IncomingMessage
  timeouts: RequestTimeouts
}

export function sendUpload(endpoint: Endpoint, upload: Upload, handler: AnswerHandler): void {
  const secure = endpoint.target.protocol === 'https:'
  const request = (secure ? https : http).request({
    host: endpoint.address,
    port: endpoint.target.port,
    method: upload.method,
    path: upload.path,
    headers: upload.headers,
    setHost: false,
    agent: endpoint.agent(),
  })
  const timers = guardRequest(request, upload.timeouts, secure)
  let settled = false
  /** True the first time: the request is over (answered, failed or cancelled), its timers off. */
  const settle = () => {
    if (settled) return false
    settled = true
    timers.stop()
    return true
  }
  const fail = (error: Error) => {
    if (!settle()) return
    request.destroy()
    handler.onError(error)
  }
  // The client left mid-upload, or its body does not parse (malformed-body.ts answers it): the upstream
  // request goes too, never completed.
  const cancel = () => {
    settle()
    request.destroy()
  }
  let answer: IncomingMessage | undefined
  // The answer's body flows again once the client's response drained (1xx heads have no body to resume).
  const resume = () => answer?.resume()
  handler.onConnect(cancel)
  request.on('information', (info) => handler.onHeaders(info.statusCode, info.rawHeaders, resume))
  request.on('error', fail)
  request.once('response', (response: IncomingMessage) => {
    answer = response
    timers.answered()
    handler.onHeaders(response.statusCode as number, response.rawHeaders, resume)
    if (!response.complete) timers.streaming()
    response.once('aborted', () =>
      fail(new ClosedEarlyError('the upstream closed the connection mid-answer')),
    )
    response.on('error', fail)
    response.on('data', (chunk: Buffer) => {
      if (!handler.onData(chunk)) response.pause()
    })
    response.once('end', () => {
      if (settle()) handler.onComplete()
    })
  })
  upload.body.once('aborted', cancel)
  onMalformed(upload.body, cancel)
  upload.body.pipe(request)
}
