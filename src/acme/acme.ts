// ACME=true, put together: the store (ACME_STORE's folder or Redis), the challenge answers the listeners give, the
// issuer and the manager that keeps every name's certificate served. Nothing starts until start().
import { randomUUID } from 'node:crypto'
import type { Logger } from '../../lib/logger.js'
import type { AcmeConfig } from '../config/load.js'
import type { Certificate } from '../config/certificates.js'
import { ChallengeAnswers } from './challenges.js'
import { FolderStore } from './folder-store.js'
import { RedisStore } from './redis-store.js'
import type { Issuer } from './issuer.js'
import { CertificateManager } from './manager.js'

export interface Acme {
  /** HTTP-01: the key authorization for a token (for the plain port); undefined with TLS-ALPN-01. */
  httpChallenge: ChallengeAnswers['httpAnswer'] | undefined
  /** TLS-ALPN-01: the challenge's certificate for a name (for the TLS port); undefined with HTTP-01. */
  alpnChallenge: ChallengeAnswers['alpnAnswer'] | undefined
  /** Starts looking at every name now and every `everyMs`, serving what it gets through `serve`. */
  start(serve: (certificates: Certificate[]) => void): void
  close(): void
}

export function createAcme(
  config: AcmeConfig,
  parts: { logger: Logger; everyMs: number; now?: () => number },
): Acme {
  const store =
    config.store.kind === 'folder'
      ? new FolderStore(config.store.path)
      : new RedisStore(config.store.redis, parts.logger, config.storePrefix)
  const answers = new ChallengeAnswers(store, parts.logger)
  // acme-client (and axios, node-forge, @peculiar/x509 with it: 28 MB of memory) loads with the first order,
  // never in a process without ACME=true.
  let loaded: Promise<Issuer> | undefined
  const issuer = {
    async order(name: string) {
      loaded ??= import('./issuer.js').then(
        ({ Issuer }) => new Issuer(config, { store, answers, logger: parts.logger }),
      )
      return (await loaded).order(name)
    },
  }
  let manager: CertificateManager | undefined
  return {
    httpChallenge: config.challenge === 'http-01' ? (token) => answers.httpAnswer(token) : undefined,
    alpnChallenge: config.challenge === 'tls-alpn-01' ? (name) => answers.alpnAnswer(name) : undefined,
    start(serve) {
      store.open()
      manager = new CertificateManager(config, {
        store,
        issuer,
        logger: parts.logger,
        owner: randomUUID(),
        now: parts.now ?? Date.now,
        everyMs: parts.everyMs,
        serve,
      })
      void manager.start()
    },
    close() {
      manager?.close()
      store.close()
    },
  }
}
