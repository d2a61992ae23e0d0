// What an admitted request passes before a color is chosen: the HTTPS redirect (plain port,
// HTTPS_REDIRECT), its site (SITES: host and path; none is a 404), its rate limit (RATE_LIMIT: 429), and
// that site's basic auth (USERS,
// <SITE>_USERS). Both ports and both protocols ask the same gate; a request it stops is answered as a
// refusal (logged, never counted against a color).
import type { IncomingMessage } from 'node:http'
import type { BasicAuth, Verdict } from './basic-auth.js'
import type { Config } from '../config/load.js'
import type { Admitted, ForwardOptions, SiteColor } from '../forward/exchange.js'
import type { HttpForwarder } from '../forward/http.js'
import type { RateLimit } from './rate-limit.js'
import type { WsForwarder } from '../forward/websocket.js'
import { ACME_CHALLENGE_PATH, type HttpChallenge } from './http-challenge.js'
import type { Router } from '../route/router.js'

/** One site, as the listeners use it (site.ts builds it). */
export interface TrafficSite {
  router: Pick<Router<SiteColor & { weight: number }>, 'decide'>
  http: HttpForwarder
  ws: WsForwarder
  /** The site's refusals (401) are logged and counted under its name. */
  forwardOptions: ForwardOptions
  /** `<SITE>_USERS` or USERS: basic auth; undefined: none. */
  auth?: BasicAuth
  /** RATE_LIMIT: undefined when the request may pass, else the seconds for Retry-After; absent: off. */
  rateLimit?: RateLimit
}

/** Where admitted traffic goes (the app, built by app.ts). */
export interface Traffic {
  /** The site for this host and path, and the request as it will be forwarded (STRIP_PATH); none: 404. */
  siteFor(host: string | undefined, admitted: Admitted): { site: TrafficSite; admitted: Admitted } | undefined
  /** Refusals before any site is chosen (`site="none"`). */
  forwardOptions: ForwardOptions
  /** ACME=true with HTTP-01: the key authorization for a token the CA is validating. */
  httpChallenge?: HttpChallenge
}

/** Through to a site's color (with the user basic auth proved), or answered here. */
export type Passage =
  | { site: TrafficSite; admitted: Admitted }
  | { status: number; text: string; headers: Record<string, string>; options: ForwardOptions }

export type Gate = (req: IncomingMessage, admitted: Admitted) => Passage | Promise<Passage>

export function createGate(
  config: Pick<Config, 'httpsRedirect' | 'authRealm'>,
  proto: 'http' | 'https',
  traffic: Traffic,
): Gate {
  const redirect = proto === 'http' ? config.httpsRedirect : undefined
  const challenge = { 'www-authenticate': `Basic realm="${config.authRealm}", charset="UTF-8"` }
  const noSite = {
    status: 404,
    text: 'no site serves this host and path',
    headers: {},
    options: traffic.forwardOptions,
  }
  return (req, admitted) => {
    // A request a trusted proxy in front says came over HTTPS is not sent round again.
    if (redirect && admitted.forwarded.proto === 'http' && !admitted.path.startsWith(ACME_CHALLENGE_PATH)) {
      return { ...toHttps(req.headers.host, admitted.path, redirect.port), options: traffic.forwardOptions }
    }
    const chosen = traffic.siteFor(req.headers.host, admitted)
    if (chosen === undefined) return noSite
    const { auth, forwardOptions: options, rateLimit } = chosen.site
    // Before the password check, as nginx's limit_req runs before auth: a flood never reaches bcrypt.
    const wait = rateLimit?.(req, chosen.admitted.forwarded.client)
    if (wait !== undefined) {
      return {
        status: 429,
        text: 'too many requests: slow down',
        headers: { 'retry-after': String(wait) },
        options,
      }
    }
    if (auth === undefined) return chosen
    const judged = (verdict: Verdict): Passage => {
      if ('user' in verdict) return { ...chosen, admitted: { ...chosen.admitted, user: verdict.user } }
      if (verdict.status === 401)
        return { status: 401, text: 'this site needs a user name and password', headers: challenge, options }
      return {
        status: 503,
        text: 'too many password checks at once: try again',
        headers: { 'retry-after': '1' },
        options,
      }
    }
    const verdict = auth.check(req.headers.authorization)
    return verdict instanceof Promise ? verdict.then(judged) : judged(verdict)
  }
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/

/** RFC 9110 section 15.4.9: 308 keeps the method and the body; the path and query are kept as sent. */
function toHttps(
  host: string | undefined,
  path: string,
  port: number,
): { status: number; text: string; headers: Record<string, string> } {
  const name = host === undefined ? undefined : HOST.exec(host)?.[1]
  if (name === undefined) {
    return { status: 400, text: 'the request needs a valid Host header to be redirected', headers: {} }
  }
  const location = `https://${name}${port === 443 ? '' : `:${port}`}${path}`
  return { status: 308, text: `use ${location}`, headers: { location } }
}
