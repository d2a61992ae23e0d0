// The head of one bodiless HTTP/1.1 request to an upstream, as one latin1 string (its blank line comes
// from the connection, which may add `Connection: close` first). RFC 9110 section 5.5 and RFC 9112 section
// 3.2: a field value carries no CR, LF, NUL or other control character, and a request-target no space or
// control character; one that did would let a client's bytes become a field or a request of their own
// (request smuggling). Names are tokens already: the client's were parsed by Node (llhttp or nghttp2),
// colorproxy's own are constants or checked at startup (COLOR_HEADER).
import { InvalidRequestError } from './errors.js'

/** Any byte a field value may not hold: a control character other than HTAB, DEL, or past latin1. */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/
/** Any byte a request-target may not hold: a space, a control character, or past latin1. */
const INVALID_TARGET = /[^\x21-\x7e\x80-\xff]/

/** The request line and fields, each line ending in CRLF; an Error when the path or a value is invalid. */
export function requestHead(method: string, path: string, fields: readonly string[]): string | Error {
  if (INVALID_TARGET.test(path))
    return new InvalidRequestError('the request-target holds a character HTTP/1.1 does not allow')
  let head = `${method} ${path} HTTP/1.1\r\n`
  for (let i = 0; i < fields.length; i += 2) {
    const value = fields[i + 1] as string
    if (INVALID_VALUE.test(value))
      return new InvalidRequestError(`the ${fields[i] as string} field holds a control character`)
    head += `${fields[i] as string}: ${value}\r\n`
  }
  return head
}
