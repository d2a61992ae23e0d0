// Which transport carries an attempt: a body goes over node:http's client (upload.ts, for 100 Continue and
// streaming), a bodiless request over the color's own kept connections, a retry on a new one (the kept
// one it took may have been closed by the upstream). Each speaks the same AnswerHandler contract.
import { sendUpload, type Upload } from './upload.js'
import type { Endpoint } from '../upstream/color-pools.js'
import type { AnswerHandler, UpstreamRequest } from '../upstream/connection.js'

/** first: the pool; retry: the same color on a new connection; failover: another color. */
export type AttemptKind = 'first' | 'retry' | 'failover'

export function sendAttempt(
  endpoint: Endpoint,
  kind: AttemptKind,
  attempt: Upload | UpstreamRequest,
  handler: AnswerHandler,
): void {
  if ('body' in attempt) sendUpload(endpoint, attempt, handler)
  else if (kind === 'retry') endpoint.pool().fresh(attempt, handler)
  else endpoint.pool().dispatch(attempt, handler)
}
