// Passive ejection: EJECT_AFTER consecutive connect failures take a color out of the split for EJECT_FOR,
// then it is tried again. The last color that could take traffic is never ejected: a 502 that says what
// happened is better than a 503 for everyone. Time is injected so tests can pin it.

export interface EjectionOptions {
  /** Consecutive connect failures before ejection; 0 never ejects. */
  after: number
  forMs: number
  now: () => number
}

/** Told once per ejection: the log line and the counters. */
export type EjectListener = (color: string, failures: number) => void

export class Ejection {
  private readonly failures = new Map<string, number>()
  private readonly ejectedUntil = new Map<string, number>()
  /** Changes whenever the set of ejected colors does, so a router can rebuild its choice lazily. */
  private version = 0
  private readonly listeners: EjectListener[] = []
  /** Colors whose every address fails its active health checks (HEALTH_CHECK_PATH). */
  private readonly down = new Set<string>()

  /** `colors`: every color that takes weighted traffic (weight above 0). */
  constructor(
    private readonly colors: readonly string[],
    private readonly options: EjectionOptions,
  ) {}

  /** `listener` hears of every ejection from now on. */
  onEject(listener: EjectListener): void {
    this.listeners.push(listener)
  }

  /**
   * HEALTH_CHECK_PATH: the color has no healthy address (down), or has one again. A down color leaves the
   * split as an ejected one does, unless every color that takes traffic is down.
   */
  setDown(color: string, down: boolean): void {
    if (down === this.down.has(color)) return
    if (down) this.down.add(color)
    else this.down.delete(color)
    this.version++
  }

  /** False while the color is ejected, or down while another color is not. */
  available(color: string): boolean {
    if (this.down.has(color) && this.colors.some((other) => !this.down.has(other))) return false
    const until = this.ejectedUntil.get(color)
    if (until === undefined) return true
    if (this.options.now() < until) return false
    // Back in the split; it needs EJECT_AFTER fresh failures to leave again.
    this.ejectedUntil.delete(color)
    this.failures.delete(color)
    this.version++
    return true
  }

  /** Ends the ejections that are over; returns `version`, which changes when the ejected set does. */
  refresh(): number {
    for (const color of this.ejectedUntil.keys()) this.available(color)
    return this.version
  }

  /** Colors ejected right now. */
  ejected(): string[] {
    return this.colors.filter((color) => !this.available(color))
  }

  /** A connect to the color's upstream failed. */
  connectFailed(color: string): void {
    if (this.options.after === 0 || !this.colors.includes(color) || !this.available(color)) return
    const count = (this.failures.get(color) ?? 0) + 1
    this.failures.set(color, count)
    if (count < this.options.after) return
    const others = this.colors.filter((other) => other !== color && this.available(other))
    if (others.length === 0) return
    this.ejectedUntil.set(color, this.options.now() + this.options.forMs)
    this.version++
    for (const listener of this.listeners) listener(color, count)
  }

  /** The upstream answered: its failures are no longer consecutive. */
  answered(color: string): void {
    this.failures.delete(color)
  }
}
