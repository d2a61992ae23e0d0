// USERS: basic auth on proxied traffic. A bcrypt check costs tens of milliseconds of CPU, so checks run on
// one worker thread, never on the event loop; at most MAX_PENDING wait for it (more: 503, so a flood of
// guesses costs the worker, not the memory or the latency of anyone already signed in). A header that
// passed is remembered for REMEMBER_MS in an LRU keyed by its SHA-256, never by the password, so a signed-in
// client pays the check once; a header that failed is remembered for a shorter while, so repeating the same
// wrong one is cheap too.
import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { LRUCache } from 'lru-cache'

export type Verdict = { user: string } | { status: 401 | 503 }

export interface BasicAuth {
  /** A remembered header answers at once; any other waits for the worker. */
  check(authorization: string | undefined): Verdict | Promise<Verdict>
  close(): void
}

const REMEMBER_MS = 5 * 60_000
const REMEMBER_FAILED_MS = 60_000
const REMEMBERED = 10_000
export const MAX_PENDING = 64
/** Checked when the name is unknown, so an unknown name costs what a known one does. */
const DUMMY_HASH = '$2b$10$CwTycUXWue0Thq9StjUM0uJ8DUJ6M9JDoKuSJc1sGSF/ssjzN.N0u'

// The worker runs passwords.ts's checkPassword from the build: a worker thread does not inherit the
// TypeScript loader the tests run under, so from the source it takes dist/'s copy (npm test builds first).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
import(workerData.module).then(({ checkPassword }) => {
  parentPort.on('message', ({ id, hash, password }) => parentPort.postMessage({ id, ok: checkPassword(hash, password) }))
})
`

/** One site's users (USERS, `<SITE>_USERS`); every site's checks share one worker. */
export function createBasicAuth(
  users: ReadonlyMap<string, string>,
  checker: PasswordChecker = createPasswordChecker(),
): BasicAuth {
  const remembered = new LRUCache<string, string | false>({ max: REMEMBERED, ttl: REMEMBER_MS })
  return {
    check(authorization) {
      const credentials = authorization === undefined ? undefined : decode(authorization)
      if (credentials === undefined) return { status: 401 }
      const key = createHash('sha256')
        .update(authorization as string)
        .digest('base64')
      const known = remembered.get(key)
      if (known !== undefined) return known === false ? { status: 401 } : { user: known }
      const hash = users.get(credentials.user)
      const checked = checker.check(hash ?? DUMMY_HASH, credentials.password)
      if (checked === undefined) return { status: 503 }
      return checked.then(
        (ok): Verdict => {
          const user = ok && hash !== undefined ? credentials.user : false
          remembered.set(key, user, { ttl: user === false ? REMEMBER_FAILED_MS : REMEMBER_MS })
          return user === false ? { status: 401 } : { user }
        },
        (): Verdict => ({ status: 503 }),
      )
    },
    close: () => checker.close(),
  }
}

/** `Basic dXNlcjpwYXNz` → user and password (RFC 7617), undefined when it is not that. */
export function decode(authorization: string): { user: string; password: string } | undefined {
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization)
  if (!match) return undefined
  const text = Buffer.from(match[1] as string, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  return { user: text.slice(0, colon), password: text.slice(colon + 1) }
}

export interface PasswordChecker {
  /** Undefined when MAX_PENDING checks already wait. */
  check(hash: string, password: string): Promise<boolean> | undefined
  close(): void
}

/** One worker thread, started at the first check; undefined from check() when MAX_PENDING already wait. */
export function createPasswordChecker(module = new URL('./passwords.js', import.meta.url)): PasswordChecker {
  let worker: Worker | undefined
  let next = 0
  const pending = new Map<number, { resolve(ok: boolean): void; reject(error: Error): void }>()
  const start = () => {
    const started = new Worker(WORKER, { eval: true, workerData: { module: module.href } })
    started.unref()
    started.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
      pending.get(id)?.resolve(ok)
      pending.delete(id)
    })
    // A worker that dies fails what waits for it (503); the next check starts another.
    const fail = (error: Error) => {
      if (worker === started) worker = undefined
      for (const waiting of pending.values()) waiting.reject(error)
      pending.clear()
    }
    started.on('error', fail)
    started.on('exit', () => fail(new Error('the password worker stopped')))
    return started
  }
  return {
    check(hash: string, password: string): Promise<boolean> | undefined {
      if (pending.size >= MAX_PENDING) return undefined
      worker ??= start()
      const id = next++
      worker.postMessage({ id, hash, password })
      return new Promise<boolean>((resolve, reject) => pending.set(id, { resolve, reject }))
    },
    close() {
      void worker?.terminate()
      worker = undefined
    },
  }
}
