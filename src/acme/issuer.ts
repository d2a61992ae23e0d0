// One name's certificate from the ACME CA, through acme-client (RFC 8555: the account, the order, its
// authorization and challenge, the CSR, the finalization; the JWS and the CSR are the library's). The
// account key is made once and kept in the store; each certificate gets a fresh P-256 key. The challenge
// answers go to the store for whichever replica the CA's validation reaches.
import https from 'node:https'
import acme from 'acme-client'
import type { Logger } from '../../lib/logger.js'
import type { AcmeConfig } from '../config/load.js'
import { type Certificate, readCertificate } from '../config/certificates.js'
import type { ChallengeAnswers } from './challenges.js'
import { KEYS, type AcmeStore } from './store.js'

export interface IssuerParts {
  store: AcmeStore
  answers: ChallengeAnswers
  logger: Logger
}

export class Issuer {
  private client: Promise<acme.Client> | undefined

  constructor(
    private readonly config: AcmeConfig,
    private readonly parts: IssuerParts,
  ) {
    // acme-client's own axios instance: ACME_CA is trusted for the directory's HTTPS, nothing else.
    if (config.ca !== undefined) acme.axios.defaults.httpsAgent = new https.Agent({ ca: config.ca })
    // A request that fails fails the order at once: the manager's own wait (5 minutes, doubling) is the
    // retry, gentler on the CA than acme-client's five tries within 75 s, and no timer outlives a stop.
    ;(acme.axios.defaults as { acmeSettings?: { retryMaxAttempts: number } }).acmeSettings!.retryMaxAttempts =
      0
    acme.setLogger((message) => parts.logger.trace({ acme: message }, 'acme-client'))
  }

  /** Orders a certificate for `name`, answers its challenge, and returns it with its key (one PEM each). */
  async order(name: string): Promise<Certificate> {
    try {
      return await this.ordered(name)
    } catch (error) {
      // acme-client 5.4 loses a network error once its retries are spent (its interceptor reads the
      // missing response's `config`): what reaches here is a TypeError that says nothing of the CA.
      if (error instanceof TypeError && /reading 'config'/.test(error.message))
        throw new Error(`the CA's directory ${this.config.directory} could not be reached`, { cause: error })
      throw error
    }
  }

  private async ordered(name: string): Promise<Certificate> {
    const client = await this.account()
    const key = await acme.crypto.createPrivateEcdsaKey('P-256')
    const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, key)
    const { answers } = this.parts
    const chain = await client.auto({
      csr,
      email: this.config.email,
      termsOfServiceAgreed: true,
      challengePriority: [this.config.challenge],
      // The CA checks the answer itself; a check from here would need the name to resolve to us.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        if (challenge.type === 'http-01') return answers.putHttp(challenge.token, keyAuthorization)
        const alpnKey = await acme.crypto.createPrivateEcdsaKey('P-256')
        const [, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, alpnKey)
        return answers.putAlpn(name, `${alpnKey.toString()}${alpnCert.toString()}`)
      },
      challengeRemoveFn: async (_authz, challenge) => {
        if (challenge.type === 'http-01') return answers.removeHttp(challenge.token)
        return answers.removeAlpn(name)
      },
    })
    return readCertificate(`acme:${name}`, chain, key.toString())
  }

  /** The ACME client on the store's account key (made and kept the first time). */
  private account(): Promise<acme.Client> {
    this.client ??= (async () => {
      const { store } = this.parts
      let accountKey = await store.read(KEYS.account)
      if (accountKey === undefined) {
        accountKey = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString()
        await store.write(KEYS.account, accountKey)
      }
      const { eab } = this.config
      return new acme.Client({
        directoryUrl: this.config.directory,
        accountKey,
        ...(eab && { externalAccountBinding: { kid: eab.kid, hmacKey: eab.hmacKey } }),
      })
    })()
    // A failure (the store unreachable) is not kept: the next order tries again.
    this.client.catch(() => (this.client = undefined))
    return this.client
  }
}
