// createLogger(options, destination?) -> pino logger with redaction. Tests pass a destination stream and
// parse the JSON lines; people get LOG_FORMAT=pretty.
import { createRequire } from 'node:module'
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino'
import { LineBatch } from './line-batch.js'
import type { LogFormat, LogLevel } from './values.js'

export type { Logger }

/** Header paths that must never reach a log line, whoever logs a request or response object. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
]

/** pino's number for warn. */
const WARN = 40

/** The JSON loggers createLogger made, and the batch of lines logged with infoLine each holds. */
const batches = new WeakMap<Logger, LineBatch>()

/** How the JSON log reaches stdout: through a 32 KiB buffer (as nginx's `buffer=32k`), written asynchronously. */
export const STDOUT_BUFFER = { bytes: 32_768, flushEveryMs: 1000 }

export function createLogger(
  { level, format }: { level: LogLevel; format: LogFormat },
  destination?: DestinationStream,
): Logger {
  const batch =
    format === 'json' ? new LineBatch(destination ?? bufferedDestination(1, STDOUT_BUFFER)) : undefined
  const options: LoggerOptions = {
    level,
    base: undefined,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    hooks: {
      logMethod(args, method, lineLevel) {
        // Lines logged with infoLine earlier come first.
        batch?.flush()
        method.apply(this, args)
        // A warning or an error is news: written at once, not with the buffer's next flush.
        if (lineLevel >= WARN) this.flush()
      },
    },
  }
  if (batch === undefined) {
    // Loaded only for LOG_FORMAT=pretty: a JSON logger (the default) never needs its ~4 MB.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')
    const stream = pretty({
      destination: destination ?? 1,
      sync: true,
      ignore: 'pid,hostname',
      translateTime: 'SYS:HH:MM:ss.l',
    })
    return pino(options, stream)
  }
  // Exiting (process.exit, an uncaught error): this turn's lines go into the stream before pino's own
  // exit handler (registered earlier, so this one is put first) writes the stream out.
  if (destination === undefined) process.prependListener('exit', batch.flush)
  const logger = pino(options, batch.stream)
  batches.set(logger, batch)
  return logger
}

/**
 * Logs `fields` and `msg` at info, for a line of flat values (strings, numbers, booleans, null; nothing to
 * redact) logged on every request: the line logger.info(fields, msg) would write. A JSON logger of
 * createLogger's keeps it in its LineBatch until this turn of the event loop is over; any other logger
 * (pretty, a test's) logs it through pino at once.
 */
export function infoLine(logger: Logger, fields: Record<string, unknown>, msg: string): void {
  const batch = batches.get(logger)
  if (batch === undefined || !logger.isLevelEnabled('info')) logger.info(fields, msg)
  else batch.add(fields, msg)
}

/**
 * A file descriptor or path written asynchronously in chunks of `bytes` (the access log costs a write
 * per request otherwise), and at least every `flushEveryMs`, so a quiet proxy's lines are not held back.
 * Before exiting, a program waits for flushed(): an exit would drop a write still in flight.
 */
export function bufferedDestination(
  dest: number | string,
  { bytes, flushEveryMs }: { bytes: number; flushEveryMs: number },
): ReturnType<typeof pino.destination> {
  // sonic-boom's buffer mode, each line encoded once as it comes: its string mode measures the whole
  // pending text again for every line (Buffer.byteLength of a growing string), ~1.5 µs a line at 4 KiB.
  const stream = pino.destination({
    dest,
    sync: false,
    minLength: bytes,
    maxWrite: Math.max(16_384, 2 * bytes),
    contentMode: 'buffer',
    // sonic-boom's own timer (unref'd), stopped before the file closes: one of ours could fire while it
    // closes and throw "SonicBoom destroyed".
    periodicFlush: flushEveryMs,
  })
  const writeBytes = stream.write.bind(stream) as unknown as (bytes: Buffer) => boolean
  stream.write = (line: string) => writeBytes(Buffer.from(line))
  return stream
}

/** Resolves once every line logged so far has been written, or after `withinMs` if the reader is stuck. */
export function flushed(logger: Logger, withinMs = 1000): Promise<void> {
  batches.get(logger)?.flush()
  return new Promise((resolve) => {
    const giveUp = setTimeout(resolve, withinMs)
    logger.flush(() => {
      clearTimeout(giveUp)
      resolve()
    })
  })
}
