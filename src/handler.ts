/**
 * {@link NATTelemetryHandler}: batches events, delivers them with bounded
 * retries, keeps every event accounted for, and never throws into, slows or
 * keeps alive the program that uses it.
 *
 * @module
 */
import { retryDelay } from "./backoff.ts";
import { Backlog } from "./backlog.ts";
import { type PendingEvent, planBatches, toPending } from "./batch.ts";
import { isTelemetryEnabled } from "./consent.ts";
import { deliver, type DeliveryOutcome } from "./delivery.ts";
import type { TelemetryEvent } from "./events.ts";
import { handOffCommand, startSender } from "./exit_strategy.ts";
import { type NATTelemetryHandlerOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { host } from "./runtime/mod.ts";
import { pythonJsonDumps } from "./python_json.ts";
import { addCount } from "./tally.ts";

/**
 * A handler's counters. At every moment
 * `enqueued + replayed === sent + sum(dropped) + queued + dlq + inFlight + spooled`.
 */
export interface TelemetryStats {
  /** Events handed to `enqueue` while telemetry was enabled. */
  enqueued: number;
  /** Events this handler took from the spool (left there by earlier runs), dropped ones included. */
  replayed: number;
  /** Events the endpoint accepted (or that were written to stderr). */
  sent: number;
  /**
   * Events given up on, by reason: `not_an_event`, `invalid_event`, `event_too_large`, `buffer_full`,
   * `retries_exhausted`, `unsafe_redirect`, `too_many_redirects`, `bad_redirect`, `http_<status>`,
   * `dry_run`, `invalid_endpoint`; for spooled events `spool_full`, `spool_expired`, `spool_corrupt`,
   * `spool_unavailable` (the spool could not be written); `otlp_rejected` (an OTLP partial success).
   */
  dropped: Record<string, number>;
  /** Events waiting for the next flush. */
  queued: number;
  /** Events that failed and wait to be retried (the dead-letter queue). */
  dlq: number;
  /** Events in a request right now. */
  inFlight: number;
  /** Events this handler wrote to the spool for a later run. */
  spooled: number;
}

/** Room in an envelope for a schema version longer than the default "1.5". */
const SCHEMA_VERSION_SLACK_BYTES = 64;

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
  #replayed = 0;
  #sent = 0;
  #spooled = 0;
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
  /** Unregisters the exit hooks and signal listeners; set while they are registered. */
  #unhook: (() => void) | undefined;
  /** The spool, the endpoint's health and claims: `undefined` until first needed, `null` when there is no spool. */
  #disk: Backlog | null | undefined;
  /** Whether the spool has been read since the endpoint was last known healthy. */
  #replayDone = false;

  /**
   * Creates a handler. It sends nothing, touches no file and starts no timer until used.
   *
   * @param options The handler's options; see {@link NATTelemetryHandlerOptions}.
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When a number is out of range, e.g.
   *   "Cannot create handler: 'maxRetries' must be a non-negative integer, got -1".
   */
  constructor(options: NATTelemetryHandlerOptions = {}) {
    this.#options = resolveOptions(options);
    const { format, sessionId, maxEventBytes, maxBatchBytes } = this.#options;
    const empty = { json: "", bytes: 0, schemaVersion: "1.5", sessionId, timestamp: 0, retries: 0, notBefore: 0 };
    this.#maxEventBytes = Math.min(
      maxEventBytes,
      maxBatchBytes - format.emptyBytes(empty) - SCHEMA_VERSION_SLACK_BYTES,
    );
  }

  /**
   * Queues an event. A silent no-op while telemetry is disabled; anything that
   * is not a valid {@link TelemetryEvent}, or is too large, or arrives while
   * the buffer is full, is dropped and counted. Never throws.
   * Reaching `maxQueueSize` queued events starts a flush. The first event
   * registers the exit hooks that flush or spool at exit.
   *
   * @param event The event.
   */
  enqueue(event: TelemetryEvent): void {
    try {
      if (!isTelemetryEnabled()) return;
      this.#hookExit();
      this.#enqueued++;
      const pending = toPending(event, this.#options.sessionId, this.#maxEventBytes);
      if (typeof pending === "string") return this.#drop(1, pending);
      if (this.#held() >= this.#options.maxBufferedEvents) return this.#drop(1, "buffer_full");
      this.#queue.push(pending);
      if (this.#queue.length >= this.#options.maxQueueSize) void this.flush();
    } catch {
      // Nothing reaches the host; toPending already caught what events can throw.
    }
  }

  /**
   * Starts the periodic flush every `flushIntervalSeconds` and registers the
   * exit hooks. Idempotent. The timer never keeps the process alive.
   */
  start(): void {
    if (this.#ticking || this.#stopping) return;
    this.#ticking = true;
    this.#hookExit();
    this.#scheduleTick();
  }

  /**
   * Sends what is due now: DLQ events whose backoff has passed first (events
   * left in the spool by earlier runs among them), then queued events.
   * Flushes never overlap; a flush requested while one runs happens right
   * after it. While the endpoint is known to be down, nothing is sent. Never rejects.
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
   * aborted and their events stay pending. What is still pending then goes
   * to the spool for a later run. While the endpoint is known to be down, it
   * spools at once without trying. Idempotent. Never rejects.
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
      replayed: this.#replayed,
      sent: this.#sent,
      dropped: { ...this.#dropped },
      queued: this.#queue.length,
      dlq: this.#dlq.length,
      inFlight: this.#inFlight.size,
      spooled: this.#spooled,
    };
  }

  #held(): number {
    return this.#queue.length + this.#dlq.length + this.#inFlight.size;
  }

  /** Registers the exit hooks (and, if asked, the interrupt listeners) unless they are registered. */
  #hookExit(): void {
    if (this.#unhook) return;
    const runtime = host();
    const unhookExit = runtime.onExit({
      beforeExit: () => {
        const started = this.#stopping === undefined;
        void this.stop();
        return started;
      },
      exit: () => this.#handOff() || this.#spoolPending(),
    });
    const onInterrupt = this.#options.captureInterrupts;
    const unhookInterrupts = onInterrupt
      ? runtime.onInterrupt((signal) => {
        onInterrupt(signal);
        if (!this.#handOff()) this.#spoolPending();
      })
      : undefined;
    this.#unhook = () => {
      unhookExit();
      unhookInterrupts?.();
    };
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
    // Only when set: under Deno the first timer call of a process loads its timer module (~10 ms).
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    // The exit that never waits on the network: spool, and let a sender process deliver (exit_strategy.ts).
    if (this.#held() > 0 && this.#handOff()) {
      this.#unhook?.();
      this.#unhook = undefined;
      return;
    }
    this.#replay();
    // Nothing to send, or the endpoint is known to be down: spool at once, without paying the exit budget.
    if (this.#held() > 0 && !this.#deliveryPaused()) await this.#finalFlush();
    this.#spoolPending();
    this.#unhook?.();
    this.#unhook = undefined;
  }

  /** Flushes within the exit budget; at the deadline, aborts what is in flight and keeps its events. */
  async #finalFlush(): Promise<void> {
    const health = this.#openDisk()?.health;
    // A recovering endpoint: hold other runs off while this one probes it.
    if (health?.state) health.lease(this.#options.exitTimeoutMs + 1000);
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
      health?.recordFailure();
    }
    this.#interrupt = new AbortController();
  }

  /** Whether delivery must wait: the endpoint is known to be down, or (Deno) there is no permission to reach it. */
  #deliveryPaused(): boolean {
    const { sink } = this.#options;
    return sink.kind === "http" && (this.#openDisk()?.health.isOpen() === true || !host().canConnect(sink.url));
  }

  async #flushDue(): Promise<void> {
    try {
      this.#disk?.renewClaims();
      this.#replay();
      if (this.#deliveryPaused()) return;
      const now = this.#options.clock();
      const due = this.#dlq.filter((event) => event.notBefore <= now);
      const batch = due.concat(this.#queue);
      if (batch.length === 0) return;
      this.#dlq = this.#dlq.filter((event) => event.notBefore > now);
      this.#queue = [];
      for (const event of batch) this.#inFlight.add(event);
      const { format, maxBatchBytes } = this.#options;
      const { signal } = this.#interrupt;
      const result: FlushResult = { delivered: false, failed: false };
      for (const events of planBatches(batch, maxBatchBytes, format.emptyBytes, format.eventBytes)) {
        await this.#send(events, signal, result);
      }
      const health = this.#disk?.health;
      if (result.delivered && health?.recordSuccess()) this.#replayDone = false;
      else if (result.failed && !result.delivered) health?.recordFailure(result.retryAfterMs);
    } catch (error) {
      this.#log(`flush failed unexpectedly: ${error}`);
    }
  }

  /** Sends one batch and settles its events: sent, dropped, split (413), retried or left pending. */
  async #send(events: PendingEvent[], signal: AbortSignal, result: FlushResult): Promise<void> {
    const outcome = await this.#post(events, signal);
    if (outcome.kind === "too_large" && events.length > 1) {
      const half = Math.floor(events.length / 2); // as the Python handler splits: 3 events → [e0], [e1, e2]
      await this.#send(events.slice(0, half), signal, result);
      await this.#send(events.slice(half), signal, result);
      return;
    }
    // Events taken back at the exit deadline are no longer this delivery's to settle.
    const owned = events.filter((event) => this.#inFlight.delete(event));
    if (owned.length === 0) return;
    switch (outcome.kind) {
      case "delivered": {
        result.delivered = true;
        // OTLP partial success: the server says how many it rejected (not which); those are never retried.
        const rejected = Math.min(outcome.rejected ?? 0, owned.length);
        this.#sent += owned.length - rejected;
        if (rejected > 0) this.#drop(rejected, "otlp_rejected");
        return this.#settle(owned);
      }
      case "too_large":
        this.#drop(1, "http_413");
        return this.#settle(owned);
      case "rejected":
        this.#drop(owned.length, outcome.reason);
        return this.#settle(owned);
      case "interrupted":
        this.#dlq.unshift(...owned);
        return;
      case "retry":
        result.failed = true;
        result.retryAfterMs = Math.max(result.retryAfterMs ?? 0, outcome.retryAfterMs ?? 0);
        return this.#retryLater(owned, outcome.reason, outcome.retryAfterMs);
    }
  }

  #post(events: readonly PendingEvent[], signal: AbortSignal): Promise<DeliveryOutcome> | DeliveryOutcome {
    const { sink } = this.#options;
    if (sink.kind === "none") return { kind: "rejected", reason: sink.reason };
    const { format, headers } = this.#options;
    const body = format.encode(events, this.#options.clock());
    if (sink.kind === "stderr") {
      host().writeStderr(`${pythonJsonDumps(JSON.parse(body))}\n`); // the bytes the Python tool prints
      return { kind: "delivered" };
    }
    return deliver({
      url: sink.url,
      body,
      headers,
      classify: (status, retryAfterMs, answer) => format.classify(status, retryAfterMs, answer, events.length),
      readAnswer: format.readsAnswer,
      fetch: this.#options.fetch,
      timeoutMs: this.#options.requestTimeoutMs,
      signal,
      now: this.#options.clock,
      unrefTimer: host().unrefTimer,
      mayConnect: host().canConnect,
    });
  }

  #retryLater(events: readonly PendingEvent[], reason: string, retryAfterMs: number | undefined): void {
    const { maxRetries, backoff, clock, random } = this.#options;
    const now = clock();
    const exhausted: PendingEvent[] = [];
    for (const event of events) {
      event.retries++;
      if (event.retries > maxRetries) {
        exhausted.push(event);
        continue;
      }
      event.notBefore = now + retryDelay(event.retries, backoff, random, retryAfterMs);
      this.#dlq.push(event);
    }
    if (exhausted.length < events.length) {
      this.#log(`delivery failed (${reason}): ${events.length - exhausted.length} event(s) kept for retry`);
    }
    if (exhausted.length > 0) this.#drop(exhausted.length, "retries_exhausted", `last failure: ${reason}`);
    this.#settle(exhausted);
  }

  /** Events are done with (sent or dropped): spool files whose events are all done are deleted. */
  #settle(events: readonly PendingEvent[]): void {
    this.#disk?.settle(events);
  }

  /** Opens the spool and the endpoint's health on first need; only an HTTP sink has them. */
  #openDisk(): Backlog | null {
    return this.#disk ??= Backlog.open(this.#options);
  }

  /** Takes events that earlier runs left in the spool into the DLQ, once per healthy period. */
  #replay(): void {
    // Events spooled before the user opted out stay unsent: their decision now is what counts.
    if (this.#replayDone || !isTelemetryEnabled() || this.#deliveryPaused()) return;
    this.#replayDone = true;
    const replayed = this.#openDisk()?.replay(this.#options.maxBufferedEvents - this.#held());
    if (!replayed) return;
    this.#countFromDisk(replayed.dropped);
    this.#replayed += replayed.events.length;
    this.#dlq.push(...replayed.events);
  }

  /**
   * Writes every pending event (queued, DLQ and in flight) to the spool, synchronously: the exit hook, the
   * interrupt hook and the end of stop() call it. When a spool was asked for but cannot be used, the events are
   * dropped as `spool_unavailable`; with `spoolDir: false` they stay in memory.
   */
  #spoolPending(): void {
    const pending = [...this.#dlq, ...this.#inFlight, ...this.#queue];
    if (pending.length === 0) return;
    const disk = this.#openDisk();
    if (!disk && this.#options.spoolDir === undefined) return;
    this.#dlq = [];
    this.#inFlight.clear();
    this.#queue = [];
    try {
      if (!disk) throw new Error("no spool");
      const { spooled, dropped, olderDropped } = disk.write(pending);
      this.#spooled += spooled;
      for (const [reason, count] of Object.entries(dropped)) this.#drop(count, reason);
      this.#countFromDisk(olderDropped); // earlier runs' events, taken from disk by this run and dropped
    } catch {
      this.#drop(pending.length, "spool_unavailable");
    }
    // Events from claimed files are settled now: sent, dropped, or in the new file.
    disk?.releaseAll();
  }

  /** Events this run took from disk and dropped: counted as replayed, and dropped. */
  #countFromDisk(dropped: Record<string, number>): void {
    for (const [reason, count] of Object.entries(dropped)) {
      this.#replayed += count;
      this.#drop(count, reason);
    }
  }

  /**
   * Hands what is pending to a sender process, when the exit strategy says so: spools it (synchronously, so
   * the exit and interrupt hooks can call this too) and starts a sender unless one is at work.
   *
   * @returns `false` when this run delivers in process instead.
   */
  #handOff(): boolean {
    const disk = this.#openDisk();
    const command = disk && handOffCommand(this.#options, disk);
    if (!disk || !command) return false;
    this.#spoolPending();
    startSender(this.#options, disk, command);
    return true;
  }

  #drop(count: number, reason: string, detail?: string): void {
    addCount(this.#dropped, reason, count);
    this.#log(`dropped ${count} event(s): ${reason}${detail ? ` (${detail})` : ""}`);
  }

  #log(message: string): void {
    try {
      this.#options.logger(`[nat-telemetry] ${message}`);
    } catch {
      // A broken logger must not break the host program.
    }
  }
}

/** What one flush learned about the endpoint. */
interface FlushResult {
  delivered: boolean;
  failed: boolean;
  retryAfterMs?: number;
}
