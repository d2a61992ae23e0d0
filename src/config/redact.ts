// What may be shown of a URL (an upstream, a Redis store): never its credentials (in /config, the startup
// lines, the access log and the stats page).

/** `http://user:secret@host:8080/base` → `http://***@host:8080/base`. */
export function redactUrl(url: URL): string {
  const userinfo = url.username || url.password ? '***@' : ''
  return `${url.protocol}//${userinfo}${url.host}${url.pathname === '/' ? '' : url.pathname}`
}
