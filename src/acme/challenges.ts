// The answers a CA's validation asks for, kept in the store so that whichever replica it reaches can give
// them (the Swarm mesh may send it to any task): HTTP-01's key authorization by token, TLS-ALPN-01's
// self-signed certificate by name (RFC 8737). Answers this process wrote are also kept in memory. Each
// answer given is a log line saying whether it came from the store (another replica's order).
import { createSecureContext, type SecureContext } from 'node:tls'
import type { Logger } from '../../lib/logger.js'
import { isToken, KEYS, type AcmeStore } from './store.js'

export class ChallengeAnswers {
  private readonly http = new Map<string, string>()
  private readonly alpn = new Map<string, SecureContext>()

  constructor(
    private readonly store: AcmeStore,
    private readonly logger: Logger,
  ) {}

  async putHttp(token: string, keyAuthorization: string): Promise<void> {
    if (!isToken(token)) throw new Error('the CA sent a token that is not base64url')
    this.http.set(token, keyAuthorization)
    await this.store.write(KEYS.httpAnswer(token), keyAuthorization)
  }

  async removeHttp(token: string): Promise<void> {
    this.http.delete(token)
    if (isToken(token)) await this.store.remove(KEYS.httpAnswer(token))
  }

  /** `GET /.well-known/acme-challenge/<token>`: the key authorization, or undefined (404). */
  async httpAnswer(token: string): Promise<string | undefined> {
    if (!isToken(token)) return undefined
    const kept = this.http.get(token)
    const answer = kept ?? (await this.store.read(KEYS.httpAnswer(token)))
    if (answer !== undefined) this.answered('HTTP-01', { token }, kept === undefined)
    return answer
  }

  async putAlpn(name: string, pem: string): Promise<void> {
    this.alpn.set(name, contextOf(pem))
    await this.store.write(KEYS.alpnAnswer(name), pem)
  }

  async removeAlpn(name: string): Promise<void> {
    this.alpn.delete(name)
    await this.store.remove(KEYS.alpnAnswer(name))
  }

  /** An `acme-tls/1` handshake for `name`: the challenge's certificate, or undefined (no challenge now). */
  async alpnAnswer(name: string): Promise<SecureContext | undefined> {
    const kept = this.alpn.get(name)
    if (kept) {
      this.answered('TLS-ALPN-01', { name }, false)
      return kept
    }
    const pem = await this.store.read(KEYS.alpnAnswer(name))
    if (pem === undefined) return undefined
    this.answered('TLS-ALPN-01', { name }, true)
    return contextOf(pem)
  }

  private answered(challenge: string, about: { name?: string; token?: string }, stored: boolean): void {
    const what = about.name ?? `token ${about.token}`
    const from = stored ? 'from the store' : 'for its own order'
    this.logger.info(
      { ...about, challenge },
      `ACME: answered the CA's ${challenge} validation of ${what} ${from}`,
    )
  }
}

/** A PEM holding a certificate and its key, as one context. */
function contextOf(pem: string): SecureContext {
  return createSecureContext({ cert: pem, key: pem })
}
