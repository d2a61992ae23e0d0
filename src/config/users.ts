// USERS: htpasswd entries as the config reads them. The hashes are the ones htpasswd and mkpasswd write:
// bcrypt (`$2a$`/`$2b$`/`$2y$`), SHA-256/SHA-512 crypt (`$5$`/`$6$`) and Apache MD5 (`$apr1$`). Plain text,
// `{SHA}` and DES crypt are refused: they are too weak to keep in a secret. Checking a password against one
// is listen/passwords.ts, in the password worker.

export type HashKind = 'bcrypt' | 'sha-crypt' | 'apr1'

const KINDS: [RegExp, HashKind][] = [
  [/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/, 'bcrypt'],
  [/^\$[56]\$(rounds=\d+\$)?[^$:]{1,16}\$[./A-Za-z0-9]{43,86}$/, 'sha-crypt'],
  [/^\$apr1\$[^$:]{1,8}\$[./A-Za-z0-9]{22}$/, 'apr1'],
]

export function hashKind(hash: string): HashKind | undefined {
  return KINDS.find(([pattern]) => pattern.test(hash))?.[1]
}

/**
 * `alice:$2y$…,bob:$6$…` or one entry per line (an htpasswd file) → hash by user name. Throws an Error
 * naming every bad entry by user (or line), never quoting a hash.
 */
export function parseUsers(raw: string): Map<string, string> {
  const users = new Map<string, string>()
  const bad: string[] = []
  const entries = raw
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '' && !entry.startsWith('#'))
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':')
    const user = colon > 0 ? entry.slice(0, colon) : ''
    const hash = entry.slice(colon + 1)
    if (user === '') bad.push(`entry ${index + 1} is not name:hash`)
    else if (users.has(user)) bad.push(`${user} is listed twice`)
    else if (hashKind(hash) === undefined) bad.push(`${user}'s hash is not bcrypt, $5$, $6$ or $apr1$`)
    else users.set(user, hash)
  })
  if (bad.length > 0) throw new Error(bad.join('; '))
  if (users.size === 0) throw new Error('must list at least one name:hash')
  return users
}
