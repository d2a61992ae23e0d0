// The startup summary: each color's share of new traffic, then where colorproxy listens. Said once, by
// the process that runs the show (a cluster's primary, or the only process).
import type { Logger } from '../../lib/logger.js'
import type { Config } from '../config/load.js'
import { redactUrl } from '../config/redact.js'
import { serves } from '../route/site-match.js'
import { shares } from '../route/weights.js'

export function logListening(
  logger: Logger,
  config: Config,
  ports: { port: number; adminPort: number; httpsPort: number },
): void {
  const named = config.sites.some((site) => site.prefix !== '')
  for (const site of config.sites) {
    const share = shares(site.colors)
    // One site (no SITES): the lines read as they always have.
    const label = named ? `${site.name}: ` : ''
    if (named) {
      const what = serves(site, config.sites)
      logger.info({ site: site.name, serves: what }, `site ${site.name} serves ${what}`)
    }
    for (const { name, upstream, weight } of site.colors) {
      logger.info(
        {
          ...(named && { site: site.name }),
          color: name,
          upstream: redactUrl(upstream),
          weight,
          share_percent: share.get(name),
        },
        `${label}${name}: ${share.get(name)}% of new traffic`,
      )
    }
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
