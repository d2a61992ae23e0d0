// Shares and the weighted pick. A pick is one random number and a short scan (the `weighted` package),
// among the colors that take new traffic: a weight above 0 and not ejected. That set is rebuilt only when
// an ejection starts or ends.
import weighted from 'weighted'
import type { Ejection } from './ejection.js'

export interface Weighted {
  name: string
  weight: number
}

export interface Picker<T extends Weighted> {
  /** A weighted pick among the colors that take new traffic, optionally leaving one out (failover). */
  pick(except?: string): T | undefined
  /** The colors that take new traffic now. */
  active(): readonly T[]
}

export function createPicker<T extends Weighted>(
  colors: readonly T[],
  rand: () => number,
  ejection?: Pick<Ejection, 'available' | 'refresh'>,
): Picker<T> {
  let version = Number.NaN
  let active: T[] = []
  let choose: () => T | undefined = chooser(active, rand)
  const current = (): T[] => {
    const now = ejection?.refresh() ?? 0
    if (now !== version) {
      version = now
      active = colors.filter((color) => color.weight > 0 && (ejection?.available(color.name) ?? true))
      choose = chooser(active, rand)
    }
    return active
  }
  return {
    active: current,
    pick(except) {
      current()
      if (except === undefined) return choose()
      return chooser(
        active.filter((color) => color.name !== except),
        rand,
      )()
    },
  }
}

/** One random number and a short scan per pick; a single color needs neither. */
function chooser<T extends Weighted>(active: readonly T[], rand: () => number): () => T | undefined {
  if (active.length <= 1) {
    const only = active[0]
    return () => only
  }
  const weights = active.map((color) => color.weight)
  // Validated once here rather than on every pick.
  const settings = { rand, total: weights.reduce((sum, weight) => sum + weight, 0) }
  return () => weighted.select(active, weights, settings)
}

/** Each color's share of new traffic in percent, rounded to one decimal. */
export function shares(colors: readonly Weighted[]): Map<string, number> {
  const total = colors.reduce((sum, color) => sum + color.weight, 0)
  return new Map(
    colors.map((color) => [color.name, total === 0 ? 0 : Math.round((color.weight / total) * 1000) / 10]),
  )
}
