// HTTP/2 sessions on the TLS listener: closed after TIMEOUT_HTTP_KEEP_ALIVE with no stream open (the
// keep-alive rule HTTP/1.1 connections follow), and drained on shutdown: GOAWAY, then the streams already
// open finish; any session still open at the timeout is destroyed.
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2'
import type { DrainResult } from '../../lib/drain.js'

export interface SessionDrainer {
  drain(timeoutMs: number): Promise<DrainResult>
  /** Sessions open now. */
  readonly open: number
}

export function trackSessions(server: Http2SecureServer, keepAliveMs: number): SessionDrainer {
  const sessions = new Set<ServerHttp2Session>()
  let draining = false
  let allClosed: (() => void) | undefined
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session)
    let streams = 0
    let idle: NodeJS.Timeout | undefined
    const rest = () => {
      idle = setTimeout(() => session.close(), keepAliveMs)
      idle.unref()
    }
    session.on('stream', (stream) => {
      streams++
      clearTimeout(idle)
      stream.once('close', () => {
        if (--streams === 0 && !session.closed) rest()
      })
    })
    session.once('close', () => {
      clearTimeout(idle)
      sessions.delete(session)
      if (draining && sessions.size === 0) allClosed?.()
    })
    // A session that has not sent a request is idle from the start; one that arrives mid-drain is told
    // to go at once.
    if (draining) session.close()
    else rest()
  })
  return {
    get open() {
      return sessions.size
    },
    drain(timeoutMs) {
      draining = true
      const done = new Promise<void>((resolve) => {
        allClosed = resolve
      })
      for (const session of sessions) session.close()
      if (sessions.size === 0) allClosed?.()
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<DrainResult>((resolve) => {
        timer = setTimeout(() => {
          const forced = sessions.size
          for (const session of sessions) session.destroy()
          resolve({ forced })
        }, timeoutMs)
      })
      return Promise.race([done.then(() => ({ forced: 0 })), timeout]).finally(() => clearTimeout(timer))
    },
  }
}
