// Where ACME's state lives, behind one small interface: the account key, each name's certificate and key,
// the challenge answers a CA may ask any replica for, and the lock that lets one process order a name at a
// time: a folder (folder-store.ts) or a Redis (redis-store.ts).

export interface AcmeStore {
  /** The text at `key`; undefined when there is none. */
  read(key: string): Promise<string | undefined>
  /** Writes `key` whole: a reader sees the old text or the new, never part of one. */
  write(key: string, text: string): Promise<void>
  remove(key: string): Promise<void>
  /**
   * Takes the lock `key` for `owner` until `leaseMs` from now, or renews it when `owner` holds it: true when
   * it is the owner's now. A lock whose lease ran out (its holder died) is free.
   */
  lock(key: string, owner: string, leaseMs: number): Promise<boolean>
  /** Gives the lock up, when `owner` holds it. */
  unlock(key: string, owner: string): Promise<void>
  /** Starts what the store needs (a connection); nothing is reached before it. */
  open(): void
  /** Lets go of what the store holds open. */
  close(): void
}

/** The store's keys: host names and tokens are checked before they become one. */
export const KEYS = {
  account: 'account.key',
  certificate: (name: string) => `certificates/${name}.pem`,
  httpAnswer: (token: string) => `challenges/http-01/${token}`,
  alpnAnswer: (name: string) => `challenges/tls-alpn-01/${name}.pem`,
  lock: (name: string) => `locks/${name}`,
}

/** RFC 8555 section 8.3: a token is base64url; nothing else becomes a key. */
export const isToken = (token: string): boolean => /^[A-Za-z0-9_-]{16,256}$/.test(token)
