// What an admitted request passes before a color is chosen: the HTTPS redirect (plain port, HTTPS_REDIRECT)
// and basic auth (USERS). Both ports and both protocols ask the same gate; a request it stops is answered
// as a refusal (logged, never counted against a color).
import type { IncomingMessage } from 'node:http'
import type { BasicAuth, Verdict } from './basic-auth.js'
import type { Config } from './config.js'
import type { Admitted } from './exchange.js'

/** Let through (with the user basic auth proved), or answered here. */
export type Passage =
  { user: string | undefined } | { status: number; text: string; headers: Record<string, string> }

export type Gate = (req: IncomingMessage, admitted: Admitted) => Passage | Promise<Passage>

const ACME = '/.well-known/acme-challenge/'
const PASS: Passage = { user: undefined }

export function createGate(
  config: Pick<Config, 'httpsRedirect' | 'authRealm'>,
  proto: 'http' | 'https',
  auth: BasicAuth | undefined,
): Gate {
  const redirect = proto === 'http' ? config.httpsRedirect : undefined
  const challenge = { 'www-authenticate': `Basic realm="${config.authRealm}", charset="UTF-8"` }
  const judged = (verdict: Verdict): Passage => {
    if ('user' in verdict) return verdict
    if (verdict.status === 401)
      return { status: 401, text: 'this site needs a user name and password', headers: challenge }
    return {
      status: 503,
      text: 'too many password checks at once: try again',
      headers: { 'retry-after': '1' },
    }
  }
  return (req, admitted) => {
    // A request a trusted proxy in front says came over HTTPS is not sent round again.
    if (redirect && admitted.forwarded.proto === 'http' && !admitted.path.startsWith(ACME)) {
      return toHttps(req.headers.host, admitted.path, redirect.port)
    }
    if (auth === undefined) return PASS
    const verdict = auth.check(req.headers.authorization)
    return verdict instanceof Promise ? verdict.then(judged) : judged(verdict)
  }
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/

/** RFC 9110 section 15.4.9: 308 keeps the method and the body; the path and query are kept as sent. */
function toHttps(host: string | undefined, path: string, port: number): Passage {
  const name = host === undefined ? undefined : HOST.exec(host)?.[1]
  if (name === undefined) {
    return { status: 400, text: 'the request needs a valid Host header to be redirected', headers: {} }
  }
  const location = `https://${name}${port === 443 ? '' : `:${port}`}${path}`
  return { status: 308, text: `use ${location}`, headers: { location } }
}
