/**
 * Endpoint health, persisted next to the spool: after a retryable failure,
 * "do not try this endpoint before T", with exponential backoff and jitter and
 * never before the server's `Retry-After`. Until T, runs spool at exit instead
 * of paying the exit budget; after T, one run probes.
 *
 * @module
 */
import { writeAtomically } from "./atomic.ts";
import { type BackoffPolicy, MAX_RETRY_AFTER_MS, retryDelay } from "./backoff.ts";
import { redact } from "./describe.ts";
import { formatTimestamp } from "./envelope.ts";
import { shortHash } from "./hash.ts";
import { jsonLine } from "./json_line.ts";
import { readNamed } from "./named_files.ts";
import type { HostFiles } from "./runtime/mod.ts";
import { utf8Length } from "./utf8.ts";

/** How the circuit backs off: 30 s after the first failure, doubling, at most an hour. */
export const CIRCUIT_BACKOFF: BackoffPolicy = { initialMs: 30_000, maxMs: 3_600_000 };

/** A health file is a few dozen bytes; anything larger is not ours. */
const MAX_HEALTH_FILE_BYTES = 4096;

/** The persisted state. */
export interface HealthState {
  /** Consecutive failed runs. */
  failures: number;
  /** No delivery before this time, in epoch milliseconds. */
  notBefore: number;
  /**
   * When a run last handed the events to a sender with this failure on record, in epoch milliseconds: the sender
   * probes the endpoint and reports (a success clears the state, a failure writes a new one without this); while it
   * stays, the sender never reported, and hand-offs do not get through.
   */
  handedOffAt?: number | undefined;
}

/** A health file of a spool directory, as {@link recordedHealth} finds it. */
export interface RecordedHealth {
  /** The endpoint's URL; `undefined` in a file written before files named it. */
  readonly endpoint: string | undefined;
  /** The hash that names the file (`health-<hash>.json`, {@link healthHash}). */
  readonly hash: string;
  /**
   * The hash of the endpoint's URL: the file's own name for an endpoint's file; for a program's with a fetch of its
   * own (named by its spool key), what it records, or `undefined` (an older file).
   */
  readonly endpointHash: string | undefined;
  /** The state it records. */
  readonly state: HealthState;
}

const HEALTH_FILE = /^health-([0-9a-f]{8})\.json$/;

/**
 * The hash that names an endpoint's health file (`health-<hash>.json`): of its URL, or, for a program that delivers
 * with a `fetch` of its own, its spool key: such a program's failures may be its fetch's, and must not keep other
 * programs from an endpoint that answers them, whether or not they have a fetch of their own.
 *
 * @param endpoint The endpoint's URL.
 * @param ownFetchKey The spool key of a program that delivers with a `fetch` of its own.
 * @returns Eight hex digits.
 * @example
 * ```ts
 * import { healthHash } from "./health.ts";
 * healthHash("https://example.com/events", "6d428015"); // "6d428015"
 * ```
 */
export function healthHash(endpoint: string, ownFetchKey?: string): string {
  return ownFetchKey ?? shortHash(endpoint);
}

/**
 * The endpoint health recorded in a spool directory, one entry per valid
 * health file (for `nat-telemetry inspect`). Never throws.
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param now The current time, in epoch milliseconds.
 * @returns The entries; a file that is missing, corrupt or not ours is left out.
 * @example
 * ```ts
 * import { recordedHealth } from "./health.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) for (const { endpoint, state } of recordedHealth(files, "/tmp/spool", Date.now())) {
 *   console.log(endpoint ?? "an endpoint", state.failures);
 * }
 * ```
 */
export function recordedHealth(files: HostFiles, dir: string, now: number): RecordedHealth[] {
  return readNamed(files, dir, HEALTH_FILE, (hash, name) => {
    const read = readHealth(files, `${dir}/${name}`, now);
    if (typeof read !== "object") return undefined;
    // A file that records no hash is the endpoint's own (its name), or names the endpoint (an earlier version's).
    const endpointHash = read.endpointHash ?? (read.endpoint === undefined ? hash : healthHash(read.endpoint));
    return { hash, ...read, endpointHash };
  });
}

/**
 * Reads a health file through the guarded door: `undefined` when there is none, `"invalid"` when it is corrupt,
 * not a regular file of ours, or says to wait longer than the longest backoff from now (a tampered file, or one
 * written while the clock ran ahead). Files written before the endpoint's URL was recorded read as well, without it.
 */
function readHealth(
  files: HostFiles,
  path: string,
  now: number,
): { state: HealthState; endpoint: string | undefined; endpointHash: string | undefined } | "invalid" | undefined {
  try {
    const text = files.read(path, MAX_HEALTH_FILE_BYTES);
    if (text === undefined) return undefined;
    const { failures, notBefore, endpoint, endpointHash, handedOffAt } = JSON.parse(text);
    // A time a timestamp can show (`inspect` prints it): from 1970 on, and not past the longest wait from now.
    const valid = Number.isSafeInteger(failures) && failures > 0 && Number.isFinite(notBefore) && notBefore >= 0 &&
      notBefore <= now + MAX_RETRY_AFTER_MS;
    // A hand-off noted ahead of the clock (one set back since) is not one: no later hand-off could be noted.
    const noted = Number.isFinite(handedOffAt) && handedOffAt <= now;
    const state = noted ? { failures, notBefore, handedOffAt } : { failures, notBefore };
    if (!valid) return "invalid";
    return {
      state,
      endpoint: typeof endpoint === "string" ? endpoint : undefined,
      endpointHash: typeof endpointHash === "string" && /^[0-9a-f]{8}$/.test(endpointHash) ? endpointHash : undefined,
    };
  } catch {
    return "invalid";
  }
}

/**
 * One endpoint's health, in one file.
 *
 * @example
 * ```ts
 * import { EndpointHealth } from "./health.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) {
 *   const health = new EndpointHealth(files, "/tmp/spool", "https://example.com/events", Date.now, Math.random);
 *   if (!health.isOpen()) health.recordFailure();
 * }
 * ```
 */
export class EndpointHealth {
  /** The state file. */
  readonly path: string;
  readonly #dir: string;
  readonly #name: string;
  /** The file is a program's with a fetch of its own (named by its spool key). */
  readonly #ownFetch: boolean;
  readonly #endpoint: string;
  readonly #files: HostFiles;
  readonly #clock: () => number;
  readonly #random: () => number;
  #state: HealthState | undefined;
  /** This run holds the probe lease: the state on disk keeps others off, not us. */
  #probing = false;

  /**
   * Reads the endpoint's state, if any.
   *
   * @param files File access.
   * @param dir The spool directory.
   * @param endpoint The endpoint URL (its hash names the file).
   * @param clock The clock.
   * @param random Jitter source.
   * @param ownFetchKey The spool key of a program that delivers with a `fetch` of its own: its health is its own
   *   ({@link healthHash}).
   */
  constructor(
    files: HostFiles,
    dir: string,
    endpoint: string,
    clock: () => number,
    random: () => number,
    ownFetchKey?: string,
  ) {
    this.#dir = dir;
    this.#endpoint = endpoint;
    this.#name = `health-${healthHash(endpoint, ownFetchKey)}.json`;
    this.#ownFetch = ownFetchKey !== undefined;
    this.path = `${dir}/${this.#name}`;
    this.#files = files;
    this.#clock = clock;
    this.#random = random;
    this.#state = this.#read();
  }

  /** The current state, `undefined` when healthy. */
  get state(): HealthState | undefined {
    return this.#state;
  }

  /**
   * Whether deliveries must wait.
   *
   * @returns `true` before the recorded time.
   */
  isOpen(): boolean {
    return !this.#probing && this.#state !== undefined && this.#clock() < this.#state.notBefore;
  }

  /**
   * Records a retryable failure: the next attempt waits a jittered, doubling delay, at least `retryAfterMs`.
   *
   * @param retryAfterMs The server's `Retry-After`, if any.
   * @returns Whether a longer wait on record stood (another process's: a server's `Retry-After`, say).
   */
  recordFailure(retryAfterMs?: number): boolean {
    this.#probing = false;
    // One more than this run knew of: runs that fail together in one outage are one failure, not a doubling each.
    // But as the file is now, a wait on record that ends later (another process's: a server's Retry-After) stands.
    const recorded = this.#read();
    const failures = Math.max((this.#state?.failures ?? 0) + 1, recorded?.failures ?? 0);
    const notBefore = this.#clock() + retryDelay(failures, CIRCUIT_BACKOFF, this.#random, retryAfterMs);
    const longerStood = (recorded?.notBefore ?? 0) > notBefore;
    this.#write({ failures, notBefore: longerStood ? recorded!.notBefore : notBefore });
    return longerStood;
  }

  /**
   * Records that the server asked to wait (`Retry-After`) while it accepted other requests: the endpoint is up, but
   * no run or sender tries it before then. Recorded as a first failure would be, without the backoff's wait; a wait
   * already recorded that ends later stands.
   *
   * @param retryAfterMs The server's `Retry-After`.
   */
  recordWait(retryAfterMs: number): void {
    const notBefore = this.#clock() + retryAfterMs;
    this.#probing = false;
    // As the file is now: another process may have recorded a longer wait, or more failures, since this one read it,
    // or ended the pause (the server's wait is then written, whatever this run last read).
    const recorded = this.#read();
    if (recorded && recorded.notBefore >= notBefore) {
      this.#state = recorded;
      return;
    }
    this.#write({ failures: recorded?.failures ?? 1, notBefore });
  }

  /**
   * Holds other runs off while this one probes a recovering endpoint; this one may still deliver.
   *
   * @param ms How long the probe may take.
   */
  lease(ms: number): void {
    if (!this.#state) return;
    this.#write({ failures: this.#state.failures, notBefore: this.#clock() + ms });
    this.#probing = true;
  }

  /**
   * Records that a run handed the events to a sender, which is to probe the endpoint and report, with a failure on
   * record (once: a later hand-off before the report changes nothing).
   */
  noteHandOff(): void {
    if (!this.#state) return;
    // As the file is now: a sender may have reported since this run read it (a new failure, a recovery), and a run
    // must not write an older state back. A backoff in force again means the new sender will not probe: no note.
    const now = this.#clock();
    this.#state = this.#read();
    if (this.#state && this.#state.handedOffAt === undefined && this.#state.notBefore <= now) {
      this.#write({ ...this.#state, handedOffAt: now });
    }
  }

  /**
   * Records a delivery: the endpoint is healthy again.
   *
   * @returns `true` if it was not healthy before.
   */
  recordSuccess(): boolean {
    const wasDown = this.#state !== undefined;
    this.forget();
    return wasDown;
  }

  /**
   * Reads the state again, as another process may have changed it since (a delivery ended the pause, a failure
   * lengthened it, `nat-telemetry flush` forgot it); not while this one probes.
   */
  refresh(): void {
    if (!this.#probing) this.#state = this.#read();
  }

  /** Forgets past failures, so the next run tries at once (`nat-telemetry flush`). */
  forget(): void {
    if (this.#state === undefined) return;
    this.#state = undefined;
    this.#probing = false;
    this.#remove();
  }

  /**
   * Reads the state (see `readHealth`); anything that is not a valid state of ours is healthy, and removed: a wait
   * set too far ahead would otherwise hold the endpoint off once the clock came near it.
   */
  #read(): HealthState | undefined {
    const read = readHealth(this.#files, this.path, this.#clock());
    if (read === "invalid") this.#remove();
    return typeof read === "object" ? read.state : undefined;
  }

  #remove(): void {
    try {
      this.#files.remove(this.path);
    } catch {
      // Already gone.
    }
  }

  #write(state: HealthState): void {
    this.#state = state;
    try {
      // The URL too, so that `nat-telemetry inspect` can name the endpoint a file is about, unless it is too long for
      // the file to be read back (the state matters more), or holds what printing masks (credentials, a query):
      // written to disk nowhere else, it is not written here either.
      // A program's own file (named by its spool key) says which endpoint it is about by its URL's hash too, which
      // is no secret, for `nat-telemetry flush` and `inspect` to find it where the URL is not written.
      const own = this.#ownFetch ? { endpointHash: shortHash(this.#endpoint) } : {};
      const named = jsonLine({ ...state, ...own, endpoint: this.#endpoint });
      const text = utf8Length(named) <= MAX_HEALTH_FILE_BYTES && redact(this.#endpoint) === this.#endpoint
        ? named
        : jsonLine({ ...state, ...own });
      writeAtomically(this.#files, this.#dir, this.#name, text, this.#clock());
    } catch {
      // Without a writable directory the state lives in memory only.
    }
  }
}

/**
 * Why a run spools rather than tries its endpoint, as the trail and `status` say it.
 *
 * @param health The endpoint's health, down.
 * @returns e.g. `the endpoint is down (3 failure(s) in a row): not tried before 2026-12-05T12:40:05.000Z`.
 * @example
 * ```ts
 * import { downUntil, EndpointHealth } from "./health.ts";
 * declare const health: EndpointHealth;
 * if (health.isOpen()) console.log(downUntil(health));
 * ```
 */
export function downUntil(health: EndpointHealth): string {
  const { failures = 0, notBefore = 0 } = health.state ?? {};
  return `the endpoint is down (${failures} failure(s) in a row): not tried before ${formatTimestamp(notBefore)}`;
}
