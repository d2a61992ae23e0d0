// The README's shell sessions, pasted into bash as a reader would, and compared with what the README says
// they print.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { cleanEnv } from './programs.js'
import { root } from './paths.js'

export interface Block {
  /** Where the block's text starts and ends in the README (after the ```console line, before ```). */
  start: number
  end: number
  steps: { command: string; expected: string[] }[]
}

/** The ```console blocks under the given `## ` headings of a page, in the page's order. */
export function consoleBlocks(readme: string, headings: readonly string[]): Block[] {
  const blocks: Block[] = []
  for (const heading of headings) {
    const from = readme.indexOf(`\n## ${heading}\n`)
    if (from < 0) throw new Error(`the page has no section "${heading}"`)
    const to = readme.indexOf('\n## ', from + 1)
    const section = readme.slice(from, to < 0 ? undefined : to)
    for (const match of section.matchAll(/```console\n([^]*?)```/g)) {
      const start = from + (match.index as number) + '```console\n'.length
      const steps: Block['steps'] = []
      for (const line of (match[1] as string).replace(/\n$/, '').split('\n')) {
        if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] })
        else steps.at(-1)?.expected.push(line)
      }
      blocks.push({ start, end: start + (match[1] as string).length, steps })
    }
  }
  return blocks
}

const SEPARATOR = String.fromCharCode(0x1e)

/** Runs every command in one bash, in order; resolves each command's output lines (stdout and stderr). */
export async function replay(
  commands: readonly string[],
  env: Record<string, string>,
  teardown: (fn: () => void) => void,
): Promise<{ outputs: string[][]; leftRunning: boolean }> {
  // Before each command, a line no program prints: the record separator, the command's index, again.
  const script = [
    'exec 2>&1',
    ...commands.flatMap((command, i) => [`printf '\\x1e%d\\x1e\\n' ${i}`, command]),
  ]
  const bash = spawn('bash', ['-c', script.join('\n')], {
    cwd: root,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  })
  // Whatever is left running when the test ends (a failed step) is stopped with its shell.
  teardown(() => {
    try {
      process.kill(-(bash.pid as number), 'SIGKILL')
    } catch {
      // Already gone: nothing left to stop.
    }
  })
  let text = ''
  bash.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk
  })
  const closed = once(bash, 'close')
  await once(bash, 'exit')
  // The shell is its own process group, and what it started in the background stays in it: anything still
  // in the group once the shell has exited is something the page left running. It is stopped, so its hold
  // on the output pipe cannot keep the replay waiting.
  const leftRunning = alive(-(bash.pid as number))
  if (leftRunning) process.kill(-(bash.pid as number), 'SIGKILL')
  await closed
  const outputs: string[][] = commands.map(() => [])
  // ['', '0', output of 0, '1', output of 1, ...]
  const parts = text.split(new RegExp(`${SEPARATOR}(\\d+)${SEPARATOR}\n`))
  for (let i = 1; i < parts.length; i += 2) {
    const output = (parts[i + 1] as string).replace(/\n$/, '')
    outputs[Number(parts[i])] = output === '' ? [] : output.split('\n')
  }
  return { outputs, leftRunning }
}

function alive(group: number): boolean {
  try {
    process.kill(group, 0)
    return true
  } catch {
    return false
  }
}

/**
 * An expected line as a pattern: a number (counts and rates that vary by chance, timestamps) matches any
 * number, whole or with a fraction (`18.9%` and `25%` alike), `...` matches anything, trailing blanks are
 * ignored; the rest is literal.
 */
export function linePattern(expected: string): RegExp {
  const parts = expected
    .trimEnd()
    .split(/(\.\.\.|\d+(?:\.\d+)?)/)
    .map((part) =>
      part === '...'
        ? '.*'
        : /^\d/.test(part)
          ? '\\d+(?:\\.\\d+)?'
          : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
  return new RegExp(`^${parts.join('')}$`)
}
