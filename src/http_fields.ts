/**
 * What may be sent as an HTTP request header (RFC 9110, section 5): a name
 * that is a token, and a value that is a field value. A header that breaks
 * these rules makes every runtime refuse the request, so it is refused where
 * it is given instead (a `headers` option), or skipped (an environment entry).
 * So is a header that says how a request is framed or carried, which the HTTP
 * client sets itself.
 *
 * @module
 */

/** `token = 1*tchar`: letters, digits and ``!#$%&'*+-.^_`|~``. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * `field-value = *field-content`, visible ASCII only, with spaces and tabs only between its characters (a leading or
 * trailing one is not part of a value). No CR, LF, NUL or other control character. RFC 9110 also allows obs-text
 * (U+0080 to U+00FF), but the runtimes send it as different bytes (Node.js's HTTP client as UTF-8, Deno's and Bun's
 * fetch as Latin-1), so the same option would reach the endpoint as two values.
 */
const FIELD_VALUE = /^(?:[!-~](?:[\t -~]*[!-~])?)?$/;

/**
 * Headers that say how a request is framed or carried, which the HTTP client sets itself: one set as well makes a
 * request that some clients send and servers refuse (Node.js's, with `transfer-encoding` beside its
 * `content-length`: 400), that others send to another host (`host`), or that others ignore.
 */
const FRAMING = new Set([
  "connection",
  "content-length",
  "host",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Whether a header name is one the HTTP client sets itself (`content-length`, `transfer-encoding`, `host`...), in
 * any case.
 *
 * @param name The name.
 * @returns `true` for a framing header.
 * @example
 * ```ts
 * import { isFramingHeader } from "./http_fields.ts";
 * isFramingHeader("Transfer-Encoding"); // true
 * isFramingHeader("x-api-key"); // false
 * ```
 */
export function isFramingHeader(name: string): boolean {
  return FRAMING.has(name.toLowerCase());
}

/**
 * Whether a string is a valid header name (an RFC 9110 token).
 *
 * @param name The name.
 * @returns `true` for a token such as `x-api-key`.
 * @example
 * ```ts
 * import { isHeaderName } from "./http_fields.ts";
 * isHeaderName("x-api-key"); // true
 * isHeaderName("bad header"); // false
 * ```
 */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/**
 * Whether a string is a valid header value (an RFC 9110 field value).
 *
 * @param value The value.
 * @returns `false` for a value with CR, LF, NUL or another control character, a character past ASCII, or a
 *   leading or trailing space or tab.
 * @example
 * ```ts
 * import { isHeaderValue } from "./http_fields.ts";
 * isHeaderValue("Bearer abc"); // true
 * isHeaderValue("x\r\nInjected: 1"); // false
 * ```
 */
export function isHeaderValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

/** HTTP whitespace (Fetch): tab, line feed, carriage return, space. */
const isHttpWhitespace = (code: number) => code === 9 || code === 10 || code === 13 || code === 32;

/**
 * A header value as `fetch` sends it: without the tabs, spaces and line ends around it (a key read from a file ends
 * with one). Scanned, not matched: a pattern anchored at the end backtracks over a long value's every space.
 *
 * @param value The value given.
 * @returns The value without its surrounding whitespace.
 * @example
 * ```ts
 * import { headerValueOf } from "./http_fields.ts";
 * headerValueOf("Bearer abc\n"); // "Bearer abc"
 * ```
 */
export function headerValueOf(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}
