// Values both colorproxy and myapp read from the environment: durations, ports and log levels. Each parser takes the
// raw string and returns the value or throws an Error whose message says what is expected, never the value.

/** Largest timer Node accepts (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** `5` (seconds), `500ms`, `10s`, `2m`, `1h` → milliseconds. */
export function parseDuration(raw: string, { min = 0 }: { min?: number } = {}): number {
  const match = DURATION.exec(raw.trim())
  const ms = match ? Number(match[1]) * UNIT_MS[(match[2] ?? 's') as keyof typeof UNIT_MS] : Number.NaN
  if (!(ms >= min && ms <= MAX_TIMER_MS)) {
    const floor = min > 0 ? 'above 0' : '0 or more'
    throw new Error(`must be a duration ${floor} such as 5 (seconds), 500ms, 10s or 2m, at most 596h`)
  }
  return Math.round(ms)
}

/** A TCP port; 0 asks the system for a free one (useful in tests). */
export function parsePort(raw: string): number {
  if (!/^\d{1,5}$/.test(raw.trim()) || Number(raw) > 65535) {
    throw new Error('must be a port number from 0 to 65535')
  }
  return Number(raw)
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]
