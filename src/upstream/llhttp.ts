// Node's own HTTP/1 parser, llhttp, as node:http's client and server use it (through `_http_common`, the
// module node:http itself imports): kept by Node, fuzzed upstream, strict by default. colorproxy frames its
// upstreams' answers with it rather than with a parser of its own (measured: docs/performance.md).
import { createRequire } from 'node:module'

/** One llhttp parser. Its callbacks are set by index (the `kOn…` constants). */
export interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void
  /** Parses what came; returns the bytes parsed, or the parse error (code `HPE_…`). */
  execute(data: Buffer): number | ParseError
  /** The connection ended: completes a body that ends with it, or returns the error of a cut message. */
  finish(): undefined | ParseError
  close(): void
  [callback: number]: unknown
}

export interface ParseError extends Error {
  code: string
  reason: string
}

interface ParserClass {
  new (): Parser
  RESPONSE: number
  kOnMessageBegin: number
  kOnHeaders: number
  kOnHeadersComplete: number
  kOnBody: number
  kOnMessageComplete: number
  kLenientNone: number
}

export const HTTPParser = (createRequire(import.meta.url)('_http_common') as { HTTPParser: ParserClass })
  .HTTPParser
