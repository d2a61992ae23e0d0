// What /proc says about a process and its descendants (nginx's workers, colorproxy's cluster workers):
// who they are, and the CPU time they have used.
import { readFileSync } from 'node:fs'

/** A /proc file's text; undefined once its process is gone. */
function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** The process and all its descendants; empty when it is gone. */
export function processTree(pid: number): number[] {
  const listed = read(`/proc/${pid}/task/${pid}/children`)
  if (listed === undefined) return []
  const children = listed.trim().split(/\s+/).filter(Boolean).map(Number)
  return [pid, ...children.flatMap(processTree)]
}

/** CPU seconds (user and system) the process and its descendants have used so far. */
export function cpuSeconds(pid: number): number {
  let ticks = 0
  for (const member of processTree(pid)) {
    // Fields after the command's `(name)`: utime and stime are the 12th and 13th. A member gone since
    // the listing counts nothing.
    const stat = read(`/proc/${member}/stat`) ?? ''
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0)
  }
  // USER_HZ is 100 on Linux.
  return ticks / 100
}
