// The one cookie colorproxy reads by name, and the one it sets for STICKY=cookie.

/** The value of cookie `name` in a Cookie header (`a=1; colorproxy=green`), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq > 0 && pair.slice(0, eq).trim() === name) {
      const value = pair.slice(eq + 1).trim()
      return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value
    }
  }
  return undefined
}

/** `colorproxy=green; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax` */
export function stickyCookie(name: string, color: string, ttlMs: number): string {
  return `${name}=${color}; Max-Age=${Math.round(ttlMs / 1000)}; Path=/; HttpOnly; SameSite=Lax`
}
