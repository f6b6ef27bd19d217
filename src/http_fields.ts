/**
 * What may be sent as an HTTP request header (RFC 9110, section 5): a name
 * that is a token, and a value that is a field value. A header that breaks
 * these rules makes every runtime refuse the request, so it is refused where
 * it is given instead (a `headers` option), or skipped (an environment entry).
 *
 * @module
 */

/** `token = 1*tchar`: letters, digits and ``!#$%&'*+-.^_`|~``. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * `field-value = *field-content`: visible ASCII and obs-text (U+0080 to U+00FF), with spaces and tabs only
 * between them (a leading or trailing one is not part of a value). No CR, LF, NUL or other control character.
 */
const FIELD_VALUE = /^(?:[!-~\x80-\xff](?:[\t -~\x80-\xff]*[!-~\x80-\xff])?)?$/;

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
 * @returns `false` for a value with CR, LF, NUL or another control character, a character past U+00FF, or a
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
