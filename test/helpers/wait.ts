// Waiting on events, never on time.
import { once } from 'node:events'

/** Resolves when `predicate` holds, checking after each event of `emitter`. */
export async function until(
  check: () => boolean,
  emitter: NodeJS.EventEmitter,
  event: string,
): Promise<void> {
  while (!check()) await once(emitter, event)
}
