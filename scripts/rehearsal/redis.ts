// The fleet's store for the rehearsal: Debian's redis-server on a free loopback port, persistence off,
// as the Redis a Swarm stack runs beside the proxy. Stopped when the scenario ends.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'

export interface RehearsalRedis {
  url: string
  port: number
  /** SIGKILL: as a crash (test/helpers/redis.ts stops one mid-run); SIGTERM by default. */
  stop(signal?: NodeJS.Signals): Promise<void>
}

/** On `port`, or on a free one. Resolves once it accepts connections; rejects if it exits first. */
export async function startRedis(port?: number): Promise<RehearsalRedis> {
  port ??= await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let said = ''
  child.stdout.setEncoding('utf8')
  const exited = once(child, 'exit')
  while (!said.includes('Ready to accept connections')) {
    const chunk = await Promise.race([once(child.stdout, 'data'), exited.then(() => undefined)])
    if (chunk === undefined) throw new Error(`redis-server exited: ${said.trim()}`)
    said += String(chunk[0])
  }
  child.stdout.resume()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(signal)
      await exited
    },
  }
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}
