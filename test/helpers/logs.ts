// A real pino logger whose JSON lines a test reads back.
import { EventEmitter } from 'node:events'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import type { Logger } from '../../lib/logger.js'
import { until } from './wait.js'

/** A logger whose JSON lines land in `lines`, for assertions on fields. */
export function captureLogger(level = 'info') {
  const lines: Record<string, unknown>[] = []
  const events = new EventEmitter()
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue
        lines.push(JSON.parse(line))
        events.emit('line')
      }
      done()
    },
  })
  const logger: Logger = pino({ level, base: undefined }, sink)
  /** Resolves with the first line (already written or to come) that matches. */
  const line = async (match: (line: Record<string, unknown>) => boolean) => {
    await until(() => lines.some(match), events, 'line')
    return lines.find(match) as Record<string, unknown>
  }
  return { logger, lines, line }
}
