// A TLS failure with an upstream says why (self-signed, expired, wrong name), at most once a minute per
// color and cause, so a broken upstream cannot flood the log.
import type { Logger } from '../../lib/logger.js'
import { createWarnLimiter } from './warn-limiter.js'

export function createTlsWarning(logger: Logger): (color: string, error: NodeJS.ErrnoException) => void {
  const limit = createWarnLimiter(60_000, Date.now)
  return (color, error) => {
    const code = error.code ?? 'unknown'
    const suppressed = limit(`${color} ${code}`)
    if (suppressed === undefined) return
    logger.warn(
      { color, code, cause: error.message, ...(suppressed > 0 && { suppressed }) },
      `TLS with ${color}'s upstream failed: ${error.message} (UPSTREAM_CA_FILE trusts a private CA)`,
    )
  }
}
