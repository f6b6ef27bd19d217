/**
 * {@link NATTelemetryHandler}: batches events, delivers them with bounded
 * retries, keeps every event accounted for, and never throws into, slows or
 * keeps alive the program that uses it.
 *
 * @module
 */
import { retryDelay } from "./backoff.ts";
import { type PendingEvent, planBatches } from "./batch.ts";
import { isTelemetryEnabled } from "./config.ts";
import { deliver, type DeliveryOutcome } from "./delivery.ts";
import { encodeEnvelope, envelopeHeader, toWireEvent } from "./envelope.ts";
import { TelemetryEvent } from "./events.ts";
import { type NATTelemetryHandlerOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { host, runtimeInfo } from "./runtime/mod.ts";

/**
 * A handler's counters. At every moment
 * `enqueued === sent + sum(dropped) + queued + dlq + inFlight`.
 */
export interface TelemetryStats {
  /** Events handed to `enqueue` while telemetry was enabled. */
  enqueued: number;
  /** Events the endpoint accepted (or that were written to stderr). */
  sent: number;
  /**
   * Events given up on, by reason: `not_an_event`, `invalid_event`, `event_too_large`, `buffer_full`,
   * `retries_exhausted`, `unsafe_redirect`, `too_many_redirects`, `bad_redirect`, `http_<status>`,
   * `dry_run`, `invalid_endpoint`.
   */
  dropped: Record<string, number>;
  /** Events waiting for the next flush. */
  queued: number;
  /** Events that failed and wait to be retried (the dead-letter queue). */
  dlq: number;
  /** Events in a request right now. */
  inFlight: number;
}

/** Room in an envelope for a schema version longer than the default "1.5". */
const SCHEMA_VERSION_SLACK_BYTES = 64;

const encoder = new TextEncoder();

/**
 * The telemetry handler: the TypeScript counterpart of the Python
 * `nat.utils.telemetry` handler, with the same options and defaults.
 *
 * Events are serialized when enqueued, sent in batches (DLQ first), retried
 * with jittered exponential backoff, and dropped with a counted reason when
 * they cannot be delivered. `stop()` (or leaving an `await using` block)
 * flushes within the exit budget.
 *
 * @example Context-manager form: the final flush happens when the block ends.
 * ```ts
 * import { CliCommandEvent, NATTelemetryHandler } from "@nat/telemetry";
 *
 * await using telemetry = new NATTelemetryHandler({ endpoint: "" });
 * telemetry.enqueue(new CliCommandEvent({ command: "run", taskStatus: "success", exitCode: 0 }));
 * ```
 * @example Explicit start and stop, as a long-lived program would.
 * ```ts
 * import { CliCommandEvent, NATTelemetryHandler } from "@nat/telemetry";
 *
 * const telemetry = new NATTelemetryHandler({ endpoint: "stdout", flushIntervalSeconds: 30 });
 * telemetry.start();
 * telemetry.enqueue(new CliCommandEvent({ command: "serve", taskStatus: "completed" }));
 * await telemetry.stop();
 * console.log(telemetry.stats());
 * ```
 */
export class NATTelemetryHandler implements AsyncDisposable {
  readonly #options: ResolvedOptions;
  /** The largest event that still fits an envelope, in bytes. */
  readonly #maxEventBytes: number;
  #queue: PendingEvent[] = [];
  #dlq: PendingEvent[] = [];
  /** Events taken by a flush and not settled yet. At the exit deadline they are taken back into the DLQ. */
  readonly #inFlight = new Set<PendingEvent>();
  #enqueued = 0;
  #sent = 0;
  readonly #dropped: Record<string, number> = {};
  #ticking = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The end of the chain of flushes; flushes never overlap. */
  #lastFlush: Promise<void> = Promise.resolve();
  /** A flush requested but not started yet; later requests join it. */
  #waitingFlush: Promise<void> | undefined;
  /** Aborted when the exit budget runs out: in-flight requests stop and their events stay pending. */
  #interrupt = new AbortController();
  #stopping: Promise<void> | undefined;

  /**
   * Creates a handler. It sends nothing and starts no timer until used.
   *
   * @param options The handler's options; see {@link NATTelemetryHandlerOptions}.
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When a number is out of range, e.g.
   *   "Cannot create handler: 'maxRetries' must be a non-negative integer, got -1".
   */
  constructor(options: NATTelemetryHandlerOptions = {}) {
    this.#options = resolveOptions(options);
    const emptyEnvelope = encodeEnvelope(this.#header("1.5"), []);
    this.#maxEventBytes = Math.min(
      this.#options.maxEventBytes,
      this.#options.maxBatchBytes - encoder.encode(emptyEnvelope).byteLength - SCHEMA_VERSION_SLACK_BYTES,
    );
  }

  /**
   * Queues an event. A silent no-op while telemetry is disabled; anything that
   * is not a valid {@link TelemetryEvent}, or is too large, or arrives while
   * the buffer is full, is dropped and counted. Never throws.
   * Reaching `maxQueueSize` queued events starts a flush.
   *
   * @param event The event.
   */
  enqueue(event: TelemetryEvent): void {
    try {
      if (!isTelemetryEnabled()) return;
      this.#enqueued++;
      const pending = this.#serialize(event);
      if (typeof pending === "string") return this.#drop(1, pending);
      if (this.#queue.length + this.#dlq.length + this.#inFlight.size >= this.#options.maxBufferedEvents) {
        return this.#drop(1, "buffer_full");
      }
      this.#queue.push(pending);
      if (this.#queue.length >= this.#options.maxQueueSize) void this.flush();
    } catch {
      // Nothing reaches the host; #serialize already caught what events can throw.
    }
  }

  /**
   * Starts the periodic flush every `flushIntervalSeconds`. Idempotent. The
   * timer never keeps the process alive.
   */
  start(): void {
    if (this.#ticking || this.#stopping) return;
    this.#ticking = true;
    this.#scheduleTick();
  }

  /**
   * Sends what is due now: DLQ events whose backoff has passed first, then
   * queued events. Flushes never overlap; a flush requested while one runs
   * happens right after it. Never rejects.
   *
   * @returns A promise that resolves when that send attempt has finished.
   */
  flush(): Promise<void> {
    if (this.#waitingFlush) return this.#waitingFlush;
    const flush = this.#lastFlush.then(() => {
      this.#waitingFlush = undefined;
      return this.#flushDue();
    });
    this.#waitingFlush = flush;
    this.#lastFlush = flush;
    return flush;
  }

  /**
   * Stops the timer and makes the final flush, taking at most
   * `exitTimeoutSeconds` in total: at the deadline, requests in flight are
   * aborted and their events stay pending. Idempotent. Never rejects.
   *
   * @returns A promise that resolves when the handler has stopped.
   */
  stop(): Promise<void> {
    return this.#stopping ??= this.#shutdown();
  }

  /**
   * The same as {@link NATTelemetryHandler.stop}, for `await using`.
   *
   * @returns A promise that resolves when the handler has stopped.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * The handler's counters, a fresh copy.
   *
   * @returns The counters; see {@link TelemetryStats}.
   */
  stats(): TelemetryStats {
    return {
      enqueued: this.#enqueued,
      sent: this.#sent,
      dropped: { ...this.#dropped },
      queued: this.#queue.length,
      dlq: this.#dlq.length,
      inFlight: this.#inFlight.size,
    };
  }

  /** Serializes an event once, or says why it cannot be kept. */
  #serialize(event: unknown): PendingEvent | string {
    if (!(event instanceof TelemetryEvent)) return "not_an_event";
    let json: string;
    try {
      json = JSON.stringify(toWireEvent(event));
    } catch {
      return "invalid_event";
    }
    const bytes = encoder.encode(json).byteLength;
    if (bytes > this.#maxEventBytes) return "event_too_large";
    return { json, bytes, schemaVersion: event.schemaVersion, retries: 0, notBefore: 0 };
  }

  #scheduleTick(): void {
    this.#timer = setTimeout(() => {
      void this.flush().then(() => {
        if (this.#ticking) this.#scheduleTick();
      });
    }, this.#options.flushIntervalMs);
    host().unrefTimer(this.#timer);
  }

  async #shutdown(): Promise<void> {
    this.#ticking = false;
    clearTimeout(this.#timer);
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const budget = new Promise<false>((resolve) => {
      deadline = setTimeout(() => resolve(false), this.#options.exitTimeoutMs);
      host().unrefTimer(deadline);
    });
    const finished = await Promise.race([this.flush().then(() => true), budget]);
    clearTimeout(deadline);
    if (!finished) {
      // Abort what is in flight and take its events back now, rather than wait for the aborts to settle.
      this.#interrupt.abort();
      this.#dlq.unshift(...this.#inFlight);
      this.#inFlight.clear();
    }
    this.#interrupt = new AbortController();
  }

  async #flushDue(): Promise<void> {
    try {
      const now = this.#options.clock();
      const due = this.#dlq.filter((event) => event.notBefore <= now);
      const batch = due.concat(this.#queue);
      if (batch.length === 0) return;
      this.#dlq = this.#dlq.filter((event) => event.notBefore > now);
      this.#queue = [];
      for (const event of batch) this.#inFlight.add(event);
      const envelopeBytes = encoder.encode(encodeEnvelope(this.#header(batch[0].schemaVersion), [])).byteLength;
      const { signal } = this.#interrupt;
      for (const events of planBatches(batch, this.#options.maxBatchBytes, envelopeBytes)) {
        await this.#send(events, signal);
      }
    } catch (error) {
      this.#log(`flush failed unexpectedly: ${error}`);
    }
  }

  /** Sends one batch and settles its events: sent, dropped, split (413), retried or left pending. */
  async #send(events: PendingEvent[], signal: AbortSignal): Promise<void> {
    const outcome = await this.#post(events, signal);
    if (outcome.kind === "too_large" && events.length > 1) {
      const half = Math.ceil(events.length / 2);
      await this.#send(events.slice(0, half), signal);
      await this.#send(events.slice(half), signal);
      return;
    }
    // Events taken back at the exit deadline are no longer this delivery's to settle.
    const owned = events.filter((event) => this.#inFlight.delete(event));
    if (owned.length === 0) return;
    switch (outcome.kind) {
      case "delivered":
        this.#sent += owned.length;
        return;
      case "too_large":
        return this.#drop(1, "http_413");
      case "rejected":
        return this.#drop(owned.length, outcome.reason);
      case "interrupted":
        this.#dlq.unshift(...owned);
        return;
      case "retry":
        return this.#retryLater(owned, outcome.reason, outcome.retryAfterMs);
    }
  }

  #post(events: readonly PendingEvent[], signal: AbortSignal): Promise<DeliveryOutcome> | DeliveryOutcome {
    const { sink } = this.#options;
    if (sink.kind === "none") return { kind: "rejected", reason: sink.reason };
    const body = encodeEnvelope(this.#header(events[0].schemaVersion), events.map((event) => event.json));
    if (sink.kind === "stderr") {
      host().writeStderr(`${body}\n`);
      return { kind: "delivered" };
    }
    return deliver({
      url: sink.url,
      body,
      fetch: this.#options.fetch,
      timeoutMs: this.#options.requestTimeoutMs,
      signal,
      now: this.#options.clock,
      unrefTimer: host().unrefTimer,
    });
  }

  #retryLater(events: readonly PendingEvent[], reason: string, retryAfterMs: number | undefined): void {
    const { maxRetries, backoff, clock, random } = this.#options;
    const now = clock();
    let exhausted = 0;
    for (const event of events) {
      event.retries++;
      if (event.retries > maxRetries) {
        exhausted++;
        continue;
      }
      event.notBefore = now + retryDelay(event.retries, backoff, random, retryAfterMs);
      this.#dlq.push(event);
    }
    if (exhausted < events.length) {
      this.#log(`delivery failed (${reason}): ${events.length - exhausted} event(s) kept for retry`);
    }
    if (exhausted > 0) this.#drop(exhausted, "retries_exhausted", `last failure: ${reason}`);
  }

  #drop(count: number, reason: string, detail?: string): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + count;
    this.#log(`dropped ${count} event(s): ${reason}${detail ? ` (${detail})` : ""}`);
  }

  #log(message: string): void {
    try {
      this.#options.logger(`[nat-telemetry] ${message}`);
    } catch {
      // A broken logger must not break the host program.
    }
  }

  #header(schemaVersion: string) {
    return envelopeHeader(schemaVersion, {
      sourceClientVersion: this.#options.sourceClientVersion,
      sessionId: this.#options.sessionId,
      cpuArchitecture: runtimeInfo().machine,
      sentAt: this.#options.clock(),
    });
  }
}
