/**
 * One delivery: a POST of one envelope, under a deadline, following only the
 * redirects that keep it a POST, and classified into what to do with its
 * events next.
 *
 * @module
 */
import { parseRetryAfter } from "./backoff.ts";
import { setDeadline } from "./deadline.ts";
import { describeError } from "./describe.ts";
import { type Fetch, type FetchResponse, RequestNotBuilt } from "./runtime/mod.ts";
import { utf8Length } from "./utf8.ts";

export type { Fetch, FetchResponse } from "./runtime/mod.ts";

/** How many 307/308 redirects one delivery follows. */
export const MAX_REDIRECTS = 3;

/** What became of a delivery, and so of its events. */
export type DeliveryOutcome =
  /** The server accepted the batch (2xx), all of it but `rejected` events, if it said so (OTLP partial success). */
  | { readonly kind: "delivered"; readonly rejected?: number }
  /** The server will never accept it: drop the events, counted under `reason` (`detail`, for the trail: why). */
  | { readonly kind: "rejected"; readonly reason: string; readonly detail?: string | undefined }
  /** 413: send the batch again in halves. */
  | { readonly kind: "too_large" }
  /**
   * A passing failure: keep the events and retry, not before `retryAfterMs` if the server said so; `thrown`: what
   * the fetch threw, for a program to read about its own.
   */
  | { readonly kind: "retry"; readonly reason: string; readonly retryAfterMs?: number; readonly thrown?: string }
  /** Cut short by the caller's signal (the exit budget ran out): the events stay pending, unchanged. */
  | { readonly kind: "interrupted" }
  /**
   * Never sent: the request could not be built here (a proxy setting the client cannot use), or a sender may not
   * follow a redirect its program may. Not the endpoint's failure: the events stay pending, unchanged, for a run
   * that can send them.
   */
  | { readonly kind: "not_sent"; readonly reason: string };

/** Everything one delivery needs. */
export interface DeliveryRequest {
  /** Where to POST. */
  url: string;
  /** The request body (JSON). */
  body: string;
  /** More request headers (e.g. an OTLP collector's API key); sent to the endpoint's origin only. */
  headers?: Readonly<Record<string, string>> | undefined;
  /**
   * What an answer means. @default {classifyStatus}
   * @param status The HTTP status.
   * @param retryAfterMs The parsed `Retry-After`.
   * @param body The body of a 2xx answer, when `readAnswer` (at most 64 KiB, within the deadline).
   */
  classify?:
    | ((status: number, retryAfterMs: number | undefined, body: string | undefined) => DeliveryOutcome)
    | undefined;
  /** Read the body of a 2xx answer for `classify` (OTLP partial success); otherwise it is never read. */
  readAnswer?: boolean | undefined;
  /**
   * Called when a 2xx answer's status has come and its body is still to be read (`readAnswer`): the endpoint has
   * the events, whatever the body adds, so one that cuts the delivery short (the exit budget) may count them sent.
   */
  onAccepted?: (() => void) | undefined;
  /** The fetch to use. */
  fetch: Fetch;
  /** The deadline for the whole delivery, redirects included, in milliseconds. */
  timeoutMs: number;
  /** Aborts the delivery from outside (the exit budget); the outcome is then `interrupted`. */
  signal?: AbortSignal | undefined;
  /** The clock, for `Retry-After` dates. */
  now: () => number;
  /** Called with every timer we start, so the caller can keep it from holding the process open. */
  unrefTimer?: ((timer: unknown) => void) | undefined;
  /**
   * Whether the program may connect to a redirect's target without being asked (Deno's `--allow-net`); a
   * target it may not reach is dropped as `unsafe_redirect` rather than prompting. @default {() => true}
   */
  mayConnect?: ((url: string) => boolean) | undefined;
  /**
   * Whether a request to a URL carries the proxy's credentials to its host (Deno's fetch): a redirect to another
   * origin is then dropped as `unsafe_redirect`, as it would take them there. @default {() => false}
   */
  sendsProxyCredentials?: ((url: string) => boolean) | undefined;
}

/** Whether this process delivers for a program with more permissions than its own: see {@link deliverForProgram}. */
let forProgram = false;

/**
 * Marks this process as a sender, which delivers what a program handed off with permissions no wider than the
 * endpoint's host (Deno): a redirect to where this process may not connect is then left pending (`not_sent`), for
 * a run of the program, which may be allowed to follow it, rather than dropped as `unsafe_redirect`.
 *
 * @example
 * ```ts ignore
 * import { deliverForProgram } from "./delivery.ts";
 * deliverForProgram(); // once, when the sender starts
 * ```
 */
export function deliverForProgram(): void {
  forProgram = true;
}

// 407: a proxy's refusal (its credentials are wrong or missing); the endpoint never saw the request.
const RETRYABLE_STATUSES = new Set([407, 408, 429, 500, 502, 503, 504]);
const NEVER_RETRY_5XX = new Set([501, 505]);

/**
 * Classifies an HTTP status for a telemetry POST. Every status has a rule:
 * 2xx delivered; 413 split; 407 (a proxy's), 408, 429 and 5xx other than 501 and 505 retried;
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
 * to a host this process may not reach (both `unsafe_redirect`; the latter, in
 * a sender, `not_sent`: see {@link deliverForProgram}). What is no HTTP answer at all (a program's own `fetch`
 * resolving to anything else) is rejected as `bad_response`. Never throws, and always
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
  const cancelTimeout = setDeadline(request.timeoutMs, () => {
    timedOut = true;
    controller.abort();
  }, request.unrefTimer);
  const onOutsideAbort = () => controller.abort();
  request.signal?.addEventListener("abort", onOutsideAbort, { once: true });
  // The deadline holds even for a fetch that does not settle when aborted: the delivery ends, the fetch is left.
  const deadline = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
  });
  deadline.catch(() => {});
  let hop = 0;
  try {
    let url = request.url;
    const origin = new URL(url).origin;
    const classify = request.classify ?? classifyStatus;
    for (;; hop++) {
      // The caller's headers (credentials, perhaps) go to the endpoint's own origin only, never where it redirects.
      const extra = new URL(url).origin === origin ? request.headers : undefined;
      const response = await Promise.race([
        request.fetch(url, {
          method: "POST",
          headers: { ...extra, "content-type": "application/json" },
          body: request.body,
          redirect: "manual",
          signal: controller.signal,
        }),
        deadline,
      ]);
      const status = answerStatus(response);
      if (status === undefined) {
        release(bodyOf(response));
        return { kind: "rejected", reason: "bad_response" };
      }
      const location = header(response, "location");
      const retryAfter = parseRetryAfter(header(response, "retry-after"), request.now());
      if (request.readAnswer && status >= 200 && status < 300) {
        // The status decides: a body cut short, or still coming at the deadline, loses only what it would add.
        request.onAccepted?.();
        const answer = await Promise.race([readAnswer(response, controller.signal), deadline]).catch(() => undefined);
        return classify(status, retryAfter, answer);
      }
      release(bodyOf(response));
      if (status !== 307 && status !== 308) return classify(status, retryAfter, undefined);
      if (hop === MAX_REDIRECTS) return { kind: "rejected", reason: "too_many_redirects" };
      const next = redirectTarget(location, url);
      if (next === undefined) return { kind: "rejected", reason: "bad_redirect" };
      // Never from https to http (the body would travel in clear), never where the program may not connect, never
      // to another origin with the proxy's credentials.
      if (next.startsWith("http:") && url.startsWith("https:")) return { kind: "rejected", reason: "unsafe_redirect" };
      if (request.mayConnect?.(next) === false) {
        return forProgram
          ? { kind: "not_sent", reason: "a redirect beyond the sender's permissions, left for the program" }
          : { kind: "rejected", reason: "unsafe_redirect" };
      }
      if (new URL(next).origin !== origin && request.sendsProxyCredentials?.(next)) {
        return { kind: "rejected", reason: "unsafe_redirect" };
      }
      url = next;
    }
  } catch (error) {
    if (request.signal?.aborted && !timedOut) return { kind: "interrupted" };
    // Not sent at all: not the endpoint's failure. After a redirect the endpoint was asked: a retry, with its limits.
    if (error instanceof RequestNotBuilt && hop === 0) return { kind: "not_sent", reason: error.message };
    return timedOut ? { kind: "retry", reason: "timeout" } : {
      kind: "retry",
      reason: "network_error",
      thrown: describeError(error),
    };
  } finally {
    cancelTimeout();
    request.signal?.removeEventListener("abort", onOutsideAbort);
  }
}

/**
 * The HTTP status of what a fetch resolved to, or `undefined` when that is no response: a program's own `fetch`
 * may resolve to anything (nothing, a number, an object with no status or headers).
 */
function answerStatus(response: FetchResponse): number | undefined {
  try {
    const status: unknown = response?.status;
    const isStatus = typeof status === "number" && Number.isInteger(status) && status >= 100 && status <= 599;
    return isStatus && typeof response.headers?.get === "function" ? status : undefined;
  } catch {
    return undefined; // a getter that throws: no answer that can be read
  }
}

/**
 * A header of an answer, or `null`. Once the status is known the endpoint has answered: whatever a program's own
 * `fetch` made of its headers (a `get` that throws, a value that is no string) must not make a delivery a failure.
 */
function header(response: FetchResponse, name: string): string | null {
  try {
    const value: unknown = response.headers.get(name);
    return typeof value === "string" ? value : null;
  } catch {
    return null;
  }
}

/** An answer's body, or `undefined` where a program's own `fetch` made one that throws when it is read. */
function bodyOf(response: FetchResponse): unknown {
  try {
    return response.body;
  } catch {
    return undefined;
  }
}

/**
 * Releases a body (or a reader of one), not awaited: the answer is known, and a body that never ends must not hold
 * the delivery. A program's own `fetch` may answer with a Node.js stream (built on `node:http`, axios, got), which has
 * no `cancel()` but is destroyed, or with a body that throws: a delivery the endpoint answered is never made a failure.
 */
function release(body: unknown): void {
  try {
    const { cancel, destroy } = (body ?? {}) as { cancel?: unknown; destroy?: unknown };
    if (typeof cancel === "function") Promise.resolve(cancel.call(body)).catch(() => {});
    else if (typeof destroy === "function") destroy.call(body);
  } catch {
    // Released as far as it can be.
  }
}

/**
 * An answer's body as text, at most {@link MAX_ANSWER_BYTES} (else `""`): a web stream's, or a Node.js stream's (a
 * program's own `fetch` on `node:http`). What is read is released at the end, or as soon as the delivery is aborted
 * (its deadline): a body that stalls would hold its connection open, and with it the process.
 *
 * @param response The answer.
 * @param signal The delivery's own, aborted at its deadline.
 */
async function readAnswer(response: FetchResponse, signal: AbortSignal): Promise<string> {
  const body = bodyOf(response);
  const reader = readerOf(body);
  const held = reader ?? body;
  const releaseHeld = () => release(held);
  signal.addEventListener("abort", releaseHeld, { once: true });
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  try {
    if (signal.aborted) return "";
    for await (const chunk of reader ? readerChunks(reader) : asyncChunks(body)) {
      // A Node.js stream given an encoding yields text.
      if (typeof chunk !== "string" && !(chunk instanceof Uint8Array)) return "";
      bytes += typeof chunk === "string" ? utf8Length(chunk) : chunk.length;
      if (bytes > MAX_ANSWER_BYTES) return "";
      text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    }
    return text + decoder.decode();
  } finally {
    signal.removeEventListener("abort", releaseHeld);
    releaseHeld();
  }
}

/** A web stream's reader, where the body is one (and gives one). */
function readerOf(body: unknown): ReadableStreamDefaultReader<Uint8Array> | undefined {
  try {
    const { getReader } = (body ?? {}) as { getReader?: () => ReadableStreamDefaultReader<Uint8Array> };
    return typeof getReader === "function" ? getReader.call(body) : undefined;
  } catch {
    return undefined;
  }
}

/** What a web stream's reader reads. */
async function* readerChunks(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<unknown> {
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) yield chunk.value;
}

/** What an async iterable (a Node.js stream) yields; nothing from anything else. */
function asyncChunks(body: unknown): AsyncIterable<unknown> | unknown[] {
  const iterable = body as AsyncIterable<unknown> | null;
  return typeof iterable?.[Symbol.asyncIterator] === "function" ? iterable : [];
}

/** The most of an answer's body a delivery reads (only OTLP's partial success is read at all). */
const MAX_ANSWER_BYTES = 65_536;

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
