#!/usr/bin/env node
// The only file with side effects: read the environment, exit 78 on a bad one, start, handle signals.
import { readFileSync } from 'node:fs'
import { ConfigError, loadConfig } from './config/load.js'
import { usage } from './config/spec.js'

/** EX_CONFIG from sysexits.h: Swarm sees the task fail at once and rolls the update back. */
const EX_CONFIG = 78
/** EX_USAGE from sysexits.h: an argument colorproxy does not take. */
const EX_USAGE = 64

// The whole configuration is the environment: the command line only asks for help or the version.
const args = process.argv.slice(2)
if (args.length > 0) {
  const { version, engines } = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  )
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    process.stdout.write(usage(version))
    process.exit(0)
  }
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
    // The Node line it runs on, and the lines it supports (package.json engines).
    process.stdout.write(
      `colorproxy ${version} on Node.js ${process.version} (supported: node ${engines.node})\n`,
    )
    process.exit(0)
  }
  process.stderr.write(`colorproxy: unknown argument ${JSON.stringify(args[0])}\n\n${usage(version)}`)
  process.exit(EX_USAGE)
}

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
const { default: cluster } = await import('node:cluster')
const { availableParallelism } = await import('node:os')
const { createLogger, flushed } = await import('../lib/logger.js')
const { createService } = await import('./service.js')
const { createPrimary, MESSAGE, workerSide } = await import('./cluster.js')
const logger = createLogger(config.log)
const workers = config.workers === 'auto' ? availableParallelism() : config.workers
// /config shows the number of workers that run, not `auto`.
config = { ...config, workers }
// Said once, by the process that runs the show (a cluster's primary, or the only process).
if (!cluster.isWorker) for (const warning of config.warnings) logger.warn(warning)

/** Exits once the log lines said so far are written: an exit would drop a write still in flight. */
const exit = (code: number) => flushed(logger).then(() => process.exit(code))

const cannotStart = (error: unknown) => {
  const { code, message } = error as NodeJS.ErrnoException
  const reason = code === 'EADDRINUSE' ? `${message}: another process is using that port` : message
  process.stderr.write(`colorproxy: cannot start: ${reason}\n`)
  return exit(1)
}

/** The startup lines go out now, not with the log buffer's next flush up to a second later. */
const sayAtOnce = () => logger.flush()

/**
 * SIGTERM is the orchestrator's stop: SHUTDOWN_DELAY, then drain. SIGINT is a person at a terminal: no
 * orchestrator to wait for. A second signal skips whatever delay is left. Installed before start(): a
 * signal during start-up waits for it and then drains, instead of killing the process outright.
 */
const stopOnSignals = (
  service: { shutdown(options: { delayMs: number }): Promise<unknown> },
  started: Promise<unknown>,
) => {
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received')
    started
      .then(() => service.shutdown({ delayMs: signal === 'SIGINT' ? 0 : config.shutdown.delayMs }))
      .then(() => exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

if (workers > 1 && cluster.isPrimary) {
  const primary = createPrimary(config, { logger, workers })
  stopOnSignals(primary, primary.start().then(sayAtOnce, cannotStart))
} else if (cluster.isWorker) {
  // The primary coordinates shutdown; a Ctrl-C reaches the whole process group, so workers wait for it.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => {})
  const proxy = createService(config, { logger, worker: true })
  const { port, httpsPort } = await proxy.start().catch(cannotStart)
  const answer = workerSide(proxy)
  process.on('message', (message: { type?: string }) => {
    if (message.type === MESSAGE.shutdown) proxy.shutdown({ delayMs: 0 }).then(() => exit(0))
    const reply = answer(message)
    if (reply) process.send?.(reply)
  })
  process.send?.({ type: MESSAGE.listening, port, httpsPort })
} else {
  const proxy = createService(config, { logger })
  stopOnSignals(proxy, proxy.start().then(sayAtOnce, cannotStart))
}
