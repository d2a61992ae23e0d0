// The TLS listener's server object: node:http2's createSecureServer with allowHTTP1, so one port serves
// HTTP/2 and HTTP/1.1 by ALPN (HTTP2=false: node:https, HTTP/1.1 only). The certificate for each connection
// comes from the store by SNI; TLS_CERTS_DIR is read again every TLS_RELOAD_EVERY, and a file that no longer
// reads keeps its last good certificate. What is served over it is http1.ts's.
import http2, { type Http2SecureServer } from 'node:http2'
import https from 'node:https'
import type { SecureContext } from 'node:tls'
import type { Logger } from '../../lib/logger.js'
import { type Certificate, readCertificateDir, type DirIo } from '../config/certificates.js'
import { CertificateStore } from './certificate-store.js'
import { readError } from '../config/file-errors.js'
import type { TlsConfig } from '../config/load.js'

export interface TlsListener {
  server: Http2SecureServer | https.Server
  /** Reads TLS_CERTS_DIR again now (the timer does this every TLS_RELOAD_EVERY). */
  reload(): void
  /** Stops the reload timer. */
  close(): void
}

/** RFC 9113 section 5.1.2: a limit on concurrent streams per session, as nginx's 128. */
const MAX_CONCURRENT_STREAMS = 128

export function createTlsListener(tls: TlsConfig, logger: Logger, io: DirIo): TlsListener {
  const store = new CertificateStore(tls.certificates, { minVersion: tls.minVersion })
  const first = tls.certificates[0] as Certificate
  const options = {
    cert: first.cert,
    key: first.key,
    minVersion: tls.minVersion,
    SNICallback: (name: string, done: (error: Error | null, context?: SecureContext) => void) =>
      done(null, store.select(name)),
  }
  const server = tls.http2
    ? http2.createSecureServer({
        ...options,
        allowHTTP1: true,
        settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
      })
    : https.createServer(options)
  let current = tls.certificates
  const reload = () => {
    current = reloaded(tls, current, logger, io)
    store.replace(current)
    const fallback = current[0] as Certificate
    server.setSecureContext({ cert: fallback.cert, key: fallback.key, minVersion: tls.minVersion })
  }
  const timer = tls.dir === undefined ? undefined : setInterval(reload, tls.reloadEveryMs)
  timer?.unref()
  return { server, reload, close: () => clearInterval(timer) }
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
