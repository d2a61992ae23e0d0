// Checking a password against a USERS hash (config/users.ts reads them): bcrypt with bcryptjs, `$5$`/`$6$`
// with unixcrypt, `$apr1$` with apache-md5. Every comparison is constant-time. This runs in the password
// worker (basic-auth.ts).
import { timingSafeEqual } from 'node:crypto'
import apacheMd5Module from 'apache-md5'
import bcrypt from 'bcryptjs'
import { verify as shaCryptVerify } from 'unixcrypt'
import { hashKind } from '../config/users.js'

// apache-md5 is CommonJS (module.exports = fn) while its types say `export default`.
const apacheMd5 = apacheMd5Module as unknown as (password: string, salt?: string) => string

/** Does `password` match `hash` (one that parseUsers took)? Seconds of CPU at worst: run it off the loop. */
export function checkPassword(hash: string, password: string): boolean {
  switch (hashKind(hash)) {
    case 'bcrypt':
      return bcrypt.compareSync(password, hash)
    case 'sha-crypt':
      return shaCryptVerify(password, hash)
    case 'apr1':
      return sameText(apacheMd5(password, hash), hash)
    default:
      return false
  }
}

/** Constant-time equality for two strings (false at once when the lengths differ). */
export function sameText(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)]
  return x.length === y.length && timingSafeEqual(x, y)
}
