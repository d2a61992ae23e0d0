// ACME_STORE as a folder: each key a file under it. A write goes to a temporary file in the same folder and
// is renamed over the old one, so a reader (another process on the same volume) sees the old text or the
// new; a lock is a file made with O_EXCL holding its owner and lease, taken over only once the lease ran
// out. Files holding keys are readable by their owner only.
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { AcmeStore } from './store.js'

interface Lease {
  owner: string
  until: number
}

export class FolderStore implements AcmeStore {
  constructor(
    private readonly root: string,
    private readonly now: () => number = Date.now,
  ) {}

  async read(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
  }

  async write(key: string, text: string): Promise<void> {
    const path = this.path(key)
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`
    await writeFile(temporary, text, { mode: 0o600 })
    await rename(temporary, path)
  }

  async remove(key: string): Promise<void> {
    await rm(this.path(key), { force: true })
  }

  async lock(key: string, owner: string, leaseMs: number): Promise<boolean> {
    const path = this.path(key)
    const lease = JSON.stringify({ owner, until: this.now() + leaseMs } satisfies Lease)
    const held = await this.lease(key)
    if (held?.owner === owner || (held !== undefined && held.until < this.now())) {
      // Ours to renew, or its holder's lease ran out: the lock is written over (atomically).
      await this.write(key, lease)
      return (await this.lease(key))?.owner === owner
    }
    if (held !== undefined) return false
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    try {
      const file = await open(path, 'wx', 0o600)
      await file.writeFile(lease)
      await file.close()
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw error
    }
  }

  async unlock(key: string, owner: string): Promise<void> {
    if ((await this.lease(key))?.owner === owner) await this.remove(key)
  }

  open(): void {
    // A folder needs nothing opened.
  }

  close(): void {
    // A folder holds nothing open.
  }

  private async lease(key: string): Promise<Lease | undefined> {
    const text = await this.read(key)
    if (text === undefined) return undefined
    try {
      return JSON.parse(text) as Lease
    } catch {
      // A lock file cut short (its writer died mid-write): its lease is over.
      return { owner: '', until: 0 }
    }
  }

  private path(key: string): string {
    return join(this.root, key)
  }
}
