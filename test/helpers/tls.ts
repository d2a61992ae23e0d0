// Real certificates made for the test that asks, with Debian's openssl (installed by .ci/run).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A self-signed P-256 certificate for `name`, valid for a day. */
export function selfSignedCertificate(name: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-tls-'))
  try {
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')]
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ].concat([
        '-subj',
        `/CN=${name}`,
        '-addext',
        `subjectAltName=DNS:${name}`,
        '-keyout',
        key,
        '-out',
        cert,
      ]),
      { stdio: 'ignore' },
    )
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** A throwaway certificate authority, valid for a day. */
export function testCa(): { key: string; cert: string } {
  return inTempDir((dir) => {
    const [key, cert] = [join(dir, 'ca.key'), join(dir, 'ca.pem')]
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...EC,
        '-days',
        '1',
        '-subj',
        '/CN=colorproxy test CA',
        '-keyout',
        key,
        '-out',
        cert,
      ].concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']),
      { stdio: 'ignore' },
    )
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') }
  })
}

/**
 * A certificate for `names` (DNS subject alternative names; the first is the CN) signed by `ca`. `days`
 * below 0 makes one that has already expired.
 */
export function issue(
  ca: { key: string; cert: string },
  names: string[],
  days = 1,
): { key: string; cert: string } {
  return inTempDir((dir) => {
    const file = (name: string) => join(dir, name)
    writeFileSync(file('ca.key'), ca.key)
    writeFileSync(file('ca.pem'), ca.cert)
    writeFileSync(file('ext'), `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}`)
    const subject = `/CN=${names[0]}`
    execFileSync(
      'openssl',
      ['req', '-new', ...EC, '-keyout', file('key'), '-subj', subject, '-out', file('csr')],
      {
        stdio: 'ignore',
      },
    )
    execFileSync(
      'openssl',
      ['x509', '-req', '-in', file('csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key')].concat([
        '-days',
        String(days),
        '-extfile',
        file('ext'),
        '-out',
        file('cert'),
      ]),
      { stdio: 'ignore' },
    )
    return { key: readFileSync(file('key'), 'utf8'), cert: readFileSync(file('cert'), 'utf8') }
  })
}

function inTempDir<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-tls-'))
  try {
    return work(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
