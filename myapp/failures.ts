// FAIL_PERCENT's failures, spread evenly: the nth answer fails when n × percent / 100 passes a whole
// number, so every run of 100 / percent answers holds one failure. A canary judged on a handful of answers
// then sees the share it was given, never a lucky streak of successes.
export function failureSpread(percent: number): () => boolean {
  let answered = 0
  return () => {
    const before = Math.floor((answered * percent) / 100)
    answered += 1
    return Math.floor((answered * percent) / 100) > before
  }
}
