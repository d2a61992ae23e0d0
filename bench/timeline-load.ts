// The load of the timeline run (bench/timeline.ts), as its own process so the bench pins it to the load
// core: autocannon opens the connections in order (setupClient numbers them), drives them closed-loop for
// the given seconds, and every response's latency goes into the timeline. Prints the summary as JSON.
// Usage: node dist/bench/timeline-load.js <url> <connections> <seconds>
import { createRequire } from 'node:module'
import { Timeline } from './timeline.js'

interface Instance {
  on(
    event: 'response',
    listener: (client: object, status: number, bytes: number, latencyMs: number) => void,
  ): void
  on(event: 'done', listener: (result: { errors: number; timeouts: number; non2xx: number }) => void): void
}
type Autocannon = (options: {
  url: string
  connections: number
  duration: number
  setupClient: (client: object) => void
}) => Instance
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

const [url, connections, seconds] = process.argv.slice(2) as [string, string, string]
const count = Number(connections)
const timeline = new Timeline(count)
const numbers = new WeakMap<object, number>()
let opened = 0
const start = performance.now()
const instance = autocannon({
  url,
  connections: count,
  duration: Number(seconds),
  setupClient: (client: object) => numbers.set(client, opened++),
})
instance.on('response', (client, _status, _bytes, latencyMs) => {
  timeline.add(numbers.get(client) as number, performance.now() - start, latencyMs)
})
instance.on('done', (result) => {
  const errors = result.errors + result.timeouts + result.non2xx
  process.stdout.write(`${JSON.stringify({ ...timeline.summary(), errors })}\n`)
})
