// A Prometheus counter for the per-request series: counted as a plain number per label set, handed to
// prom-client at each scrape. prom-client's own inc() hashes its labels on every call (~370 ns, three of
// them per request, ~3% of colorproxy's time per request); here a request costs one Map lookup.
import { Counter, type LabelValues, type Registry } from 'prom-client'

export class Tally<L extends string> {
  private readonly counts = new Map<string, { labels: LabelValues<L>; value: number }>()

  constructor(options: { name: string; help: string; labelNames: L[]; registers: Registry[] }) {
    const counts = this.counts
    new Counter<L>({
      ...options,
      collect() {
        this.reset()
        for (const { labels, value } of counts.values()) this.inc(labels, value)
      },
    })
  }

  /** Counts one; `key` names the label set (its values joined), `labels` builds it the first time. */
  inc(key: string, labels: () => LabelValues<L>): void {
    const entry = this.counts.get(key)
    if (entry) entry.value++
    else this.counts.set(key, { labels: labels(), value: 1 })
  }
}
