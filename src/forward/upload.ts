// A request with a body goes to its upstream through node:http's client, which streams the body, honours
// `Expect: 100-continue` and skips a 100 Continue (RFC 9110 section 15.2). Bodiless requests take
// colorproxy's own kept connections (upstream/address-pool.ts), which are faster (docs/performance.md).
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { Writable } from 'node:stream'
import { onMalformed } from './malformed.js'
import type { Endpoint } from '../upstream/color-pools.js'
import { ClosedEarlyError } from '../upstream/errors.js'
import { guardRequest, type RequestTimeouts } from '../upstream/request-timeouts.js'

export interface Upload {
  endpoint: Endpoint
  method: string
  path: string
  /** Flat name/value list, Host included. */
  headers: string[]
  /** The client's request: its body is streamed to the upstream. */
  body: IncomingMessage
  timeouts: RequestTimeouts
  onInfo(info: { statusCode: number; headers: IncomingHttpHeaders }): void
  /** The answer's head: returns where its body goes (the client's response, or a sink). */
  onAnswer(statusCode: number, headers: IncomingHttpHeaders): Writable
  /** Once: the answer was passed on whole (no error), or why not. */
  onDone(error: Error | null): void
}

export function sendUpload(upload: Upload): void {
  const { endpoint } = upload
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
  let finished = false
  const timers = guardRequest(request, upload.timeouts, secure)
  const done = (error: Error | null) => {
    if (finished) return
    finished = true
    timers.stop()
    if (error) request.destroy()
    upload.onDone(error)
  }
  const fail = (error: Error) => done(error)
  request.on('information', (info) => upload.onInfo(info))
  request.on('error', fail)
  request.once('response', (answer: IncomingMessage) => {
    timers.answered()
    const sink = upload.onAnswer(answer.statusCode as number, answer.headers)
    // The client left: the upstream request is cancelled (its answer would go nowhere).
    sink.once('close', () => done(sink.writableFinished ? null : new Error('the answer was not taken')))
    if (!answer.complete) timers.streaming()
    answer.once('aborted', () => fail(new ClosedEarlyError('the upstream closed the connection mid-answer')))
    answer.on('error', fail)
    answer.once('end', () => done(null))
    answer.pipe(sink)
  })
  // The client left mid-upload, or its body does not parse (malformed-body.ts answers it): the upstream
  // request goes too, never completed.
  const cancel = () => {
    finished = true
    timers.stop()
    request.destroy()
  }
  upload.body.once('aborted', cancel)
  onMalformed(upload.body, cancel)
  upload.body.pipe(request)
}
