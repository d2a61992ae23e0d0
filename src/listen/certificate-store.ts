// The certificates in service, picked per connection by SNI: the exact name, then a `*.` wildcard one label
// deep, then the fallback (TLS_CERT, else the first file by name). Replaced whole at a TLS_CERTS_DIR reload.
import { createSecureContext, type SecureContext } from 'node:tls'
import { type Certificate, normalName } from '../config/certificates.js'

export interface StoreOptions {
  minVersion: 'TLSv1.2' | 'TLSv1.3'
}

/** The certificates in service now, by name; replaced whole at a reload. */
export class CertificateStore {
  private exact = new Map<string, SecureContext>()
  private wildcard = new Map<string, SecureContext>()
  private fallback: SecureContext | undefined

  constructor(
    certificates: readonly Certificate[],
    private readonly options: StoreOptions,
  ) {
    this.replace(certificates)
  }

  /**
   * Serve these from the next connection on. The first of the first `fallbacks` is the fallback for a name
   * none has (ACME's certificates come after TLS_CERT's and TLS_CERTS_DIR's, and are never one).
   */
  replace(certificates: readonly Certificate[], fallbacks = certificates.length): void {
    const exact = new Map<string, SecureContext>()
    const wildcard = new Map<string, SecureContext>()
    let fallback: SecureContext | undefined
    for (const [index, certificate] of certificates.entries()) {
      const context = createSecureContext({
        cert: certificate.cert,
        key: certificate.key,
        minVersion: this.options.minVersion,
      })
      if (index < fallbacks) fallback ??= context
      for (const name of certificate.names) {
        // The first certificate to claim a name keeps it (TLS_CERT, then the files by name).
        const [map, key] = name.startsWith('*.') ? [wildcard, name.slice(2)] : [exact, name]
        if (!map.has(key)) map.set(key, context)
      }
    }
    this.exact = exact
    this.wildcard = wildcard
    this.fallback = fallback
  }

  /** The context for a client's SNI name (undefined: none sent). */
  select(servername: string | undefined): SecureContext | undefined {
    if (!servername) return this.fallback
    const name = normalName(servername)
    const dot = name.indexOf('.')
    return (
      this.exact.get(name) ?? (dot > 0 ? this.wildcard.get(name.slice(dot + 1)) : undefined) ?? this.fallback
    )
  }
}
