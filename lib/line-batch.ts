// The lines logged on every request (the access log), gathered over one turn of the event loop and
// serialized together after it: JSON.stringify in one tight loop, one string and one write for the turn,
// instead of pino's generic serializer, a Buffer and a write call between every two requests.
import type { DestinationStream } from 'pino'

/** pino's number for info. */
const INFO = 30

export class LineBatch {
  /** time, fields, msg: three slots a line. */
  private pending: unknown[] = []
  private scheduled = false

  /** Where the lines go: the logger's own stream. */
  constructor(readonly stream: DestinationStream) {}

  /** Keeps the line, with the time it was logged, until this turn of the loop is over. */
  add(fields: Record<string, unknown>, msg: string): void {
    this.pending.push(Date.now(), fields, msg)
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.flush)
  }

  /**
   * Writes the lines kept so far, each as pino would (level, time, the fields, msg). The logger calls it
   * before any other line it writes, and before it flushes, so no line ever overtakes one logged earlier.
   */
  readonly flush = (): void => {
    this.scheduled = false
    const { pending } = this
    if (pending.length === 0) return
    this.pending = []
    let text = ''
    for (let i = 0; i < pending.length; i += 3) {
      const fields = pending[i + 1] as Record<string, unknown>
      text += `${JSON.stringify({ level: INFO, time: pending[i], ...fields, msg: pending[i + 2] })}\n`
    }
    this.stream.write(text)
  }
}
