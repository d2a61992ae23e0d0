// Real child processes of the built programs (dist/, built by `npm test` first). Source maps let tap's
// coverage count them against src/.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { FIXED_NAMES } from '../../src/config/spec.js'
import type { Teardown } from './upstreams.js'

import { MYAPP, PROXY } from './paths.js'

/** The parent's environment without anything colorproxy or myapp would read. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  // colorproxy's own names come from its spec table; colors' variables, _FILE twins, myapp's and the
  // rehearsal's by pattern.
  const fixed = new Set([...FIXED_NAMES, 'V2', 'HOSTNAME'])
  const patterns = /^(BLUE|GREEN|REHEARSE_).*|_(WEIGHT|FILE)$/
  for (const [key, value] of Object.entries(process.env)) {
    if (!fixed.has(key) && !patterns.test(key)) env[key] = value
  }
  return { ...env, ...extra }
}

export interface Program {
  child: ChildProcess
  /** Parsed JSON lines from stdout so far (all of them once `exit` has resolved). */
  lines: Record<string, unknown>[]
  stderr: () => string
  /** The first stdout JSON line (so far or to come) that matches. */
  line(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `node <script>` in an empty directory (no stray .env) and kills it when the test ends. */
export function start(
  t: Teardown,
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): Program {
  const cwd = mkdtempSync(join(tmpdir(), 'colorproxy-'))
  const child = spawn(process.execPath, ['--enable-source-maps', script, ...args], {
    cwd,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Record<string, unknown>[] = []
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  reader.on('line', (text) => {
    try {
      lines.push(JSON.parse(text))
    } catch {
      lines.push({ text })
    }
  })
  // 'close', not 'exit': a child's last output may still be in the pipe when it exits, and a test reads
  // lines and stderr as soon as this resolves.
  const exit = once(child, 'close').then(([code, signal]) => ({ code, signal })) as Program['exit']
  // Stop with SIGINT and wait, so the program exits cleanly and its coverage is written; SIGKILL only if
  // it hangs.
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
      child.kill('SIGINT')
      await exit
      clearTimeout(kill)
    }
    rmSync(cwd, { recursive: true, force: true })
  })
  return {
    child,
    lines,
    stderr: () => stderr,
    exit,
    async line(match) {
      for (;;) {
        const found = lines.find(match)
        if (found) return found
        const [event] = await Promise.race([
          once(reader, 'line').then(() => ['line']),
          exit.then(() => ['exit']),
        ])
        if (event === 'exit' && !lines.some(match)) {
          throw new Error(`${script} exited before the expected line; stderr: ${stderr}`)
        }
      }
    },
  }
}

/** Starts myapp on a free port and resolves its URL. */
export async function startMyapp(
  t: Teardown,
  env: Record<string, string> = {},
): Promise<{ url: string; program: Program }> {
  const program = start(t, MYAPP, { PORT: '0', ...env })
  const { port } = await program.line((line) => line.msg === 'listening')
  return { url: `http://127.0.0.1:${port}`, program }
}

/** Starts colorproxy on free ports and resolves both URLs. */
export async function startProxy(
  t: Teardown,
  env: Record<string, string>,
): Promise<{ url: string; admin: string; program: Program }> {
  const program = start(t, PROXY, { PORT: '0', ADMIN_PORT: '0', ...env })
  const ready = await program.line((line) => line.msg === 'listening')
  return { url: `http://127.0.0.1:${ready.port}`, admin: `http://127.0.0.1:${ready.admin_port}`, program }
}
