/**
 * One delivery: a POST of one envelope, under a deadline, following only the
 * redirects that keep it a POST, and classified into what to do with its
 * events next.
 *
 * @module
 */
import { parseRetryAfter } from "./backoff.ts";
import type { Fetch } from "./runtime/mod.ts";

export type { Fetch, FetchResponse } from "./runtime/mod.ts";

/** How many 307/308 redirects one delivery follows. */
export const MAX_REDIRECTS = 3;

/** What became of a delivery, and so of its events. */
export type DeliveryOutcome =
  /** The server accepted the batch (2xx). */
  | { readonly kind: "delivered" }
  /** The server will never accept it: drop the events, counted under `reason`. */
  | { readonly kind: "rejected"; readonly reason: string }
  /** 413: send the batch again in halves. */
  | { readonly kind: "too_large" }
  /** A passing failure: keep the events and retry, not before `retryAfterMs` if the server said so. */
  | { readonly kind: "retry"; readonly reason: string; readonly retryAfterMs?: number }
  /** Cut short by the caller's signal (the exit budget ran out): the events stay pending, unchanged. */
  | { readonly kind: "interrupted" };

/** Everything one delivery needs. */
export interface DeliveryRequest {
  /** Where to POST. */
  url: string;
  /** The envelope's JSON text. */
  body: string;
  /** The fetch to use. */
  fetch: Fetch;
  /** The deadline for the whole delivery, redirects included, in milliseconds. */
  timeoutMs: number;
  /** Aborts the delivery from outside (the exit budget); the outcome is then `interrupted`. */
  signal?: AbortSignal;
  /** The clock, for `Retry-After` dates. */
  now: () => number;
  /** Called with every timer we start, so the caller can keep it from holding the process open. */
  unrefTimer?: (timer: unknown) => void;
  /**
   * Whether the program may connect to a redirect's target without being asked (Deno's `--allow-net`); a
   * target it may not reach is dropped as `unsafe_redirect` rather than prompting. @default {() => true}
   */
  mayConnect?: (url: string) => boolean;
}

const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const NEVER_RETRY_5XX = new Set([501, 505]);

/**
 * Classifies an HTTP status for a telemetry POST. Every status has a rule:
 * 2xx delivered; 413 split; 408, 429 and 5xx other than 501 and 505 retried;
 * 301, 302 and 303 (which would turn the POST into a GET) rejected as
 * `unsafe_redirect`; everything else rejected as `http_<status>`.
 * 307 and 308 are followed by {@link deliver} before this is asked.
 *
 * @param status The HTTP status.
 * @param retryAfterMs The parsed `Retry-After`, kept on retryable outcomes.
 * @returns The outcome.
 * @example
 * ```ts
 * import { classifyStatus } from "./delivery.ts";
 * classifyStatus(503, 5000); // { kind: "retry", reason: "http_503", retryAfterMs: 5000 }
 * classifyStatus(401); // { kind: "rejected", reason: "http_401" }
 * ```
 */
export function classifyStatus(status: number, retryAfterMs?: number): DeliveryOutcome {
  if (status >= 200 && status < 300) return { kind: "delivered" };
  if (status === 413) return { kind: "too_large" };
  if (RETRYABLE_STATUSES.has(status) || (status >= 500 && status < 600 && !NEVER_RETRY_5XX.has(status))) {
    return retryAfterMs === undefined
      ? { kind: "retry", reason: `http_${status}` }
      : { kind: "retry", reason: `http_${status}`, retryAfterMs };
  }
  if (status === 301 || status === 302 || status === 303) return { kind: "rejected", reason: "unsafe_redirect" };
  return { kind: "rejected", reason: `http_${status}` };
}

/**
 * POSTs one envelope and classifies the result. Follows at most
 * {@link MAX_REDIRECTS} 307/308 redirects, never from https to http and never
 * to a host the program may not reach (both `unsafe_redirect`). Never throws, and always
 * settles by its deadline, even if the fetch ignores the abort; always
 * cancels the response body and clears its timer, so nothing it starts keeps
 * the process alive.
 *
 * @param request The URL, body, fetch, deadline and outside signal.
 * @returns The outcome: network errors and timeouts are `retry`.
 * @example
 * ```ts
 * import { deliver } from "./delivery.ts";
 * const outcome = await deliver({
 *   url: "http://127.0.0.1:8080/events",
 *   body: "{}",
 *   fetch,
 *   timeoutMs: 2000,
 *   now: Date.now,
 * });
 * ```
 */
export async function deliver(request: DeliveryRequest): Promise<DeliveryOutcome> {
  if (request.signal?.aborted) return { kind: "interrupted" };
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, request.timeoutMs);
  request.unrefTimer?.(timer);
  const onOutsideAbort = () => controller.abort();
  request.signal?.addEventListener("abort", onOutsideAbort, { once: true });
  // The deadline holds even for a fetch that does not settle when aborted: the delivery ends, the fetch is left.
  const deadline = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
  });
  deadline.catch(() => {});
  try {
    let url = request.url;
    for (let hop = 0;; hop++) {
      const response = await Promise.race([
        request.fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: request.body,
          redirect: "manual",
          signal: controller.signal,
        }),
        deadline,
      ]);
      const { status } = response;
      const location = response.headers.get("location");
      const retryAfter = response.headers.get("retry-after");
      // Released, not awaited: the answer is known, and a body that never ends must not hold the delivery.
      response.body?.cancel().catch(() => {});
      if (status !== 307 && status !== 308) return classifyStatus(status, parseRetryAfter(retryAfter, request.now()));
      if (hop === MAX_REDIRECTS) return { kind: "rejected", reason: "too_many_redirects" };
      const next = redirectTarget(location, url);
      if (next === undefined) return { kind: "rejected", reason: "bad_redirect" };
      // Never from https to http (the body would travel in clear), never where the program may not connect.
      if (next.startsWith("http:") && url.startsWith("https:")) return { kind: "rejected", reason: "unsafe_redirect" };
      if (request.mayConnect?.(next) === false) return { kind: "rejected", reason: "unsafe_redirect" };
      url = next;
    }
  } catch {
    if (request.signal?.aborted && !timedOut) return { kind: "interrupted" };
    return { kind: "retry", reason: timedOut ? "timeout" : "network_error" };
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener("abort", onOutsideAbort);
  }
}

/** Resolves a `Location` header against the URL it answered; only http(s) targets are followed. */
function redirectTarget(location: string | null, base: string): string | undefined {
  if (location === null) return undefined;
  try {
    const target = new URL(location, base);
    return target.protocol === "http:" || target.protocol === "https:" ? target.href : undefined;
  } catch {
    return undefined;
  }
}
