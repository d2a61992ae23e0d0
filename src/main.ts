#!/usr/bin/env node
// The only file with side effects: read the environment, exit 78 on a bad one, start, handle signals.
import { ConfigError, loadConfig } from './config.js'

/** EX_CONFIG from sysexits.h: Swarm sees the task fail at once and rolls the update back. */
const EX_CONFIG = 78

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  const lines = error.problems.map((problem) => `  ${problem.variable}: ${problem.message}`)
  process.stderr.write(`colorproxy: bad configuration, not starting:\n${lines.join('\n')}\n`)
  process.exit(EX_CONFIG)
}

// Loaded only once the environment is good, so a bad one fails in well under a second.
const { createLogger } = await import('./logger.js')
const { createColorProxy } = await import('./server.js')
const logger = createLogger(config.log)
for (const warning of config.warnings) logger.warn(warning)

const proxy = createColorProxy(config, { logger })
try {
  await proxy.start()
} catch (error) {
  const { code, message } = error as NodeJS.ErrnoException
  const reason = code === 'EADDRINUSE' ? `${message}: another process is using that port` : message
  process.stderr.write(`colorproxy: cannot start: ${reason}\n`)
  process.exit(1)
}

const stop = (signal: NodeJS.Signals) => {
  logger.info({ signal }, 'signal received')
  // SIGINT is a person at a terminal: no orchestrator to wait for.
  proxy.shutdown({ delayMs: signal === 'SIGINT' ? 0 : config.shutdown.delayMs }).then(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
