// ACME=true running: every TLS_RELOAD_EVERY each name is looked at in turn. A certificate in the store that
// this process does not serve yet (its own from an earlier run, or one another replica ordered) is served
// from the next connection on; a name with none, or one due for renewal, is ordered by whoever takes its
// lock in the store, the others serving the result once it is there. A failed order is logged with the
// CA's reason and waits (renewal.ts); the other names go on, and nothing here ends the process.
import { X509Certificate } from 'node:crypto'
import type { Logger } from '../../lib/logger.js'
import type { AcmeConfig } from '../config/load.js'
import { type Certificate, readCertificate } from '../config/certificates.js'
import { isDue, retryAfter, spoken } from './renewal.js'
import { KEYS, type AcmeStore } from './store.js'

export interface ManagerParts {
  store: AcmeStore
  issuer: { order(name: string): Promise<Certificate> }
  logger: Logger
  /** This process's name on the store's locks. */
  owner: string
  now: () => number
  /** How often the store is looked at (TLS_RELOAD_EVERY). */
  everyMs: number
  /** The certificates ACME gives, each time they change. */
  serve(certificates: Certificate[]): void
}

/** An order takes seconds; a lock held longer than this belonged to a process that died. */
const LEASE_MS = 10 * 60_000

export class CertificateManager {
  private readonly served = new Map<string, Certificate>()
  private readonly failed = new Map<string, { count: number; retryAt: number }>()
  private readonly storeFailing = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private closed = false

  constructor(
    private readonly config: AcmeConfig,
    private readonly parts: ManagerParts,
  ) {}

  /** The first look now, then one every `everyMs`; resolves when the first is done. */
  start(): Promise<void> {
    const first = this.pass()
    this.timer = setInterval(() => void this.pass(), this.parts.everyMs)
    this.timer.unref()
    return first
  }

  close(): void {
    this.closed = true
    clearInterval(this.timer)
  }

  /** What ACME serves now, by name. */
  certificates(): Certificate[] {
    return [...this.served.values()]
  }

  /** One look at every name, in order; a look still running is not started twice. */
  pass(): Promise<void> {
    this.running ??= (async () => {
      for (const name of this.config.names) {
        if (this.closed) break
        await this.look(name)
      }
    })().finally(() => (this.running = undefined))
    return this.running
  }

  private async look(name: string): Promise<void> {
    const { logger, now } = this.parts
    try {
      const stored = (await this.stored(name)) ?? (await this.restored(name))
      this.storeFailing.delete(name)
      if (stored && stored.cert !== this.served.get(name)?.cert)
        this.use(name, stored, 'loaded from the store')
      if (stored && !this.due(stored)) return
      const failure = this.failed.get(name)
      if (failure && failure.retryAt > now()) return
      await this.orderLocked(name, stored)
    } catch (error) {
      // The store itself failed (a disk error, Redis down): what is served stays; the next look tries
      // again. Said once until a look gets through.
      if (this.storeFailing.has(name)) return
      this.storeFailing.add(name)
      logger.warn({ name, err: { message: (error as Error).message } }, `ACME: ${name}: the store failed`)
    }
  }

  /**
   * Orders `name` under its lock, unless another replica put a certificate in the store between this look's
   * read and the lock (it ordered and let go meanwhile): that one is served instead of a second order.
   */
  private async orderLocked(name: string, stored: Certificate | undefined): Promise<void> {
    await this.underLock(name, async () => {
      const now = await this.stored(name)
      if (now && now.cert !== stored?.cert && !this.due(now))
        return this.use(name, now, 'loaded from the store')
      await this.order(name, stored !== undefined || this.served.has(name))
    })
  }

  /**
   * A store that lost a certificate this process serves (a Redis restarted empty) gets it back rather than
   * a new order, so the CA's limits are not spent on a certificate that exists.
   */
  private async restored(name: string): Promise<Certificate | undefined> {
    const served = this.served.get(name)
    if (!served || this.due(served)) return undefined
    const { store, logger } = this.parts
    await this.underLock(name, async () => {
      if ((await store.read(KEYS.certificate(name))) !== undefined) return
      await store.write(KEYS.certificate(name), `${served.key}${served.cert}`)
      logger.info({ name }, `ACME: ${name}: the store had lost the certificate; it has it again`)
    })
    return served
  }

  /** Runs `work` holding `name`'s lock in the store; nothing when another process holds it. */
  private async underLock(name: string, work: () => Promise<void>): Promise<void> {
    const { store, owner } = this.parts
    if (!(await store.lock(KEYS.lock(name), owner, LEASE_MS))) return
    try {
      await work()
    } finally {
      await store.unlock(KEYS.lock(name), owner)
    }
  }

  /** Less than ACME_RENEW_BEFORE left: time to renew. */
  private due(certificate: Certificate): boolean {
    return isDue(certificate.notAfter, this.parts.now(), this.config.renewBeforeMs)
  }

  private async order(name: string, renewal: boolean): Promise<void> {
    const { logger, now } = this.parts
    logger.info({ name }, `ACME: ${name}: ${renewal ? 'renewing' : 'ordering'} a certificate`)
    let certificate: Certificate
    try {
      certificate = await this.parts.issuer.order(name)
    } catch (error) {
      const count = (this.failed.get(name)?.count ?? 0) + 1
      const wait = retryAfter(count)
      this.failed.set(name, { count, retryAt: now() + wait })
      const reason = (error as Error).message
      logger.warn(
        { name, failures: count, reason },
        `ACME: ${name}: the order failed: ${reason}; next try in ${spoken(wait)}`,
      )
      return
    }
    this.failed.delete(name)
    const pem = `${certificate.key}${certificate.cert}`
    await this.parts.store.write(KEYS.certificate(name), pem)
    // Served as the store holds it, so the next look finds nothing new.
    this.use(name, readCertificate(`acme:${name}`, pem), renewal ? 'renewed' : 'issued')
  }

  /** The store's certificate for a name, if it holds a readable one. */
  private async stored(name: string): Promise<Certificate | undefined> {
    const pem = await this.parts.store.read(KEYS.certificate(name))
    if (pem === undefined) return undefined
    try {
      return readCertificate(`acme:${name}`, pem)
    } catch (error) {
      this.parts.logger.warn(
        { name },
        `ACME: ${name}: the stored certificate does not read (${(error as Error).message}); ordering a new one`,
      )
      return undefined
    }
  }

  private use(name: string, certificate: Certificate, how: string): void {
    this.served.set(name, certificate)
    const { serialNumber, issuer } = new X509Certificate(certificate.cert)
    this.parts.logger.info(
      { name, serial: serialNumber, not_after: certificate.notAfter.toISOString(), issuer },
      `ACME: ${name}: certificate ${how}, valid until ${certificate.notAfter.toISOString()}`,
    )
    this.parts.serve(this.certificates())
  }
}
