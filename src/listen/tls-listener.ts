// The TLS listener's server object: node:http2's createSecureServer with allowHTTP1, so one port serves
// HTTP/2 and HTTP/1.1 by ALPN (HTTP2=false: node:https, HTTP/1.1 only). The certificate for each connection
// comes from the store by SNI; TLS_CERTS_DIR is read again every TLS_RELOAD_EVERY, and a file that no longer
// reads keeps its last good certificate. What is served over it is http1.ts's.
import type { Http2SecureServer } from 'node:http2'
import type https from 'node:https'
import type { SecureContext } from 'node:tls'
import type { Logger } from '../../lib/logger.js'
import { loadHttp2, loadHttps } from '../../lib/node-http.js'
import { type Certificate, normalName, readCertificateDir, type DirIo } from '../config/certificates.js'
import { CertificateStore } from './certificate-store.js'
import { readError } from '../config/file-errors.js'
import type { TlsConfig } from '../config/load.js'

export interface TlsListener {
  server: Http2SecureServer | https.Server
  /** Reads TLS_CERTS_DIR again now (the timer does this every TLS_RELOAD_EVERY). */
  reload(): void
  /** ACME's certificates, served from the next connection on after TLS_CERT's and TLS_CERTS_DIR's. */
  serveIssued(certificates: readonly Certificate[]): void
  /** Every certificate served now: TLS_CERT's, TLS_CERTS_DIR's, then ACME's. */
  served(): Certificate[]
  /** Stops the reload timer. */
  close(): void
}

/** RFC 9113 section 5.1.2: a limit on concurrent streams per session, as nginx's 128. */
const MAX_CONCURRENT_STREAMS = 128

/** ACME_CHALLENGE=tls-alpn-01: the challenge's certificate for a name, when a validation is under way. */
export type AlpnAnswer = (name: string) => Promise<SecureContext | undefined>

export function createTlsListener(
  tls: TlsConfig,
  logger: Logger,
  io: DirIo,
  alpnAnswer?: AlpnAnswer,
): TlsListener {
  const store = new CertificateStore(tls.certificates, { minVersion: tls.minVersion })
  const first = tls.certificates[0]
  const options = {
    // With ACME alone there may be no certificate yet: a handshake then fails until one is issued.
    ...(first && { cert: first.cert, key: first.key }),
    minVersion: tls.minVersion,
    ...(alpnAnswer ? alpnChallenges(alpnAnswer, tls.http2, store) : { SNICallback: byName(store) }),
  }
  const server = tls.http2
    ? loadHttp2().createSecureServer({
        ...options,
        allowHTTP1: true,
        settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
      })
    : loadHttps().createServer(options)
  let current = tls.certificates
  let issued: readonly Certificate[] = []
  const apply = () => {
    store.replace([...current, ...issued], current.length)
    const fallback = current[0]
    if (fallback)
      server.setSecureContext({ cert: fallback.cert, key: fallback.key, minVersion: tls.minVersion })
  }
  const reload = () => {
    current = reloaded(tls, current, logger, io)
    apply()
  }
  const serveIssued = (certificates: readonly Certificate[]) => {
    issued = certificates
    apply()
  }
  const timer = tls.dir === undefined ? undefined : setInterval(reload, tls.reloadEveryMs)
  timer?.unref()
  return {
    server,
    reload,
    serveIssued,
    served: () => [...current, ...issued],
    close: () => clearInterval(timer),
  }
}

type Done = (error: Error | null, context?: SecureContext) => void

const byName = (store: CertificateStore) => (name: string, done: Done) => done(null, store.select(name))

/**
 * RFC 8737: a client that offers `acme-tls/1` (a CA validating, and nobody else) gets that protocol and the
 * challenge's certificate for its name, or a failed handshake when no validation is under way. Any other
 * client gets `h2` or `http/1.1` by ALPN as before, and its certificate by SNI. ALPN is chosen before the
 * certificate, on the same socket: the choice is remembered on it for the SNI callback.
 */
function alpnChallenges(answer: AlpnAnswer, http2: boolean, store: CertificateStore) {
  const validating = new WeakSet<object>()
  const offers = http2 ? ['h2', 'http/1.1'] : ['http/1.1']
  return {
    ALPNCallback(this: object, { protocols }: { protocols: string[] }): string | undefined {
      if (protocols.includes('acme-tls/1')) {
        validating.add(this)
        return 'acme-tls/1'
      }
      return offers.find((protocol) => protocols.includes(protocol))
    },
    SNICallback(this: object, name: string, done: Done): void {
      if (!validating.has(this)) return done(null, store.select(name))
      answer(normalName(name)).then(
        (context) => (context ? done(null, context) : done(new Error(`no ACME validation for ${name} now`))),
        (error: Error) => done(error),
      )
    },
  }
}

/** TLS_CERTS_DIR read again: new and renewed files replace theirs; a file that fails keeps its last good one. */
function reloaded(tls: TlsConfig, before: Certificate[], logger: Logger, io: DirIo): Certificate[] {
  let read: ReturnType<typeof readCertificateDir>
  try {
    read = readCertificateDir(tls.dir as string, io)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    logger.warn(
      { code },
      `TLS_CERTS_DIR: cannot read ${tls.dir}: ${readError(error)}; the certificates served stay`,
    )
    return before
  }
  const { certificates, failures } = read
  const fromDir = new Map(certificates.map((certificate) => [certificate.source, certificate]))
  for (const failure of failures) {
    const kept = before.find((certificate) => certificate.source === failure.file)
    if (kept) fromDir.set(failure.file, kept)
    logger.warn(
      { file: failure.file },
      `TLS_CERTS_DIR: ${failure.message}; ${kept ? 'the last good one stays' : 'skipped'}`,
    )
  }
  const next = [
    ...before.filter((certificate) => certificate.source === 'TLS_CERT'),
    ...[...fromDir.keys()].sort().map((file) => fromDir.get(file) as Certificate),
  ]
  const changed =
    next.length !== before.length || next.some((certificate, i) => certificate.cert !== before[i]?.cert)
  if (changed) {
    logger.info(
      { certificates: next.map(({ source, names }) => ({ source, names })) },
      'TLS certificates reloaded',
    )
  }
  // An empty folder keeps what was served: a listener with no certificate would fail every handshake.
  return next.length > 0 ? next : before
}
