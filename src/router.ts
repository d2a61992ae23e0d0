// pick(request) -> the color that serves it. For now a weighted choice; override and sticky come later and
// slot in before it. Randomness is injected so tests pin it.
import type { IncomingMessage } from 'node:http'
import weighted from 'weighted'

export interface Weighted {
  name: string
  weight: number
}

export interface Router<T extends Weighted> {
  pick(req: IncomingMessage): T | undefined
}

/** Colors with weight 0 are never picked; with no weight above 0 every pick is undefined (→ 503). */
export function createRouter<T extends Weighted>(
  colors: readonly T[],
  rand: () => number = Math.random,
): Router<T> {
  const active = colors.filter((color) => color.weight > 0)
  const weights = active.map((color) => color.weight)
  // Validated once here, so each pick is one random number and a short scan.
  const options = { rand, total: weights.reduce((sum, weight) => sum + weight, 0) }
  if (active.length === 0) return { pick: () => undefined }
  if (active.length === 1) {
    const only = active[0]
    return { pick: () => only }
  }
  return { pick: () => weighted.select(active, weights, options) }
}

/** Each color's share of new traffic in percent, rounded to one decimal. */
export function shares(colors: readonly Weighted[]): Map<string, number> {
  const total = colors.reduce((sum, color) => sum + color.weight, 0)
  return new Map(
    colors.map((color) => [color.name, total === 0 ? 0 : Math.round((color.weight / total) * 1000) / 10]),
  )
}
