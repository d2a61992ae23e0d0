// The certificates the TLS listener serves, as the config reads them: each one read from PEM (a chain and
// its key, one file or two), checked (the key matches, the dates), and named by its own subject alternative
// names, read with node:crypto's X509Certificate. listen/certificate-store.ts serves them by SNI.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { readError } from './file-errors.js'

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
      failures.push({
        file,
        message: code ? `${file}: cannot read: ${readError(error)}` : (error as Error).message,
      })
    }
  }
  return { certificates, failures }
}

/** Whole seconds from `now` to the certificate's end (below 0 once it has passed). */
export function secondsLeft(certificate: Certificate, now: number): number {
  return Math.round((certificate.notAfter.getTime() - now) / 1000)
}
