/**
 * Request bodies assembled from items serialized one by one.
 *
 * @module
 */

/**
 * `open`, the items joined with commas, and `close`, made by one join so that the result is one flat string. The
 * items joined first and then concatenated make a string of parts, which the runtime copies once more to send it:
 * ~15-30 µs under Deno, ~10-12 under Bun and Node.js, for a request of 500 events (measured against a local server
 * that only reads). The items are strings: unlike `Array.prototype.join`, an `undefined` or `null` first or last
 * item would not become empty.
 *
 * @param open What comes before the first item.
 * @param items The serialized items.
 * @param close What comes after the last item.
 * @returns `${open}${items.join(",")}${close}`.
 * @example
 * ```ts
 * import { joinBetween } from "./join.ts";
 * joinBetween("[", ["1", "2"], "]"); // "[1,2]"
 * joinBetween("[", [], "]"); // "[]"
 * ```
 */
export function joinBetween(open: string, items: readonly string[], close: string): string {
  if (items.length === 0) return open + close;
  const parts = items.slice();
  parts[0] = open + parts[0];
  parts[parts.length - 1] += close;
  return parts.join(",");
}
