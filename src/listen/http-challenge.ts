// ACME's HTTP-01 on the plain port (RFC 8555 section 8.3): `GET /.well-known/acme-challenge/<token>` gets the
// token's key authorization as it is, when colorproxy's own ACME client (or another replica's, through the
// store) is waiting for that validation, before HTTPS_REDIRECT and before any site. A token it does not
// know goes on as any request does, so a backend that runs its own ACME client still gets its own.
import type { IncomingMessage, ServerResponse } from 'node:http'

export const ACME_CHALLENGE_PATH = '/.well-known/acme-challenge/'

export type HttpChallenge = (token: string) => Promise<string | undefined>

/** Answers the request when it is a known challenge; otherwise calls `next()`. */
export function answerHttpChallenge(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  lookup: HttpChallenge,
  next: () => void,
): void {
  const token = path.slice(ACME_CHALLENGE_PATH.length).split('?', 1)[0] as string
  lookup(token).then(
    (answer) => {
      if (answer === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return next()
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': Buffer.byteLength(answer),
      })
      res.end(req.method === 'HEAD' ? undefined : answer)
    },
    // The store could not be read: the CA will ask again, and the request goes on meanwhile.
    () => next(),
  )
}
