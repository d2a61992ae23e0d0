// The head of a request to an upstream: one string, or an error for any byte that could smuggle a request.
import t from 'tap'
import { requestHead } from '../../src/upstream/request-head.js'
import { InvalidRequestError } from '../../src/upstream/errors.js'

t.test('the request line and fields, each line ending in CRLF', async (t) => {
  t.equal(
    requestHead('GET', '/a?b=1', ['host', 'up:80', 'X-Tab', 'a\tb', 'X-Latin', 'caf\xe9']),
    'GET /a?b=1 HTTP/1.1\r\nhost: up:80\r\nX-Tab: a\tb\r\nX-Latin: caf\xe9\r\n',
  )
  t.equal(requestHead('OPTIONS', '*', []), 'OPTIONS * HTTP/1.1\r\n')
})

t.test('a control character in a value is refused, naming the field', async (t) => {
  for (const value of ['a\r\nX-Smuggled: 1', 'a\nb', 'a\0', 'a\x7f', 'a\x1b', '\u0100']) {
    const head = requestHead('GET', '/', ['X-Given', value])
    t.type(head, InvalidRequestError, JSON.stringify(value))
    t.equal((head as InvalidRequestError).code, 'EINVALIDREQUEST')
    t.match((head as Error).message, /the X-Given field holds a control character/)
  }
})

t.test('a space or control character in the target is refused', async (t) => {
  for (const path of ['/a b', '/a\r\nGET /x', '/\t', '/\u0100']) {
    const head = requestHead('GET', path, [])
    t.type(head, InvalidRequestError, JSON.stringify(path))
    t.match((head as Error).message, /request-target/)
  }
})
