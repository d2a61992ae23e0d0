#!/usr/bin/env node
// myapp: the demo backend. Answers every GET with its name and the Color header it received:
//   text/plain "<color> <name>\n", or with V2 set, text/html "\n<h1><name> (<color>)</h1>\n".
// To play a bad release: FAIL_PERCENT answers that share of requests with a 500 (spread evenly), DELAY_MS
// delays every answer.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import { LOG_LEVELS, type LogLevel, parseDuration, parsePort } from '../lib/values.js'
import { createDrainer } from '../lib/drain.js'
import { createLogger, flushed } from '../lib/logger.js'
import { failureSpread } from './failures.js'
import { renderPage } from './page.js'

const env = process.env
const EX_CONFIG = 78
const MAX_DELAY_MS = 10_000

function fail(message: string): never {
  process.stderr.write(`myapp: ${message}\n`)
  process.exit(EX_CONFIG)
}

// `myapp :8080`, `myapp 8080`, or PORT, as sillyproxy's myapp took its address.
const portText = (process.argv[2] ?? env.PORT ?? '8080').replace(/^:/, '')
let port: number
let shutdownTimeoutMs: number
try {
  port = parsePort(portText)
  shutdownTimeoutMs = parseDuration(env.SHUTDOWN_TIMEOUT ?? '7s')
} catch (error) {
  fail(`bad port or SHUTDOWN_TIMEOUT: ${(error as Error).message}`)
}
const failPercent = Number(env.FAIL_PERCENT ?? 0)
if (!/^\d{1,3}(\.\d+)?$/.test(env.FAIL_PERCENT ?? '0') || failPercent > 100) {
  fail('FAIL_PERCENT must be a number from 0 to 100')
}
const delayMs = Number(env.DELAY_MS ?? 0)
if (!/^\d{1,5}$/.test(env.DELAY_MS ?? '0') || delayMs > MAX_DELAY_MS) {
  fail(`DELAY_MS must be whole milliseconds from 0 to ${MAX_DELAY_MS}`)
}
const level = (env.LOG_LEVEL ?? 'info') as LogLevel
if (!LOG_LEVELS.includes(level)) fail(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)

const name = env.HOSTNAME || hostname()
const v2 = Boolean(env.V2)
const logger = createLogger({ level, format: env.LOG_FORMAT === 'pretty' ? 'pretty' : 'json' })

const nextFails = failureSpread(failPercent)
const server = createServer()
const drainer = createDrainer(server)
server.on('request', (req, res) => {
  const color = typeof req.headers.color === 'string' ? req.headers.color : 'unknown'
  logger.info({ method: req.method, path: req.url, remote: req.socket.remoteAddress, color }, 'request')
  const failed = nextFails()
  const page = failed
    ? { type: 'text/plain; charset=utf-8', body: `500 ${name} failed (FAIL_PERCENT)\n` }
    : renderPage({ name, color, v2 })
  const answer = () => {
    res.writeHead(failed ? 500 : 200, {
      'content-type': page.type,
      'content-length': Buffer.byteLength(page.body),
    })
    res.end(page.body)
  }
  // `?delay=300` answers after 300 ms (at most 10 s): slow requests for rollout rehearsals. DELAY_MS adds to it.
  const asked = Number(/[?&]delay=(\d+)/.exec(req.url ?? '')?.[1] ?? 0)
  const delay = Math.min(MAX_DELAY_MS, asked + delayMs)
  if (delay > 0) setTimeout(answer, delay)
  else answer()
})

server.once('error', (error: NodeJS.ErrnoException) => {
  process.stderr.write(`myapp: cannot listen on port ${port}: ${error.code}\n`)
  process.exit(1)
})
// No host: Node listens on :: and takes IPv4 too, so http://localhost works whichever address it picks.
server.listen(port, () => {
  logger.info({ port: (server.address() as AddressInfo).port, name, v2 }, 'listening')
})

let stopping = false
const stop = (signal: NodeJS.Signals) => {
  // Ctrl-C reaches the whole process group, and a supervisor may send its own signal too: drain once.
  if (stopping) return
  stopping = true
  logger.info({ signal, in_flight: drainer.inFlight }, 'draining')
  drainer.drain(shutdownTimeoutMs).then(({ forced }) => {
    logger.info({ forced }, 'stopped')
    // Exits once the log lines said so far are written: an exit would drop a write still in flight.
    flushed(logger).then(() => process.exit(0))
  })
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
