#!/usr/bin/env node
// npm run demo: two myapp backends (blue, and green in V2 mode) on free ports, colorproxy on PORT (8080)
// with BLUE_WEIGHT=4 GREEN_WEIGHT=1, their logs in one readable stream. Ctrl-C stops all three.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const dist = join(dirname(fileURLToPath(import.meta.url)), '..')
const children: ChildProcess[] = []
let stopping = false

/** Starts `node <script>` and prints its JSON log lines as `name | message key=value ...`. */
function run(
  name: string,
  script: string,
  env: Record<string, string>,
): { child: ChildProcess; listening: Promise<Record<string, unknown>> } {
  const child = spawn(process.execPath, [join(dist, script)], {
    env: { ...process.env, LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    // A process group of its own: a terminal's SIGHUP or Ctrl-C reaches the demo, which stops each child
    // gracefully, instead of killing them mid-request.
    detached: true,
  })
  children.push(child)
  const listening = new Promise<Record<string, unknown>>((resolve) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      let line: Record<string, unknown>
      try {
        line = JSON.parse(text)
      } catch {
        console.log(`${name.padEnd(6)}| ${text}`)
        return
      }
      if (line.msg === 'listening') resolve(line)
      const { level: _level, time: _time, msg, ...fields } = line
      const details = Object.entries(fields).map(
        ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
      )
      console.log(`${name.padEnd(6)}| ${msg} ${details.join(' ')}`)
    })
  })
  child.once('exit', (code, signal) => {
    if (!stopping) {
      console.error(`demo: ${name} exited (${signal ?? code}); stopping the others`)
      stop(code || 1)
    }
  })
  return { child, listening }
}

async function stop(code: number): Promise<void> {
  stopping = true
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null)
  for (const child of running) child.kill('SIGINT')
  await Promise.all(running.map((child) => once(child, 'exit')))
  process.exit(code)
}

// Ctrl-C in a terminal reaches every process in the group; SIGTERM (from a supervisor, or npm passing on
// its own) and SIGHUP (a closed terminal) reach only us: each stops all three.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(0))

const blue = run('blue', 'myapp/main.js', { PORT: '0', HOSTNAME: 'myapp-v1', V2: '' })
const green = run('green', 'myapp/main.js', { PORT: '0', HOSTNAME: 'myapp-v2', V2: '1' })
const [bluePort, greenPort] = [(await blue.listening).port, (await green.listening).port]
const proxy = run('proxy', 'src/main.js', {
  PORT: process.env.PORT ?? '8080',
  BLUE: `http://127.0.0.1:${bluePort}`,
  GREEN: `http://127.0.0.1:${greenPort}/`,
  BLUE_WEIGHT: '4',
  GREEN_WEIGHT: '1',
})
const ready = await proxy.listening
const url = `http://localhost:${ready.port}`
console.log(`
colorproxy is splitting traffic 4:1 between blue (plain text) and green (HTML). Try:

  curl ${url}/
  for i in $(seq 100); do curl -s ${url}/; done | sort | uniq -c
  curl http://localhost:${ready.admin_port}/config

Ctrl-C stops all three.
`)
