// myapp's FAIL_PERCENT spread: the exact share, every run of 100 / percent answers holding its failure.
import t from 'tap'
import { failureSpread } from '../../myapp/failures.js'

const answers = (percent: number, count: number) => {
  const next = failureSpread(percent)
  return Array.from({ length: count }, () => next())
}

t.test('FAIL_PERCENT fails exactly its share, spread evenly', async (t) => {
  t.equal(answers(0, 1000).filter(Boolean).length, 0, '0% never fails')
  t.equal(answers(100, 50).filter(Boolean).length, 50, '100% always fails')
  const ten = answers(10, 1000)
  t.equal(ten.filter(Boolean).length, 100, '10% of 1000')
  for (let start = 0; start + 10 <= ten.length; start++) {
    if (ten.slice(start, start + 10).filter(Boolean).length !== 1) t.fail(`10 answers from ${start}`)
  }
  t.same(answers(50, 6), [false, true, false, true, false, true], '50% alternates')
  t.equal(answers(12.5, 80).filter(Boolean).length, 10, 'a fractional share')
})
