// The client's response is closed: what status the log and the figures record, and whose fault a
// shortfall was. An upstream that broke mid-body has named its failure already (counted against its
// color); a response destroyed with an error carries it (an HTTP/2 one on its stream); otherwise the
// client went away (client_gone), and the upstream request is for nobody.
import type { ServerResponse } from 'node:http'
import type { Exchange } from './exchange.js'
import { FAILURES, failureReason } from './failures.js'

/** The status the exchange ends with; its reason is client_gone when the client left before its answer. */
export function closedStatus(exchange: Exchange, res: ServerResponse): number {
  if (res.writableFinished) return res.statusCode
  const stream = (res as unknown as { stream?: { errored: Error | null } }).stream
  const cut = (res.errored ?? stream?.errored) as NodeJS.ErrnoException | null
  if (cut && exchange.reason === undefined) exchange.reason = failureReason(cut)
  exchange.reason ??= 'client_gone'
  return FAILURES[exchange.reason].status
}
