// When a name is ordered again: its certificate is due once less than ACME_RENEW_BEFORE is left of it, and
// a name whose order failed waits before the next try, 5 minutes doubling up to a day, so a name the CA
// refuses stays well under Let's Encrypt's limit of 5 failed validations per name per hour.

export const FIRST_RETRY_MS = 5 * 60_000
export const LAST_RETRY_MS = 24 * 3_600_000

export const isDue = (notAfter: Date, now: number, renewBeforeMs: number): boolean =>
  notAfter.getTime() - now < renewBeforeMs

/** The wait after `failures` failed orders in a row (1: the first failure). */
export const retryAfter = (failures: number): number =>
  Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1))

/** `5m`, `2h`, `1d`: a wait as the log says it. */
export function spoken(ms: number): string {
  if (ms >= 86_400_000 && ms % 86_400_000 === 0) return `${ms / 86_400_000}d`
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`
  return `${Math.round(ms / 1000)}s`
}
