/**
 * The UTF-8 length of a string, counted without encoding it: every event is
 * sized when it is recorded, and a length is all that needs.
 * Lone surrogates count as U+FFFD (3 bytes), as `TextEncoder` writes them.
 *
 * @param text Any string.
 * @returns Its length in bytes once encoded as UTF-8.
 * @example
 * ```ts
 * import { utf8Length } from "./utf8.ts";
 * utf8Length("é€😀"); // 2 + 3 + 4 = 9
 * ```
 */
export function utf8Length(text: string): number {
  // The regular expression engine finds the first non-ASCII unit far faster than a loop that runs in the
  // interpreter on a process's first calls; most of what we count is ASCII.
  const first = text.search(NON_ASCII);
  if (first === -1) return text.length;
  let bytes = text.length;
  for (let i = first; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
    } else if (unit >= 0xd800 && unit < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: two units, four bytes
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/** A UTF-16 unit outside ASCII; written as a negated class, which JavaScriptCore matches twice as fast as a range. */
// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;
