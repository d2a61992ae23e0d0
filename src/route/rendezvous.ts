// Weighted rendezvous hashing (highest random weight): a key's color depends only on the key, the color
// names and their weights, so every replica agrees without shared state. Each color scores a key with
// weight / -ln(u), u a uniform hash of (color, key) in (0, 1); the highest score wins, so each color takes
// its weight's share of keys, and raising one color's weight only raises its own scores: keys move toward
// it, never away.
import { hash } from 'node:crypto'

const TWO_TO_48 = 2 ** 48

/** A uniform number in (0, 1) from the color and the key. */
export function unitHash(color: string, key: string): number {
  const digest = hash('sha1', `${color}\n${key}`, 'buffer')
  return (digest.readUIntBE(0, 6) + 0.5) / TWO_TO_48
}

/** The candidate with the highest score for this key; undefined when none has a weight above 0. */
export function rendezvous<T extends { name: string; weight: number }>(
  candidates: readonly T[],
  key: string,
): T | undefined {
  let best: T | undefined
  let bestScore = 0
  for (const candidate of candidates) {
    if (candidate.weight <= 0) continue
    const score = candidate.weight / -Math.log(unitHash(candidate.name, key))
    if (score > bestScore) {
      best = candidate
      bestScore = score
    }
  }
  return best
}
