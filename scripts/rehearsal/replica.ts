// One task of a service: a child process of colorproxy or myapp on free ports. Ready once it logs
// "listening" and (for the proxy) /readyz answers 200; stopped with the signal Swarm sends.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { get } from 'node:http'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** The package root (the nearest package.json up), whether this runs from scripts/ or dist/scripts/. */
function packageRoot(from: string): string {
  return existsSync(join(from, 'package.json')) ? from : packageRoot(dirname(from))
}
const root = packageRoot(dirname(fileURLToPath(import.meta.url)))
/** The built programs, as `npm install` leaves them. */
export const PROGRAMS = {
  colorproxy: join(root, 'dist/src/main.js'),
  myapp: join(root, 'dist/myapp/main.js'),
}
export type Program = keyof typeof PROGRAMS

export class ReplicaFailed extends Error {
  constructor(
    readonly id: string,
    readonly reason: string,
  ) {
    super(`${id} ${reason}`)
  }
}

export class Replica {
  port = 0
  /** The TLS listener's port (0: none). */
  httpsPort = 0
  /** The admin port (0: none, as for myapp). */
  adminPort = 0
  readonly exited: Promise<number | null>
  private readonly child: ChildProcess
  private stderr = ''

  private constructor(
    readonly id: string,
    program: Program,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [PROGRAMS[program]], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', ADMIN_PORT: '0', HTTPS_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
    })
    this.exited = once(this.child, 'exit').then(([code]) => code as number | null)
  }

  /** Starts a replica and resolves once it is ready; rejects if it exits first or is not ready in time. */
  static async start(
    id: string,
    program: Program,
    env: Record<string, string>,
    readyWithinMs: number,
    /** Told the canary's log lines (`canary green aborted at 5%: …`), for the timeline. */
    said?: (message: string) => void,
  ): Promise<Replica> {
    const replica = new Replica(id, program, env)
    const listening = new Promise<{ port: number; admin_port?: number; https_port?: number }>((resolve) => {
      createInterface({ input: replica.child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
        // Access log lines are many; only where it listens, and what its canary does, matter here.
        if (text.includes('"listening"')) resolve(JSON.parse(text))
        else if (said && text.includes('"msg":"canary ')) said(JSON.parse(text).msg)
      })
    })
    let timer: NodeJS.Timeout | undefined
    const failed = Promise.race([
      replica.exited.then((code) => {
        throw new ReplicaFailed(
          id,
          `exited ${code} before it was ready: ${replica.stderr.trim().split('\n').join(' | ')}`,
        )
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ReplicaFailed(id, `not ready within ${readyWithinMs} ms`)),
          readyWithinMs,
        )
      }),
    ])
    try {
      const line = await Promise.race([listening, failed])
      replica.port = line.port
      replica.httpsPort = line.https_port ?? 0
      replica.adminPort = line.admin_port ?? 0
      if (line.admin_port !== undefined) await Promise.race([readyz(line.admin_port), failed])
      return replica
    } catch (error) {
      replica.child.kill('SIGKILL')
      throw error
    } finally {
      clearTimeout(timer)
      failed.catch(() => {})
    }
  }

  /** The HEALTHCHECK: /healthz answers 200 (a replica with no admin port is healthy while it runs). */
  async healthy(): Promise<boolean> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return false
    if (this.adminPort === 0) return true
    try {
      const req = get(`http://127.0.0.1:${this.adminPort}/healthz`)
      const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage]
      res.resume()
      return res.statusCode === 200
    } catch {
      return false
    }
  }

  /** Sends the stop signal and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return this.exited
  }
}

async function readyz(adminPort: number): Promise<void> {
  const req = get(`http://127.0.0.1:${adminPort}/readyz`)
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage]
  res.resume()
  if (res.statusCode !== 200) throw new Error(`readyz answered ${res.statusCode}`)
}
