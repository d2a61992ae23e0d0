// The bench's processes: started pinned to cores with taskset, ready once a URL answers, measured by RSS,
// and stopped.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { get } from 'node:http'
import { createServer } from 'node:net'
import { processTree } from './proc.js'

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0
}

/** A port nobody listens on right now (the OS picks it; the bench starts its servers right after). */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export interface Pinned {
  child: ChildProcess
  stop(): Promise<void>
}

/**
 * Starts `command args` on the given cores (taskset -c). Its stdout is a pipe that is read and thrown away,
 * as a container's log reader would (a write to /dev/null would cost a log line nothing); stderr is kept
 * for when it fails to start.
 */
export function startPinned(
  cores: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Pinned {
  const child = spawn('taskset', ['-c', cores, command, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.resume()
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`bench: ${command} exited (${code ?? signal}): ${stderr}\n`)
  })
  let stopping = false
  return {
    child,
    async stop() {
      stopping = true
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** Resolves once `url` answers 200; rejects after `withinMs`. */
export async function waitFor200(url: string, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      get(url, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      }).on('error', () => resolve(0))
    })
    if (status === 200) return
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${withinMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Resident memory in MB, 0 once the process is gone. */
export function rssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return Number(kb ?? 0) / 1024
  } catch {
    return 0
  }
}

/**
 * Samples the largest RSS of any one process in the tree (taskset execs into the program, so the
 * spawned pid is the program itself) every 250 ms until stopped.
 */
export function sampleRss(pid: number): () => number {
  let peak = 0
  const sample = () => {
    for (const member of processTree(pid)) peak = Math.max(peak, rssMb(member))
  }
  sample()
  const timer = setInterval(sample, 250)
  return () => {
    clearInterval(timer)
    sample()
    return peak
  }
}
