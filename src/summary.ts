// The startup summary: each color's share of new traffic, then where colorproxy listens. Said once, by
// the process that runs the show (a cluster's primary, or the only process).
import type { Logger } from '../lib/logger.js'
import type { Config } from './config.js'
import { redactUrl } from './redact.js'
import { shares } from './weights.js'

export function logListening(
  logger: Logger,
  config: Config,
  ports: { port: number; adminPort: number; httpsPort: number },
): void {
  const share = shares(config.colors)
  for (const { name, upstream, weight } of config.colors) {
    logger.info(
      { color: name, upstream: redactUrl(upstream), weight, share_percent: share.get(name) },
      `${name}: ${share.get(name)}% of new traffic`,
    )
  }
  for (const { source, names, notAfter } of config.tls?.certificates ?? []) {
    logger.info(
      { source, names, not_after: notAfter.toISOString() },
      `TLS: ${source} serves ${names.join(', ')}`,
    )
  }
  const { port, adminPort, httpsPort } = ports
  const https = config.tls && { https_port: httpsPort, http2: config.tls.http2 }
  logger.info({ port, admin_port: adminPort, ...https }, 'listening')
}
