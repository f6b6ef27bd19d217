/**
 * {@link NATTelemetryHandler}: batches events, delivers them with bounded
 * retries, keeps every event accounted for, and never throws into, slows or
 * keeps alive the program that uses it.
 *
 * @module
 */
import { retryDelay } from "./backoff.ts";
import { Backlog } from "./backlog.ts";
import { type SpoolClaim, spoolLeavesOut } from "./spool.ts";
import { type PendingEvent, planBatches, toPending } from "./batch.ts";
import { consentHolds, isTelemetryEnabled, liveDecision, optOutOverridden } from "./consent.ts";
import { setDeadline } from "./deadline.ts";
import { debugTrail, tellLogger } from "./debug.ts";
import { clearTextSecrets } from "./clear_text.ts";
import { maskUrls, redact } from "./describe.ts";
import { deliver, type DeliveryOutcome } from "./delivery.ts";
import type { TelemetryEvent } from "./events.ts";
import { backlogIsOurs, exitDecision, startSender, withSenderScript } from "./exit_strategy.ts";
import { downUntil, type HealthState } from "./health.ts";
import { type NATTelemetryHandlerOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { InFlight } from "./in_flight.ts";
import { pythonJsonDumps } from "./python_json.ts";
import { host } from "./runtime/mod.ts";
import { addCount } from "./tally.ts";
import { recordDrops } from "./drops_record.ts";

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
   * `retries_exhausted`, `unsafe_redirect`, `too_many_redirects`, `bad_redirect`, `http_<status>`, `dry_run`,
   * `invalid_endpoint`, `invalid_headers`, `endpoint_hidden`; for spooled events `spool_full`, `spool_expired`,
   * `spool_corrupt`, `spool_unavailable` (the spool could not be written); `otlp_rejected` (an OTLP partial
   * success); `opted_out` (the user opted out during the run: neither sent nor spooled).
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

/**
 * Which flush holds back what a request a run ended before its answer may have delivered ({@link PendingEvent.cuts}),
 * lest each run send it once more: events cut this many times or more. The flushes a program's work brings about (the
 * one a run starts with, those enqueues ask for) hold them all: a command that ends at once would cut them again; a
 * periodic flush holds those cut twice (a long-lived program sends what earlier runs' exits cut, but not what its own
 * flushes keep losing to exits: a short flush interval); a flush the program or its stop asks for, a sender's and
 * `nat-telemetry flush` hold none. A cut by the run's end counts as no retry: a request ended before the answer may
 * not have left; one by the exit budget, which gave it all it had, does (`#cutInFlight`).
 */
const HELD_FROM = { working: 1, periodic: 2, asked: Infinity } as const;

/**
 * The share of its timeout after which a request the exit budget cuts counts as timed out; of the time the stop could
 * give it, as a try (`#cutInFlight`).
 */
const TIMED_OUT_SHARE = 0.9;

/** What a stopping handler's claims outlast its exit budget by: time for its last spool write. */
const CLAIM_MARGIN_MS = 1_000;

/** The shortest lease of a running handler's claims, which its periodic flush renews while it holds them. */
const CLAIM_LEASE_MS = 300_000;

/** The longest that flushes make it: a handler that flushes less often than this lets its claims go between two. */
const MAX_CLAIM_LEASE_MS = 3_600_000;

/** Requests one flush has in flight at most: a backlog of many runs (sessions) goes out a few at a time. */
export const MAX_CONCURRENT_REQUESTS = 4;

/** The exit budget of `stop()`: when it ends, and a promise that resolves then. */
interface Budget {
  /** When it ends, on the host's monotonic clock: a wall clock stepped back would let requests start past it. */
  readonly end: number;
  /** Resolves with `false` when it ends; its timer starts when first asked for (a hand-off never waits). */
  over(): Promise<false>;
  /** Stops its timer. */
  clear(): void;
}

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
  #queue: PendingEvent[] = [];
  #dlq: PendingEvent[] = [];
  /** Batches taken by a flush and not settled yet. At the exit deadline their events are taken back into the DLQ. */
  readonly #inFlight = new InFlight();
  #enqueued = 0;
  #replayed = 0;
  #sent = 0;
  #spooled = 0;
  readonly #dropped: Record<string, number> = {};
  /** Of those, what {@link #tellDrops} has recorded beside the spool. */
  readonly #dropsTold: Record<string, number> = {};
  #ticking = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The end of the chain of flushes; flushes never overlap. */
  #lastFlush: Promise<void> = Promise.resolve();
  /** A flush requested but not started yet; later requests join it. */
  #waitingFlush: Promise<void> | undefined;
  /** The flush requested but not started yet holds back events cut this many times or more (see {@link HELD_FROM}). */
  #waitingHeldFrom: number = HELD_FROM.working;
  /** Hand-offs to a sender so far: a flush requested before one has nothing left to do (see `#handOff`). */
  #handOffs = 0;
  /** Aborted when the exit budget runs out: in-flight requests stop and their events stay pending. */
  #interruptController: AbortController | undefined;
  /**
   * Each request in flight: when it started (the host's monotonic clock), to tell a request's own timeout from the
   * budget's; its events; and whether a 2xx answer has come for them, its body still coming (OTLP).
   */
  readonly #requests = new Set<{ readonly started: number; readonly events: PendingEvent[]; accepted: boolean }>();
  /** How long the last request that ended took, and when it ended (the host's monotonic clock): what the next may take. */
  #lastRequest: { readonly ms: number; readonly endedAt: number } | undefined;
  /** A spool write failed (a full disk, a read-only one): the endpoint's health no longer holds this run off. */
  #spoolRefused = false;
  /** The exit budget, while `stop()` runs. */
  #budget: Budget | undefined;
  /** The `NAT_TELEMETRY_DEBUG` trail, when it is on. */
  readonly #debug = debugTrail();
  /** Whether the trail has said why events are not recorded. */
  #toldDisabled = false;
  /** Whether the trail has had this handler's settings. */
  #toldSettings = false;
  /**
   * An event has been recorded after the exit's hooks ran; while a later one is, what it says goes to the trail only:
   * a logger that records an event for each line it hears, however it defers it, would otherwise hold the exit forever.
   */
  #recordedLate = false;
  #toTrailOnly = false;
  /**
   * Events a full buffer dropped since its first drop was told, not told yet; `undefined` when that first is yet to
   * come. A program's logger heard a line for each such event, 19,000 of them in an outage of 20,000 events.
   */
  #fullUntold: number | undefined;
  /** The user opted out during the run: what was pending was dropped, and nothing is handed off. */
  #optedOut = false;
  /**
   * Until when a server asked to wait (`Retry-After`) while it accepted other requests: events written to the spool
   * lose their own wait (each event's `notBefore` lives in memory), so as they go there it becomes the endpoint's,
   * for every run and sender (a sender's next pass would otherwise resend within a second).
   */
  #serverWaitUntil = 0;

  #stopping: Promise<void> | undefined;
  /** Unregisters the exit hooks and signal listeners; set while they are registered. */
  #unhook: (() => void) | undefined;
  /** The spool, the endpoint's health and claims: `undefined` until first needed, `null` when there was none at the last look. */
  #disk: Backlog | null | undefined;
  /** Why the spool could not be used when last looked at, as told to the logger. */
  #spoolRefusal: string | undefined;
  /**
   * Whether the spool has been read since the endpoint was last known healthy, and the last read found nothing to take
   * or what it took is not delivered yet (a read takes a bounded part of a backlog: it is read again once that is).
   */
  #replayDone = false;
  /** Whether the last read of the spool took events: a backlog of more may wait there. */
  #replayTook = false;
  /**
   * The endpoint's health as this handler's own failed flush left it on record; this handler's failed flushes in a
   * row; and when its own backoff lets it probe the endpoint again (on its options' `waitClock`).
   */
  #ownPause: { readonly state: HealthState; readonly failures: number; readonly probeAt: number } | undefined;

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
      if (!isTelemetryEnabled()) return this.#tellDisabled();
      // Recorded from an exit listener of the program's (after a stop(), as trackCommand records a command that
      // never settled): a hook added now would run in this very exit, and hand off a second time.
      const exiting = host().exiting();
      if (exiting) {
        this.#tellSettings();
        this.#toTrailOnly = this.#recordedLate;
        this.#recordedLate = true;
      } else {
        this.#hookExit();
      }
      this.#enqueued++;
      const pending = toPending(event, this.#options);
      if ("reason" in pending) return this.#drop(1, pending.reason, pending.detail);
      if (this.#held() >= this.#options.maxBufferedEvents) return this.#dropFull();
      this.#queue.push(pending);
      // No exit hook of ours is left to run for it: it goes where the exit would have sent it, at once.
      if (exiting) return void (this.#handOff(true) || this.#spoolAtOnce());
      // After this turn: a handler stopped right after its event (trackCommand's) never sets a timer.
      if (this.#ticking && this.#timer === undefined) queueMicrotask(() => this.#tickFromNowOn());
      if (this.#queue.length >= this.#options.maxQueueSize) void this.#flushAfterOthers(HELD_FROM.working);
    } catch {
      // Nothing reaches the host; toPending already caught what events can throw.
    } finally {
      this.#toTrailOnly = false;
    }
  }

  /**
   * Starts the periodic flush every `flushIntervalSeconds`, from when the
   * first event is held, and registers the exit hooks. Where this run's exit
   * would deliver what earlier runs spooled itself (the hand-off is off, as in
   * CI), it starts delivering it now. Idempotent. The timer never keeps the
   * process alive.
   */
  start(): void {
    if (this.#ticking || this.#stopping) return;
    this.#ticking = true;
    this.#hookExit();
    // A timer with nothing to flush would only cost: under Deno a process's first timer loads its timer module.
    if (this.#held() > 0) this.#tickFromNowOn();
    // What earlier runs spooled and this run's exit would deliver itself: start now, while the program works.
    else if (isTelemetryEnabled() && !this.#deliveryPaused() && backlogIsOurs(this.#options, this.#openDisk())) {
      void this.#flushAfterOthers(HELD_FROM.working);
    }
  }

  /**
   * Sends what is due now: DLQ events whose backoff has passed first (events
   * left in the spool by earlier runs among them), then queued events.
   * Flushes never overlap; a flush requested while one runs happens right
   * after it, and one requested while `stop()` runs is that stop (it resolves
   * with it). While the endpoint is known to be down, nothing is sent. Never rejects.
   *
   * @returns A promise that resolves when that send attempt has finished.
   */
  flush(): Promise<void> {
    return this.#flushAfterOthers(HELD_FROM.asked);
  }

  /**
   * A flush once those before it end; one asked for meanwhile is the same, holding back the less of the two. While
   * stop() runs, what is held goes where it sends it: a flush asked for then (the program's, a full queue's) is that
   * stop, lest its request carry events the stop spools or hands off as well; only the stop's own (`byStop`) flushes.
   */
  #flushAfterOthers(heldFrom: number, byStop = false): Promise<void> {
    // The stop's promise read a turn later: its start, before the promise is kept, may tell a logger that flushes.
    if (this.#budget !== undefined && !byStop) return Promise.resolve().then(() => this.#stopping);
    this.#waitingHeldFrom = Math.max(this.#waitingHeldFrom, heldFrom);
    if (this.#waitingFlush) return this.#waitingFlush;
    const handOffs = this.#handOffs;
    const flush = this.#lastFlush.then(() => {
      if (handOffs !== this.#handOffs) return;
      const held = this.#waitingHeldFrom;
      [this.#waitingFlush, this.#waitingHeldFrom] = [undefined, HELD_FROM.working];
      return this.#flushDue(held);
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

  /** The events held (as `#held` counts them): the DLQ's, those in flight, the queue's, in that order. */
  #heldEvents(): PendingEvent[] {
    return [...this.#dlq, ...this.#inFlight.events(), ...this.#queue];
  }

  /** Registers the exit hooks (and, if asked, the interrupt listeners) unless they are registered. */
  #hookExit(): void {
    if (this.#unhook) return;
    this.#tellSettings();
    const runtime = host();
    // A program that broke what the listeners need (its `process.on`, a built-in's prototype) gets none: what is
    // recorded waits for its `stop()`; a Ctrl-C ends it as without the handler.
    const hook = <T>(install: () => T): T | undefined => {
      try {
        return install();
      } catch {
        this.#log("an exit hook could not be installed: what is recorded waits for stop()");
        return undefined;
      }
    };
    const unhookExit = hook(() =>
      runtime.onExit({
        beforeExit: () => {
          const started = this.#stopping === undefined;
          void this.stop();
          return started;
        },
        exit: () => {
          if (!this.#handOff(true)) this.#spoolAtOnce();
          this.#tellDrops();
        },
      })
    );
    const onInterrupt = this.#options.captureInterrupts;
    const unhookInterrupts = onInterrupt
      ? hook(() =>
        runtime.onInterrupt((signal) => {
          try {
            onInterrupt(signal);
          } finally {
            // A program's function that throws (its own cleanup's bug) loses nothing of what this handler holds.
            if (!this.#handOff(true)) this.#spoolAtOnce();
            this.#tellDrops();
          }
        })
      )
      : undefined;
    this.#unhook = () => {
      unhookExit?.();
      unhookInterrupts?.();
    };
  }

  /** Starts the periodic flush, unless it runs already or the handler is stopping. */
  #tickFromNowOn(): void {
    if (this.#ticking && this.#timer === undefined) this.#scheduleTick();
  }

  #scheduleTick(): void {
    this.#timer = setTimeout(() => {
      void this.#flushAfterOthers(HELD_FROM.periodic).then(() => {
        if (this.#ticking) this.#scheduleTick();
      });
    }, this.#options.flushIntervalMs);
    host().unrefTimer(this.#timer);
  }

  async #shutdown(): Promise<void> {
    this.#ticking = false;
    // Only when set: under Deno the first timer call of a process loads its timer module (~5 ms).
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const budget = this.#budget = startBudget(this.#options.exitTimeoutMs);
    this.#tellFullDrops();
    // What it claimed while it ran, killed in its exit, waits for others as long as its exit would, not minutes.
    this.#renewClaims();
    const enqueuedBefore = this.#enqueued;
    let failed = false;
    try {
      // A request in flight carries events the endpoint may have received already: let it end (within the
      // budget) rather than hand them off, or spool them, a second time.
      if (this.#inFlight.size > 0 && !(await Promise.race([this.#lastFlush.then(() => true), budget.over()]))) {
        this.#cutInFlight();
      }
      // The exit that never waits on the network: spool, and let a sender process deliver (exit_strategy.ts).
      if (this.#held() > 0 && this.#handOff()) return;
      this.#replay();
      // The endpoint known to be down: spool at once, without paying the exit budget; but where the spool cannot
      // take them (a full disk), a try in process is their only chance (#deliveryPaused).
      if (this.#held() > 0 && this.#deliveryPaused()) this.#spoolPending(true);
      if (this.#held() > 0 && !this.#deliveryPaused()) await this.#finalFlush(budget);
      this.#spoolPending();
    } catch (error) {
      // As a flush: a program that broke a built-in the handler relies on gets no error from `await using`; the exit
      // hooks stay, to hand off or spool what is held at the process's end.
      this.#log(`stop failed unexpectedly: ${error}`);
      failed = true;
    } finally {
      this.#tellDrops();
      budget.clear();
      this.#budget = undefined;
      // Kept where the program recorded events while the stop ran, after it had sent what was held (a logger's, told
      // how the exit delivers): the exit sends them where it sends what is recorded after a stop; and where events
      // wait in memory, with no spool, for a flush after the stop: the exit counts those it finds lost.
      const recordedMeanwhile = this.#enqueued > enqueuedBefore && this.#held() > 0;
      const waitingInMemory = this.#held() > 0 && this.#spoolless(this.#disk);
      if (!failed && !recordedMeanwhile && !waitingInMemory) {
        this.#unhook?.();
        this.#unhook = undefined;
      }
    }
  }

  /** Flushes within the exit budget; when it ends, aborts what is in flight and keeps its events. */
  async #finalFlush(budget: Budget): Promise<void> {
    // A recovering endpoint: hold other runs off while this one probes it.
    const health = this.#openDisk()?.health;
    if (health?.state) health.lease(this.#options.exitTimeoutMs + 1000);
    const flushed = this.#flushAfterOthers(HELD_FROM.asked, true).then(() => true);
    if (!(await Promise.race([flushed, budget.over()]))) this.#cutInFlight();
  }

  /**
   * The exit budget ran out: aborts what is in flight and takes its events back now, rather than wait for the
   * aborts to settle. A request that had (nearly) all the time the stop could give it (the budget, or its own timeout
   * if shorter; its timeout where the budget is 0) was a try: its events count a retry, as a request that times out
   * does, lest an endpoint slower than the budget get them from every run. That is the endpoint's failure only for a
   * request that had had (nearly) all of its own timeout (the default budget and timeout are equal, and a request
   * starts a little after the budget); cutting a request shorter is this run's doing, not a verdict on the endpoint.
   */
  #cutInFlight(): void {
    const { requestTimeoutMs, exitTimeoutMs } = this.#options;
    const now = host().monotonicMs();
    const triedFor = Math.min(requestTimeoutMs, exitTimeoutMs || requestTimeoutMs) * TIMED_OUT_SHARE;
    const timedOut = [...this.#requests].some(({ started, accepted }) =>
      !accepted && now - started >= requestTimeoutMs * TIMED_OUT_SHARE
    );
    this.#endRequestsUnanswered(({ started }) => now - started >= triedFor);
    this.#interruptController?.abort();
    this.#interruptController = undefined;
    this.#dlq.unshift(...this.#inFlight.events());
    this.#inFlight.clear();
    if (timedOut) this.#disk?.health.recordFailure();
  }

  /**
   * The requests in flight are ended by the run (its exit budget ran out, or the process ends): those whose answer had
   * begun delivered their events (what its body would add, an OTLP partial success, is lost); the others' events may
   * have reached the endpoint all the same, and go back to the DLQ counted so ({@link PendingEvent.cuts}), and, those
   * of a request that was a try (`tried`: see `#cutInFlight`), a retry charged.
   */
  #endRequestsUnanswered(tried: (request: { readonly started: number }) => boolean = () => false): void {
    for (const request of this.#requests) {
      const { events, accepted } = request;
      if (!this.#inFlight.settle(events)) continue; // taken back already
      if (accepted) {
        this.#delivered(events);
        continue;
      }
      for (const event of events) event.cuts = (event.cuts ?? 0) + 1;
      if (!tried(request)) this.#dlq.unshift(...events);
      else this.#chargeTry(events, "the exit budget ended before the answer", (kept) => this.#dlq.unshift(...kept));
    }
  }

  /** The controller the exit budget aborts, made when a flush first sends (a run that hands off never does). */
  #interrupt(): AbortController {
    return this.#interruptController ??= new AbortController();
  }

  /**
   * Whether a flush may start another request now: never once the exit budget has run out (`signal` aborted), or
   * once the user has opted out while a sender delivers ({@link consentHolds});
   * near its end only if the request's timeout ends within the budget (so none is cut that the endpoint may have
   * received). A budget no longer than one request's timeout (the defaults: 2 s each) never has that much left once
   * it runs: there a request starts while what is left is twice what the last one took, where that one ended within a
   * request's timeout (a slow answer long before says little of the endpoint now), so that a slow endpoint (1.5 s an
   * answer) gets one wave of requests at the exit, not a second that the budget cuts after the endpoint received it,
   * to be sent again by the next run; otherwise always.
   */
  #mayStartRequest(signal: AbortSignal): boolean {
    if (signal.aborted || !consentHolds()) return false;
    const { requestTimeoutMs, exitTimeoutMs } = this.#options;
    const budget = this.#budget;
    if (!budget) return true;
    const now = host().monotonicMs();
    const left = budget.end - now;
    if (left >= requestTimeoutMs) return true;
    const last = this.#lastRequest;
    const lately = last !== undefined && now - last.endedAt <= requestTimeoutMs ? last.ms : 0;
    return exitTimeoutMs <= requestTimeoutMs && !(2 * lately > left);
  }

  /** A batch whose request may not start goes back to the DLQ untouched, unless the exit deadline took it back. */
  #putBack(events: PendingEvent[]): void {
    if (this.#inFlight.settle(events)) this.#dlq.push(...events);
  }

  /** Whether delivery must wait: the endpoint is known to be down, or (Deno) there is no permission to reach it. */
  #deliveryPaused(): boolean {
    const { sink } = this.#options;
    const down = !this.#spoolRefused && this.#openDisk()?.health.isOpen() === true;
    return sink.kind === "http" && (down || !host().canConnect(sink.url));
  }

  /**
   * Whether a handler that runs on (not stopping) may probe the endpoint while its health keeps new runs and senders
   * off (for up to an hour): when its own backoff says (`backoffMaxSeconds` at most, never before a `Retry-After`
   * it was given), where the pause on record is the one its own failure left (another process's, a server's
   * `Retry-After` perhaps, holds it as every run), so that a long-lived program's events do not wait out an hour.
   */
  #mayProbe(): boolean {
    const { sink, waitClock } = this.#options;
    const pause = this.#ownPause;
    const state = this.#disk?.health.state;
    return this.#budget === undefined && pause !== undefined && state !== undefined &&
      state.failures === pause.state.failures && state.notBefore === pause.state.notBefore &&
      waitClock() >= pause.probeAt && sink.kind === "http" && host().canConnect(sink.url);
  }

  /**
   * A flush's verdict on the endpoint, for every run (its health) and for this handler's own backoff. A probe's
   * failure tells nothing new (the endpoint was known down): it is not recorded as another, which would hold new runs
   * off longer, and the server's `Retry-After` is recorded only where it ends later than the wait on record.
   */
  #judgeEndpoint(result: FlushResult): void {
    const health = this.#disk?.health;
    if (result.delivered) {
      this.#ownPause = undefined;
      // Back up, or, while it runs, what the last read of the spool took is delivered and more may wait (a long-lived
      // host's backlog, 64 files a read): the spool is read again at the next flush.
      const more = this.#replayTook && this.#budget === undefined && !this.#disk?.holdsClaims();
      if (health?.recordSuccess() || more) this.#replayDone = false;
      return;
    }
    if (!result.failed) return;
    // A longer wait another process recorded stands: the pause is not this handler's own to probe.
    const othersWait = !result.probing && health?.recordFailure(result.retryAfterMs) === true;
    if (result.probing && result.retryAfterMs) health?.recordWait(result.retryAfterMs);
    const failures = (this.#ownPause?.failures ?? 0) + 1;
    const { backoff, random, waitClock } = this.#options;
    const probeAt = waitClock() + retryDelay(failures, backoff, random, result.retryAfterMs);
    this.#ownPause = othersWait || !health?.state ? undefined : { state: health.state, failures, probeAt };
  }

  async #flushDue(heldFrom: number): Promise<void> {
    try {
      this.#tellFullDrops();
      this.#renewClaims();
      // The endpoint's health as it is now, where this handler runs on, or knew of failures: another process may have
      // ended a pause since (a delivery, `nat-telemetry flush`), or recorded one (a server's Retry-After). A spool not
      // opened yet reads it as it opens.
      const health = this.#options.sink.kind === "http" ? this.#disk?.health : undefined;
      if (health && (health.state || this.#budget === undefined)) health.refresh();
      this.#replay();
      // Still paused, a probe (#mayProbe) sends this handler's own events only: other runs' wait in the spool.
      const probing = this.#deliveryPaused();
      if (probing && !this.#mayProbe()) return;
      const now = this.#options.waitClock();
      const isDue = (event: PendingEvent) => event.notBefore <= now && (event.cuts ?? 0) < heldFrom;
      const due = this.#dlq.filter(isDue);
      const batch = due.concat(this.#queue);
      if (batch.length === 0) return;
      this.#dlq = this.#dlq.filter((event) => !isDue(event));
      this.#queue = [];
      const batches = this.#batches(batch);
      for (const events of batches) this.#inFlight.add(events);
      const result: FlushResult = { delivered: false, failed: false, probing };
      await this.#sendAll(batches, result);
      this.#judgeEndpoint(result);
      // Some answers delivered, one asked to wait: the events wait in memory; kept until they go to the spool.
      if (result.delivered && result.retryAfterMs) {
        this.#serverWaitUntil = Math.max(this.#serverWaitUntil, this.#options.waitClock() + result.retryAfterMs);
      }
    } catch (error) {
      this.#log(`flush failed unexpectedly: ${error}`);
    }
  }

  /**
   * Sends batches, at most {@link MAX_CONCURRENT_REQUESTS} at a time. Once one fails, or the exit budget has
   * no room for another request, no more start: the rest are due again, untouched (not counted as a retry).
   */
  async #sendAll(batches: PendingEvent[][], result: FlushResult): Promise<void> {
    const { signal } = this.#interrupt();
    let next = 0;
    const worker = async () => {
      while (next < batches.length && !result.failed && this.#mayStartRequest(signal)) {
        await this.#send(batches[next++], signal, result);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MAX_CONCURRENT_REQUESTS, batches.length) }, worker));
    for (const events of batches.slice(next)) this.#putBack(events);
  }

  /** Sends one batch and settles its events: sent, dropped, split (413), retried or left pending. */
  async #send(events: PendingEvent[], signal: AbortSignal, result: FlushResult): Promise<void> {
    this.#renewClaims(); // a flush (its halves after a 413 too) may outlast a lease: what it holds stays this run's
    const ours = this.#stillOurs(events);
    if (ours !== events) {
      this.#inFlight.settle(events);
      if (ours.length === 0) return;
      this.#inFlight.add(ours);
      events = ours;
    }
    const outcome = await this.#post(events, signal);
    this.#tellOutcome(outcome, events.length);
    // Events taken back at the exit deadline are no longer this delivery's to settle.
    if (!this.#inFlight.settle(events)) return;
    if (outcome.kind === "too_large" && events.length > 1) {
      const half = Math.floor(events.length / 2); // as the Python handler splits: 3 events → [e0], [e1, e2]
      const halves = [events.slice(0, half), events.slice(half)];
      for (const part of halves) this.#inFlight.add(part);
      for (const part of halves) {
        // As between batches: near the end of the exit budget no half starts that the budget would cut.
        if (this.#mayStartRequest(signal)) await this.#send(part, signal, result);
        else this.#putBack(part);
      }
      return;
    }
    switch (outcome.kind) {
      case "delivered":
        result.delivered = true;
        return this.#delivered(events, outcome.rejected);
      case "too_large":
        this.#drop(1, "http_413");
        return this.#settle(events);
      case "rejected":
        this.#drop(events.length, outcome.reason, outcome.detail);
        return this.#settle(events);
      case "interrupted":
      case "not_sent":
        this.#dlq.unshift(...events);
        return;
      case "retry":
        result.failed = true;
        result.retryAfterMs = Math.max(result.retryAfterMs ?? 0, outcome.retryAfterMs ?? 0);
        // A probe's events wait for the endpoint, as they did before it: no retry is counted against them, and none
        // goes again before a Retry-After it was given, whatever becomes of the pause.
        if (result.probing) return this.#waitAgain(events, outcome.retryAfterMs);
        return this.#retryLater(events, outcome.reason, outcome.retryAfterMs);
    }
  }

  /** Events a probe carried back to the DLQ, untouched but for a `Retry-After` it was given. */
  #waitAgain(events: PendingEvent[], retryAfterMs = 0): void {
    const notBefore = this.#options.waitClock() + retryAfterMs;
    for (const event of events) event.notBefore = Math.max(event.notBefore, notBefore);
    this.#dlq.unshift(...events);
  }

  /** Events the endpoint has: sent, but for those an OTLP partial success says it rejected (never retried). */
  #delivered(events: PendingEvent[], rejectedCount = 0): void {
    const rejected = Math.min(rejectedCount, events.length);
    this.#sent += events.length - rejected;
    if (rejected > 0) this.#drop(rejected, "otlp_rejected");
    this.#settle(events);
  }

  async #post(events: PendingEvent[], signal: AbortSignal): Promise<DeliveryOutcome> {
    const request = { started: host().monotonicMs(), events, accepted: false };
    this.#requests.add(request);
    try {
      return await this.#deliver(events, signal, () => request.accepted = true);
    } finally {
      this.#requests.delete(request);
      const endedAt = host().monotonicMs();
      this.#lastRequest = { ms: endedAt - request.started, endedAt };
    }
  }

  /** Events cut into the batches of the wire format, within `maxBatchBytes`. */
  #batches(events: readonly PendingEvent[]): PendingEvent[][] {
    const { format, maxBatchBytes } = this.#options;
    return planBatches(events, maxBatchBytes, format.emptyBytes, format.eventBytes);
  }

  /** Lets go of every event held: queued, waiting in the DLQ, in flight (they went to the spool, or are no more). */
  #releaseHeld(): void {
    this.#dlq = [];
    this.#inFlight.clear();
    this.#queue = [];
  }

  /** One request (or, for the stderr sink, one line). */
  async #deliver(
    events: readonly PendingEvent[],
    signal: AbortSignal,
    onAccepted: () => void,
  ): Promise<DeliveryOutcome> {
    const { sink } = this.#options;
    if (sink.kind === "none") return { kind: "rejected", reason: sink.reason, detail: sink.detail };
    const { format, headers } = this.#options;
    const body = format.encode(events, this.#options.clock());
    this.#debug?.(`sending ${events.length} event(s)${sink.kind === "http" ? ` to ${redact(sink.url)}` : ""}: ${body}`);
    if (sink.kind === "stderr") {
      printBody(body);
      return { kind: "delivered" };
    }
    const classify = format.classify;
    return await deliver({
      url: sink.url,
      body,
      headers,
      classify: classify && ((status, retryAfterMs, answer) => classify(status, retryAfterMs, answer, events.length)),
      readAnswer: format.readsAnswer,
      onAccepted,
      fetch: this.#options.fetch,
      timeoutMs: this.#options.requestTimeoutMs,
      signal,
      now: this.#options.clock,
      unrefTimer: host().unrefTimer,
      mayConnect: host().canConnect,
      sendsProxyCredentials: host().sendsProxyCredentials,
    });
  }

  /** The trail's line about what a request's answer means for its events. */
  #tellOutcome(outcome: DeliveryOutcome, count: number): void {
    if (!this.#debug) return;
    const retryAfter = outcome.kind === "retry" && outcome.retryAfterMs !== undefined
      ? `, not before ${outcome.retryAfterMs / 1000} s`
      : "";
    // What a program's own fetch threw is its to read; the runtime's errors may hold what the trail masks.
    const thrown = outcome.kind === "retry" && outcome.thrown !== undefined && this.#options.customFetch
      ? `: its fetch failed: ${
        maskUrls(
          outcome.thrown,
          this.#options.sink.kind === "http" ? this.#options.sink.url : undefined,
          this.#options.headers,
        )
      }`
      : "";
    const what = outcome.kind === "rejected" || outcome.kind === "retry" || outcome.kind === "not_sent"
      ? ` (${outcome.reason}${retryAfter}${thrown})`
      : "";
    this.#debug(`answer for ${count} event(s): ${outcome.kind}${what}`);
  }

  /**
   * The trail's lines about the settings in force, the problems of the options (to the logger too) and of the
   * environment, once per handler, when it is first used.
   */
  #tellSettings(): void {
    if (this.#toldSettings) return;
    this.#toldSettings = true;
    const { sink, format, spoolDir, handOff } = this.#options;
    if (this.#debug) {
      const { enabled, decidedBy } = liveDecision();
      this.#debug(`telemetry ${enabled ? "on" : "off"} (decided by ${decidedBy})`);
      const where = sink.kind === "http"
        ? redact(sink.url)
        : sink.kind === "stderr"
        ? "standard error"
        : sink.reason === "dry_run" && host().envHidden?.("NAT_TELEMETRY_DRY_RUN")
        ? "nowhere (dry_run: the program may not read NAT_TELEMETRY_DRY_RUN, which could ask for one)"
        : `nowhere (${sink.reason})`;
      this.#debug(`endpoint: ${where}; format: ${format.name}; spool: ${spoolDir ?? "none"}`);
    }
    for (const problem of this.#options.problems) this.#log(`problem: ${problem}`);
    if (!this.#debug) return;
    // The user's, not the program's: to the trail alone.
    for (const problem of this.#options.environmentProblems) {
      this.#debug(`environment: ${problem}`);
    }
    const clearText = clearTextSecrets(sink, this.#options.headers);
    if (clearText) this.#debug(`warning: ${clearText}`);
    this.#debug(
      `at exit: ${handOff.enabled ? "hand off where a sender can be started" : "in process"} (${handOff.source})`,
    );
  }

  /** The line about events not recorded while telemetry is off, once per handler, where a trail or logger hears it. */
  #tellDisabled(): void {
    if (this.#toldDisabled || (!this.#debug && !this.#options.logger)) return;
    this.#toldDisabled = true;
    // To the program's logger too: where the trail's variable cannot be read (Deno without --allow-env), it is what
    // tells its author why nothing arrives.
    this.#log(`telemetry off (decided by ${liveDecision().decidedBy}): events are not recorded`);
  }

  #retryLater(events: readonly PendingEvent[], reason: string, retryAfterMs: number | undefined): void {
    const { backoff, waitClock, random } = this.#options;
    const now = waitClock();
    this.#chargeTry(events, reason, (kept) => {
      for (const event of kept) event.notBefore = now + retryDelay(event.retries, backoff, random, retryAfterMs);
      this.#dlq.push(...kept);
    });
  }

  /**
   * Counts a failed try of events: those past `maxRetries` are dropped (`retries_exhausted`), the others given to
   * `keep` (which puts them back in the DLQ); then told, so that a logger reading `stats()` finds each counted.
   */
  #chargeTry(events: readonly PendingEvent[], reason: string, keep: (kept: PendingEvent[]) => void): void {
    const [kept, exhausted]: PendingEvent[][] = [[], []];
    for (const event of events) (++event.retries > this.#options.maxRetries ? exhausted : kept).push(event);
    keep(kept);
    this.#settle(exhausted);
    addCount(this.#dropped, "retries_exhausted", exhausted.length); // counted, then told
    if (kept.length > 0) this.#log(`delivery failed (${reason}): ${kept.length} event(s) kept for retry`);
    if (exhausted.length > 0) this.#tellDropped(exhausted.length, "retries_exhausted", `last failure: ${reason}`);
  }

  /** Events are done with (sent or dropped): spool files whose events are all done are deleted. */
  #settle(events: readonly PendingEvent[]): void {
    this.#disk?.settle(events);
  }

  /** Opens the spool and the endpoint's health on first need; only an HTTP sink has them. */
  #openDisk(): Backlog | null {
    // A spool that cannot be used is looked at again at the next need (a long-lived host's directory may be made or
    // mended meanwhile); why it cannot is told once, and again only when the reason changes.
    this.#disk ??= Backlog.open(this.#options, (why, keptIn) => {
      const told = keptIn === undefined
        ? `no spool: ${why}`
        : `spool kept in ${keptIn}, as its place cannot be used: ${why}`;
      if (told !== this.#spoolRefusal) this.#log(told);
      this.#spoolRefusal = told;
    });
    return this.#disk;
  }

  /**
   * How long this handler holds what it claims from the spool. A running one: five minutes, or two flush intervals (an
   * hour at most) or two request timeouts where longer; renewed by each flush, and before each request, once a
   * quarter of it has passed, so that no request outlasts it. What a run killed while it works (a CI job cancelled, a
   * service ended by SIGTERM) had claimed waits minutes, not an hour. A stopping one: what is left of its exit
   * budget, and a little for its last spool write, so that what a run killed at its exit (a sender, a CLI) had claimed
   * waits seconds.
   */
  #claimLease(): number {
    const budget = this.#budget;
    if (budget) return Math.max(0, budget.end - host().monotonicMs()) + CLAIM_MARGIN_MS;
    const { flushIntervalMs, requestTimeoutMs } = this.#options;
    return Math.max(CLAIM_LEASE_MS, Math.min(MAX_CLAIM_LEASE_MS, 2 * flushIntervalMs), 2 * requestTimeoutMs);
  }

  /**
   * Renews what this handler holds from the spool, so that no request it starts outlasts its claims: a running one's
   * once a quarter of their lease has passed; a stopping one's whenever they end before its budget does (its lease
   * ends with its budget, which bounds its requests), and those taken while it ran are cut to that lease.
   */
  #renewClaims(): void {
    const lease = this.#claimLease();
    const ending = this.#budget !== undefined;
    this.#disk?.renewClaims(lease, ending ? lease : lease * 0.75, ending);
  }

  /**
   * Takes events that earlier runs left in the spool into the DLQ, once per healthy period, and again at each flush
   * after what it took is delivered, while it takes any; never once this handler has handed off: the spool is its
   * sender's.
   */
  #replay(): void {
    // Events spooled before the user opted out stay unsent: their decision now is what counts. So do they where the
    // program turned telemetry on over the user's no (its own events go): looked at again at each flush.
    if (this.#replayDone || this.#handOffs > 0 || !isTelemetryEnabled() || this.#deliveryPaused() || !consentHolds()) {
      return;
    }
    const disk = this.#openDisk();
    if (disk && optOutOverridden() !== undefined) return;
    this.#replayDone = true;
    // A tenth of the buffer (one event at least, one at most left for the backlog) is kept for the run's own events,
    // those it holds counted: an outage's backlog that filled it would have the run's newest events dropped
    // (`buffer_full`) and the oldest kept; the rest waits in the spool.
    const max = this.#options.maxBufferedEvents;
    const kept = Math.max(this.#held(), Math.min(Math.ceil(max / 10), max - 1));
    const replayed = disk?.replay(max - kept, this.#claimLease());
    this.#replayTook = (replayed?.events.length ?? 0) > 0;
    if (!replayed) return;
    this.#countFromDisk(replayed.dropped);
    this.#replayed += replayed.events.length;
    this.#dlq.push(...replayed.events);
    // Held now: a started handler's periodic flush retries them, and renews their claims meanwhile.
    if (replayed.events.length > 0) this.#tickFromNowOn();
  }

  /**
   * Whether what is held has nowhere to wait but memory: no spool directory (none kept, or none usable) and no
   * fallback opened in its place (`disk`, as `#openDisk` left it).
   */
  #spoolless(disk: Backlog | null | undefined): boolean {
    return !disk && this.#options.spoolDir === undefined;
  }

  /**
   * Writes every pending event (queued, DLQ and in flight) to the spool, synchronously: the exit hook, the
   * interrupt hook and the end of stop() call it. When a spool was asked for but cannot be written, the events
   * are dropped as `spool_unavailable`, unless `keepOnFailure` (a hand-off that fails delivers them in process
   * instead); with no spool (`spoolDir: false`) they stay in memory, for a flush after the stop, unless the process
   * `ends`: they are lost then, and dropped as `spool_unavailable`.
   *
   * @param consents Whether the user's decision still holds, where the caller has just read it (read here otherwise).
   * @returns Whether they were written.
   */
  #spoolPending(keepOnFailure = false, consents?: boolean, ends = false): boolean {
    this.#endRequestsUnanswered();
    const held = this.#heldEvents();
    const pending = this.#stillOurs(held);
    if (pending !== held) {
      // The lost ones leave memory too; what is left waits, due, in the DLQ.
      this.#dlq = pending;
      this.#inFlight.clear();
      this.#queue = [];
    }
    if (pending.length === 0) return true;
    if (!(consents ?? consentHolds())) {
      // The user opted out during the run (the consent file, read again): nothing of it is kept for a later run.
      this.#optedOut = true;
      this.#releaseHeld();
      this.#drop(pending.length, "opted_out");
      return true;
    }
    // Printed, not kept: the sink that writes to standard error delivers at once, even as the process ends.
    if (this.#options.sink.kind === "stderr") {
      this.#releaseHeld();
      for (const batch of this.#batches(pending)) {
        printBody(this.#options.format.encode(batch, this.#options.clock()));
        this.#sent += batch.length;
      }
      return true;
    }
    // Nowhere to send them (a dry run, no valid endpoint): dropped for that, as a flush drops them; never spooled.
    if (this.#options.sink.kind === "none") {
      this.#releaseHeld();
      this.#drop(pending.length, this.#options.sink.reason, this.#options.sink.detail);
      return true;
    }
    const disk = this.#openDisk();
    if (this.#spoolless(disk)) {
      const why = this.#options.noSpool ? ` (${this.#options.noSpool})` : "";
      // Nowhere to keep them past the process: while it lives they wait, for a flush() after the stop; at its end
      // they are lost, and counted so (the exit hooks stay for them).
      if (keepOnFailure || !ends) {
        if (!keepOnFailure) {
          this.#log(`${pending.length} event(s) not delivered are kept in memory only, for a flush: no spool${why}`);
        }
        return false;
      }
      this.#releaseHeld();
      this.#drop(pending.length, "spool_unavailable", `the process ends, and there is no spool${why}`);
      return false;
    }
    // Recorded where the program turned telemetry on over the user's no: a later run, or a sender, follows the no,
    // and one that the user's setting turns on (another program's, another shell's) would send them, unasked.
    if (optOutOverridden() !== undefined) {
      this.#releaseHeld();
      this.#drop(pending.length, "opted_out", "not spooled: the program turned telemetry on over the user's no");
      return true;
    }
    let written: ReturnType<Backlog["write"]> | undefined;
    try {
      written = disk?.write(pending);
    } catch {
      written = undefined;
    }
    // An endpoint held down is tried from now on: what the spool cannot take has no other way to go.
    if (!written) this.#spoolRefused = true;
    if (!written && keepOnFailure) return false;
    this.#releaseHeld();
    if (written) {
      const wait = this.#serverWaitUntil - this.#options.waitClock();
      if (wait > 0) disk?.health.recordWait(wait);
      this.#spooled += written.spooled;
      // Every reason counted before any is told: a logger reading stats() finds each event somewhere.
      const dropped = Object.entries(written.dropped);
      for (const [reason, count] of dropped) addCount(this.#dropped, reason, count);
      for (const [reason, count] of dropped) if (count > 0) this.#tellDropped(count, reason);
      this.#countFromDisk(written.olderDropped); // earlier runs' events, taken from disk by this run and dropped
    } else {
      // What earlier runs spooled and this one took stays where it was, where its files can go back whole.
      const kept = disk?.giveBackUnsettled() ?? 0;
      this.#spooled += kept;
      this.#drop(pending.length - kept, "spool_unavailable");
    }
    // Events from claimed files are settled now: sent, dropped, or in the new file.
    disk?.releaseAll();
    return written !== undefined;
  }

  /**
   * The events still this run's: those taken from a spool file that another process has removed meanwhile
   * (`nat-telemetry disable`, or a run that took the file over when the claim's lease ended) are neither sent nor
   * spooled again, and are dropped as `claim_lost`. The same array when none is lost.
   */
  #stillOurs(events: PendingEvent[]): PendingEvent[] {
    const spool = this.#disk?.spool;
    if (!spool) return events;
    const checked = new Set<SpoolClaim>();
    const gone = new Set<SpoolClaim>();
    for (const { claim } of events) {
      if (!claim || checked.has(claim)) continue;
      checked.add(claim);
      if (!spool.holds(claim)) gone.add(claim);
    }
    if (gone.size === 0) return events;
    const lost = events.filter(({ claim }) => claim && gone.has(claim));
    this.#drop(lost.length, "claim_lost");
    this.#settle(lost);
    return events.filter(({ claim }) => !claim || !gone.has(claim));
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
   * @param ending Whether the process ends now (an exit or interrupt hook): it cannot deliver in process.
   * @returns `false` when this run delivers in process instead (the events are still pending); `true` where nothing
   *   is held.
   */
  #handOff(ending = false): boolean {
    // Nothing held (an exit hook that finds its events gone at once, or delivered by a later flush): nothing is said,
    // no sender started.
    if (this.#held() === 0) return true;
    const disk = this.#openDisk();
    const decision = exitDecision(this.#options, disk, isTelemetryEnabled());
    // The user's decision, read again once for the whole hand-off: after a no, nothing is written for a sender, not
    // even its script.
    const consents = decision.handOff ? consentHolds() : undefined;
    if (consents === false) return this.#spoolPending(true, consents);
    const plan = withSenderScript(this.#options, decision);
    if (!plan.handOff) {
      const said = { delivered: "delivering in process", spooled: "spooled for a later run", dropped: "not delivered" };
      // Spooled (or dropped) where it would have been delivered: the endpoint is down, the reason to tell first.
      const down = plan.outcome !== "delivered" && disk?.health.isOpen() ? downUntil(disk.health) : undefined;
      // How long the exit may wait, where it waits on the network: a unit mistaken (`requestTimeoutSeconds: 2000`,
      // which the exit budget defaults to) shows on the author's run, not first as a user's hang.
      const waits = plan.outcome === "delivered" && !ending
        ? `; the exit waits at most ${this.#options.exitTimeoutMs / 1000} s`
        : "";
      // Where the process ends now, nothing is delivered in process: what follows says where the events go.
      const outcome = ending && plan.outcome === "delivered" ? "not handed off" : said[plan.outcome];
      this.#log(`at exit: ${outcome}: ${down ? `${down}; in process, as ${plan.reason}` : plan.reason}${waits}`);
      return false;
    }
    // What the spool's bounds cannot hold, handed off, would be dropped as spool_full however healthy the endpoint:
    // a stop delivers it all in process instead. Not where the endpoint is down (it would be spooled all the same,
    // the rest dropped), nor where the process ends now (a sender then takes what the spool holds at once).
    const leftOut = ending || this.#deliveryPaused()
      ? 0
      : spoolLeavesOut(this.#heldEvents(), this.#options.spoolLimits);
    if (leftOut > 0) {
      const { maxEvents, maxBytes } = this.#options.spoolLimits;
      this.#log(
        `at exit: delivering in process: the spool would leave out ${leftOut} of the ${this.#held()} event(s) ` +
          `(spoolMaxEvents ${maxEvents}, spoolMaxBytes ${maxBytes})`,
      );
      return false;
    }
    if (!this.#spoolPending(true, consents)) {
      this.#log("at exit: delivering in process: the spool cannot be written");
      return false;
    }
    const start = startSender(plan);
    if (start === "failed" || start === "crowded") {
      // The events are in the spool, where a run that delivers in process (this one, unless it is ending now)
      // takes them back.
      this.#log(
        `at exit: delivering in process: ${
          start === "crowded"
            ? "senders of other programs or settings (headers, an OTLP resource) work for its host already"
            : "no sender could be started"
        }`,
      );
      return false;
    }
    // The spool is the sender's now: a flush asked for before and not started (a full queue's, one the program did
    // not await) would take the file back from it and hold the process on the network; one asked for after sends
    // only what the program records since (#replay).
    this.#handOffs++;
    [this.#waitingFlush, this.#waitingHeldFrom] = [undefined, HELD_FROM.working];
    const to = {
      started: "a sender",
      "at work": "the sender at work",
      "endpoint down": "the spool (endpoint down)",
      // The system would refuse this run's requests too (Bun's fetch ends a program that cannot start its thread).
      "no processes": "the spool (the system has no processes left to start a sender)",
    };
    this.#log(`at exit: handed off to ${to[start]}`);
    return true;
  }

  /**
   * At an end that cannot wait on the network (`process.exit()`, an uncaught error, a signal), where no sender takes
   * the events: they go to the spool for a later run, and the trail says so (it said only how a run that could wait
   * would have delivered them).
   *
   * @returns Whether they were written.
   */
  #spoolAtOnce(): boolean {
    const before = this.#spooled;
    const written = this.#spoolPending(false, undefined, true);
    const count = this.#spooled - before;
    if (count > 0) this.#log(`at exit: the process ends at once: ${count} event(s) spooled for a later run`);
    return written;
  }

  /**
   * Records beside the spool what this handler dropped since it last did, for `nat-telemetry status`: what a CLI's
   * run or a sender drops, no one would see otherwise. Not what the user's opt-out removed, nor what another process
   * took over: those are not lost. Only when something was, and never throws.
   */
  #tellDrops(): void {
    const lost: Record<string, number> = {};
    for (const [reason, count] of Object.entries(this.#dropped)) {
      const told = this.#dropsTold[reason] ?? 0;
      if (count > told && reason !== "opted_out" && reason !== "claim_lost") lost[reason] = count - told;
    }
    const { sink, spoolLimits } = this.#options;
    if (Object.keys(lost).length === 0 || sink.kind !== "http") return;
    const disk = this.#openDisk();
    if (!disk) return;
    for (const reason of Object.keys(lost)) this.#dropsTold[reason] = this.#dropped[reason];
    const now = Date.now();
    recordDrops(disk.files, disk.spool.dir, disk.spool.key, sink.url, lost, now, now - spoolLimits.maxAgeMs);
  }

  #drop(count: number, reason: string, detail?: string): void {
    if (count === 0) return;
    addCount(this.#dropped, reason, count);
    this.#tellDropped(count, reason, detail);
  }

  #tellDropped(count: number, reason: string, detail?: string): void {
    this.#log(`dropped ${count} event(s): ${reason}${detail ? ` (${detail})` : ""}`);
  }

  /** An event the full buffer cannot hold: the first of a run of them is told at once, the rest at the next flush. */
  #dropFull(): void {
    addCount(this.#dropped, "buffer_full", 1);
    if (this.#fullUntold !== undefined) {
      this.#fullUntold++;
      return;
    }
    this.#fullUntold = 0;
    const held = this.#options.maxBufferedEvents;
    this.#tellDropped(1, "buffer_full", `${held} held; those dropped after it are told together at the next flush`);
  }

  /** Tells how many events the full buffer dropped since its first drop was told. */
  #tellFullDrops(): void {
    const untold = this.#fullUntold;
    this.#fullUntold = undefined;
    if (untold) this.#tellDropped(untold, "buffer_full");
  }

  #log(message: string): void {
    this.#debug?.(message);
    if (!this.#toTrailOnly) tellLogger(this.#options.logger, message);
  }
}

/** What one flush learned about the endpoint. */
interface FlushResult {
  delivered: boolean;
  failed: boolean;
  retryAfterMs?: number | undefined;
  /** The endpoint known down, the flush probes it (`#mayProbe`). */
  readonly probing: boolean;
}

/**
 * The exit budget from now; its timer starts when first waited on. It is not unreferenced: a program that awaits
 * `stop()` waits for it, at most the budget. Unreferenced, it let Node.js end a program mid-await (exit code 13,
 * the rest of its code not run) when the program's own `fetch` held nothing open.
 */
function startBudget(ms: number): Budget {
  const end = host().monotonicMs() + ms;
  let cancel: (() => void) | undefined;
  let over: Promise<false> | undefined;
  return {
    end,
    over: () =>
      over ??= new Promise<false>((resolve) => {
        cancel = setDeadline(Math.max(0, end - host().monotonicMs()), () => resolve(false));
      }),
    clear: () => cancel?.(),
  };
}

/** Writes a batch's body to standard error, one line, as the Python tool prints it (the `stdout` sink). */
function printBody(body: string): void {
  host().writeStderr(`${pythonJsonDumps(JSON.parse(body))}\n`);
}
