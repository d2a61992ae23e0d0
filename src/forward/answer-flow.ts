// An answer's body on its way to the client: written as it comes, and while the client reads slower than
// the upstream sends, the upstream's side waits (its resume() is called once the client's response drains).
import type { Writable } from 'node:stream'

export class AnswerFlow {
  /** The upstream waits for the client's response to drain. */
  private waiting = false

  constructor(
    /** The client's response, or a sink for an answer with no body. */
    private readonly sink: Writable,
    /** Lets the upstream's answer flow again. */
    private readonly resume: () => void,
  ) {}

  /** false: the upstream should send no more until resume(). */
  write(chunk: Buffer): boolean {
    if (this.sink.write(chunk)) return true
    if (!this.waiting) {
      this.waiting = true
      this.sink.once('drain', this.drained)
    }
    return false
  }

  end(): void {
    this.sink.end()
  }

  private readonly drained = (): void => {
    this.waiting = false
    this.resume()
  }
}
