// The certificates the TLS listener serves: each one read from PEM (a chain and its key, one file or two),
// checked (the key matches, the dates), and named by its own subject alternative names, read with
// node:crypto's X509Certificate. A store picks one per connection by SNI: the exact name, then a `*.`
// wildcard one label deep, then the fallback (TLS_CERT, else the first file by name).
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { createSecureContext, type SecureContext } from 'node:tls'

export interface Certificate {
  /** Where it came from, for messages: `TLS_CERT` or a file name in TLS_CERTS_DIR. */
  source: string
  /** DNS names it serves, lower case: `shop.example.com`, `*.example.com`. */
  names: string[]
  /** The chain, leaf first, and the key, as PEM. */
  cert: string
  key: string
  notAfter: Date
}

/** Reads a chain and its key; throws an Error naming `source` (never quoting the PEM) when it cannot. */
export function readCertificate(source: string, certPem: string, keyPem: string = certPem): Certificate {
  let leaf: X509Certificate
  try {
    leaf = new X509Certificate(certPem)
  } catch {
    throw new Error(`${source} holds no PEM certificate`)
  }
  let key: KeyObject
  try {
    key = createPrivateKey(keyPem)
  } catch {
    throw new Error(`${source} holds no PEM private key (or it is encrypted)`)
  }
  if (!leaf.checkPrivateKey(key)) throw new Error(`${source}: the private key does not match the certificate`)
  return {
    source,
    names: certificateNames(leaf),
    cert: certPem,
    key: keyPem,
    notAfter: new Date(leaf.validTo),
  }
}

/**
 * The DNS names in the certificate's subject alternative names (`DNS:a.example, DNS:*.example`, as Node
 * prints them); the subject's CN only when it has none, as clients did before SANs.
 */
export function certificateNames(certificate: X509Certificate): string[] {
  const alt = certificate.subjectAltName
  const names = (alt ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4))
  if (names.length === 0) {
    const cn = /^CN=(.+)$/m.exec(certificate.subject)?.[1]
    if (cn !== undefined) names.push(cn)
  }
  return names.map((name) => name.toLowerCase())
}

/** Lower case, no trailing dot: `Shop.Example.COM.` → `shop.example.com`. */
export function normalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '')
}

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

  /** Serve these from the next connection on; the first is the fallback. */
  replace(certificates: readonly Certificate[]): void {
    const exact = new Map<string, SecureContext>()
    const wildcard = new Map<string, SecureContext>()
    let fallback: SecureContext | undefined
    for (const certificate of certificates) {
      const context = createSecureContext({
        cert: certificate.cert,
        key: certificate.key,
        minVersion: this.options.minVersion,
      })
      fallback ??= context
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

export interface DirIo {
  /** File names in the folder (not paths). */
  list(dir: string): string[]
  readFile(path: string): string
}

/**
 * Every file in TLS_CERTS_DIR, by name (dot-files skipped: Kubernetes' `..data` links, editors' leftovers):
 * the ones that read, and for the others why not.
 */
export function readCertificateDir(
  dir: string,
  io: DirIo,
): { certificates: Certificate[]; failures: { file: string; message: string }[] } {
  const certificates: Certificate[] = []
  const failures: { file: string; message: string }[] = []
  for (const file of io
    .list(dir)
    .filter((name) => !name.startsWith('.'))
    .sort()) {
    try {
      const pem = io.readFile(`${dir.replace(/\/$/, '')}/${file}`)
      certificates.push(readCertificate(file, pem))
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      failures.push({ file, message: code ? `${file}: cannot read (${code})` : (error as Error).message })
    }
  }
  return { certificates, failures }
}
