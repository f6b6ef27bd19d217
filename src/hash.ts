/**
 * A short, stable name for a string, for file names that must differ per endpoint.
 *
 * @module
 */

/**
 * FNV-1a, 32 bits, as 8 hex digits. Not a secret and not collision-proof: it only keeps files apart.
 *
 * @param text The text.
 * @returns e.g. `"a3f09c12"`.
 * @example
 * ```ts
 * import { shortHash } from "./hash.ts";
 * shortHash("https://example.com/events").length; // 8
 * ```
 */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}
