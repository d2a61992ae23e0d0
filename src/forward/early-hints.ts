// RFC 9110 section 15.2: an upstream's 1xx that the client did not ask for is skipped; 103 Early Hints are
// passed on to an HTTP/1.1 or HTTP/2 client (an HTTP/1.0 one must get none), before the final answer only.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'

export function passInformation(
  req: IncomingMessage,
  res: ServerResponse,
  statusCode: number,
  headers: IncomingHttpHeaders,
): void {
  const takesHints = req.httpVersionMajor === 2 || req.httpVersionMinor >= 1
  if (statusCode === 103 && headers.link && takesHints && !res.headersSent) {
    res.writeEarlyHints({ link: headers.link })
  }
}
