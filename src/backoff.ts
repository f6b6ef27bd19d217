/**
 * When to try again: exponential backoff with jitter, and the server's
 * `Retry-After`, parsed and clamped.
 *
 * @module
 */

/** The longest `Retry-After` we honour: a server asking for more gets this. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** How retries back off. */
export interface BackoffPolicy {
  /** The delay before the first retry, in milliseconds; 0 retries at the next chance. */
  initialMs: number;
  /** The longest delay, in milliseconds. */
  maxMs: number;
}

/**
 * Parses an HTTP `Retry-After` header: delay-seconds or an HTTP date.
 *
 * @param value The header's value, or `null` when absent.
 * @param nowMs The current time in epoch milliseconds (for a date).
 * @returns The delay in milliseconds, clamped to `0..MAX_RETRY_AFTER_MS`; `undefined` when absent or unparseable.
 * @example
 * ```ts
 * import { parseRetryAfter } from "./backoff.ts";
 * parseRetryAfter("120", Date.now()); // 120000
 * parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.now()); // 0 (in the past)
 * ```
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  const isSeconds = /^\d+$/.test(trimmed);
  // An HTTP date always names a day or month; this keeps Date.parse from reading "-5" as a year.
  const ms = isSeconds ? Number(trimmed) * 1000 : /[a-z]{3}/i.test(trimmed) ? Date.parse(trimmed) - nowMs : NaN;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/**
 * How long to wait before retry number `attempt`: exponential, capped, with
 * "equal jitter" (between half and all of the exponential delay) so that many
 * clients do not retry in step, and never less than the server asked for.
 *
 * @param attempt The retry number, from 1.
 * @param policy The initial and maximum delays.
 * @param random A source of numbers in `[0, 1)`.
 * @param retryAfterMs The server's `Retry-After`, if it sent one.
 * @returns The delay in milliseconds.
 * @example
 * ```ts
 * import { retryDelay } from "./backoff.ts";
 * retryDelay(3, { initialMs: 1000, maxMs: 60000 }, () => 0.5); // 3000: between 2000 and 4000
 * retryDelay(1, { initialMs: 1000, maxMs: 60000 }, Math.random, 30000); // 30000
 * ```
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, random: () => number, retryAfterMs = 0): number {
  const exponential = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.max(jittered, retryAfterMs);
}
