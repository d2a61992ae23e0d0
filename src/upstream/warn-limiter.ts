// At most one warning per key per interval, so a broken upstream cannot flood the log; the next one says
// how many were left out.

/**
 * Returns a function that answers, for a key, undefined while the key was said within `intervalMs`, else
 * how many times it was left out since it was last said.
 */
export function createWarnLimiter(
  intervalMs: number,
  now: () => number,
): (key: string) => number | undefined {
  const said = new Map<string, { at: number; suppressed: number }>()
  return (key) => {
    const last = said.get(key)
    const at = now()
    if (last !== undefined && at - last.at < intervalMs) {
      last.suppressed++
      return undefined
    }
    said.set(key, { at, suppressed: 0 })
    return last?.suppressed ?? 0
  }
}
