/**
 * Adds to a counter in a record of counters by reason.
 *
 * @param counts The counters, e.g. `stats().dropped`.
 * @param reason The counter to add to; created at 0 if missing.
 * @param n How much to add; nothing happens for 0 or less.
 * @example
 * ```ts
 * import { addCount } from "./tally.ts";
 * const dropped: Record<string, number> = {};
 * addCount(dropped, "http_400", 2); // dropped is { http_400: 2 }
 * ```
 */
export function addCount(counts: Record<string, number>, reason: string, n: number): void {
  if (n > 0) counts[reason] = (counts[reason] ?? 0) + n;
}
