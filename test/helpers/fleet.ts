// Several colorproxy replicas as real processes, the traffic that drives them, and what they said.
import http from 'node:http'
import { get } from './clients.js'
import { startProxy, type Program } from './programs.js'
import { recordingUpstream, type Teardown } from './upstreams.js'

export interface Replica {
  url: string
  admin: string
  program: Program
}

/** Blue and green upstreams; green answers 500 to every `failEvery`-th request (0: never). */
export async function colors(t: Teardown, failEvery = 0) {
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue\n'))
  let n = 0
  const green = await recordingUpstream(t, (_req, res) => {
    res.statusCode = failEvery > 0 && n++ % failEvery === 0 ? 500 : 200
    res.end('green\n')
  })
  return { BLUE: blue.url, GREEN: green.url }
}

export function replicas(t: Teardown, count: number, env: Record<string, string>): Promise<Replica[]> {
  return Promise.all(Array.from({ length: count }, () => startProxy(t, { LOG_LEVEL: 'info', ...env })))
}

/**
 * Requests to every replica in turn, `perSecond` a replica (0: as fast as answers come); each answer kept.
 */
export function drive(to: readonly Replica[], perSecond = 0) {
  const answers: { replica: number; status: number; color: string }[] = []
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  let stopped = false
  const skipped = new Set<number>()
  const loops = to.map(async (replica, index) => {
    let next = Date.now()
    while (!stopped && !skipped.has(index)) {
      const answer = await get(replica.url, { agent }).catch(() => ({ status: 0, body: '' }))
      answers.push({ replica: index, status: answer.status, color: answer.body.trim() })
      if (perSecond === 0) continue
      next += 1000 / perSecond
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())))
    }
  })
  return {
    answers,
    /** No more requests to this replica (about to be killed). */
    skip: (index: number) => skipped.add(index),
    /** Answers that were not a 200, from these replicas (all by default). */
    failed: (from?: number[]) =>
      answers.filter((answer) => answer.status !== 200 && (from?.includes(answer.replica) ?? true)).length,
    async stop() {
      stopped = true
      await Promise.all(loops)
      agent.destroy()
    },
  }
}

export const canaryLines = (program: Program) =>
  program.lines.filter((line) => /^canary green (up|promoted|aborted|holding)/.test(String(line.msg)))

export const said = (program: Program, pattern: RegExp) =>
  program.line((line) => pattern.test(String(line.msg)))

export async function json(url: string): Promise<Record<string, unknown>> {
  return JSON.parse((await get(url)).body)
}
