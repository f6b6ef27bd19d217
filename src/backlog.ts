/**
 * A handler's durable backlog: the spool and the endpoint's health, opened on
 * first need, and the spool files the handler has claimed. It takes earlier
 * runs' events from disk, writes pending ones to it, deletes a claimed file
 * once its events are settled, and keeps its claims fresh while it holds
 * them. It counts nothing itself: it says what happened, the handler counts.
 *
 * @module
 */
import { type PendingEvent, sizeProblem } from "./batch.ts";
import { fallbackSpoolDir } from "./config.ts";
import { EndpointHealth } from "./health.ts";
import { jsonLine } from "./json_line.ts";
import type { ResolvedOptions } from "./options.ts";
import { host, type HostFiles, programEntry, runtimeInfo } from "./runtime/mod.ts";
import { Spool, type SpoolClaim, spoolKey, type SpoolLimits } from "./spool.ts";
import { addCount } from "./tally.ts";
import { utf8Length } from "./utf8.ts";
import { CLIENT_VERSION } from "./version.ts";

/** What writing pending events to the spool did. */
export interface SpoolOutcome {
  /** Of the events written, how many are on disk now. */
  readonly spooled: number;
  /** Of the events written, those dropped to keep the bounds, by reason. */
  readonly dropped: Record<string, number>;
  /** Events of older files removed to keep the bounds (earlier runs'), by reason. */
  readonly olderDropped: Record<string, number>;
}

/**
 * Told why the spool's directory cannot be used: `keptIn` names the directory runs keep it in instead, if any;
 * `notYet`, that it is only not there yet (looked at: a run would make it).
 */
export type SpoolRefused = (why: string, keptIn?: string, notYet?: boolean) => void;

/**
 * Where runs with these options keep their spool when its directory cannot be used: {@link fallbackSpoolDir} for the
 * platform's default place, none for a directory the program or the user named.
 *
 * @param options The handler's options.
 * @param files The host's files (which know the user's id).
 * @returns The directory, or `undefined`.
 * @example
 * ```ts
 * import { spoolFallbackOf } from "./backlog.ts";
 * import { resolveOptions } from "./options.ts";
 * import { host } from "./runtime/mod.ts";
 * spoolFallbackOf(resolveOptions({}), host().files); // e.g. "/tmp/nat-telemetry-1000"
 * ```
 */
export function spoolFallbackOf(options: ResolvedOptions, files: HostFiles | undefined): string | undefined {
  // A directory where the path leads, that the program may look at and write in (Deno checks a write on the path as
  // given: through a link, the fallback would be made where the program may not write, then refused).
  const there = (path: string) => {
    const real = files?.realPath(path);
    return files === undefined || (real !== undefined && files.writableDir(real));
  };
  return options.spoolFallback ? fallbackSpoolDir(host().env, runtimeInfo().os, files?.uid, there) : undefined;
}

/**
 * The spool of a handler with these options: in its directory or, where that is the platform's default place and
 * cannot be used (or there is none: no home), in {@link fallbackSpoolDir}. Once the default place can be used again,
 * what runs kept in the fallback is moved there (a file at a time, at most 64 a run), as nothing else looks there.
 *
 * @param options The handler's options.
 * @param files The host's files.
 * @param refused Told why the directory cannot be used (and where the spool is kept instead, if anywhere).
 * @param use `"look"`: only to look in, nothing is made; `"flush"`: the user asks to deliver now, and what waits in the
 *   fallback for this endpoint moves here whatever its age. @default {"work"}
 * @returns The spool, or `undefined` when there is none.
 * @example
 * ```ts
 * import { openSpool } from "./backlog.ts";
 * import { resolveOptions } from "./options.ts";
 * import { host } from "./runtime/mod.ts";
 * openSpool(resolveOptions({}), host().files!, (why, keptIn) => console.log(why, keptIn))?.dir;
 * ```
 */
export function openSpool(
  options: ResolvedOptions,
  files: HostFiles,
  refused: SpoolRefused = () => {},
  use: "work" | "look" | "flush" = "work",
): Spool | undefined {
  const { spoolDir, spoolLimits } = options;
  const key = backlogKey(options);
  let why = options.noSpool ?? "there is no spool directory";
  let notYet = false;
  const look = use === "look" ? "look" : "work";
  const spool = spoolDir === undefined
    ? undefined
    : Spool.open(spoolDir, files, spoolLimits, key, (reason, missing) => {
      why = reason;
      notYet = missing;
    }, look);
  const fallback = spoolFallbackOf(options, files);
  const beside = spool && look === "work" ? fallbackBeside(spool, fallback, files, spoolLimits) : undefined;
  if (spool && beside) spool.adopt(beside, options.clock(), use === "flush" ? 0 : undefined);
  if (spool || fallback === undefined) {
    if (!spool && spoolDir !== undefined) refused(why, undefined, notYet);
    return spool;
  }
  const kept = Spool.open(
    fallback,
    files,
    spoolLimits,
    key,
    (reason) => why += `; nor in ${fallback}: ${reason}`,
    look,
  );
  refused(why, kept?.dir, notYet);
  return kept;
}

/**
 * The fallback's spool beside a spool kept in its place, where runs kept it while that place could not be used (their
 * events wait there until runs move them): `undefined` where it is not there, or is that spool. One look (a realpath)
 * in an ordinary run: the fallback is opened only where it is there.
 *
 * @param spool The spool kept in its place.
 * @param fallback The fallback's directory ({@link spoolFallbackOf}).
 * @param files The host's files.
 * @param limits The spool's bounds.
 * @param use `"look"`: only to look in. @default {"work"}
 * @returns The fallback's spool, of the same key.
 * @example
 * ```ts ignore
 * const beside = fallbackBeside(spool, spoolFallbackOf(options, files), files, options.spoolLimits, "look");
 * ```
 */
export function fallbackBeside(
  spool: Spool,
  fallback: string | undefined,
  files: HostFiles,
  limits: SpoolLimits,
  use: "work" | "look" = "work",
): Spool | undefined {
  const there = fallback !== undefined && files.allowed(fallback, "read") && files.realPath(fallback) !== undefined;
  const kept = there ? Spool.open(fallback, files, limits, spool.key, undefined, use) : undefined;
  return kept && kept.dir !== spool.dir ? kept : undefined;
}

/**
 * The spool, endpoint health and claims of one handler.
 *
 * @example
 * ```ts
 * import { Backlog } from "./backlog.ts";
 * import { resolveOptions } from "./options.ts";
 * const backlog = Backlog.open(resolveOptions({ spoolDir: "/tmp/spool", endpoint: "https://example.com/events" }));
 * backlog?.health.isOpen();
 * ```
 */
export class Backlog {
  /** The spool, for this handler's endpoint. */
  readonly spool: Spool;
  /** The endpoint's health, shared by runs. */
  readonly health: EndpointHealth;
  /** The file access both go through. */
  readonly files: HostFiles;
  readonly #options: ResolvedOptions;
  /** Spool files claimed and not settled yet. */
  readonly #claims = new Set<SpoolClaim>();

  private constructor(spool: Spool, health: EndpointHealth, files: HostFiles, options: ResolvedOptions) {
    this.spool = spool;
    this.health = health;
    this.files = files;
    this.#options = options;
  }

  /**
   * Opens the backlog of an HTTP sink with a usable spool.
   *
   * @param options The handler's options.
   * @param refused Told why, when a spool directory is set but cannot be used (see {@link openSpool}).
   * @returns The backlog, or `null` when there is no spool (no directory, an unsafe one, or not an HTTP sink).
   */
  static open(options: ResolvedOptions, refused?: SpoolRefused): Backlog | null {
    const { sink, clock, random } = options;
    if (sink.kind !== "http" || (options.spoolDir === undefined && !options.spoolFallback)) return null;
    // Only now: the first look at the host's files loads the runtime's file modules (Bun: ~2 ms).
    const files = host().files;
    if (!files) return null;
    const spool = openSpool(options, files, refused);
    if (!spool) return null;
    const ownFetchKey = options.customFetch ? spool.key : undefined;
    const health = new EndpointHealth(files, spool.dir, sink.url, clock, random, ownFetchKey);
    return new Backlog(spool, health, files, options);
  }

  /**
   * Claims events earlier runs left in the spool, as pending events due now; never those it holds already.
   *
   * @param room How many the handler can hold.
   * @param leaseMs How long the handler holds them before another run may take them over (it renews the lease
   *   with {@link Backlog.renewClaims} while it still needs them).
   * @returns The events, and those taken from disk but dropped, by reason.
   */
  replay(room: number, leaseMs: number): { events: PendingEvent[]; dropped: Record<string, number> } {
    // What this backlog holds already, renewed first: a lease run out while it held the events (a clock that
    // jumped, a laptop asleep) would make them claimable, and the same events would be taken a second time.
    this.renewClaims(leaseMs);
    const { events, dropped } = this.spool.claim(room, this.#options.clock(), leaseMs);
    for (const event of events) this.#claims.add(event.claim);
    const pending = events.map((event) => ({ ...event, bytes: utf8Length(event.json), notBefore: 0 }));
    // A spooled event is held to this handler's bounds as a new one is (a file written by hand, or by a program with
    // larger bounds, a longer session or another format): one larger would make a request larger than any batch may be.
    const [fits, tooLarge]: PendingEvent[][] = [[], []];
    for (const event of pending) (sizeProblem(event, this.#options) === undefined ? fits : tooLarge).push(event);
    if (tooLarge.length > 0) {
      this.settle(tooLarge);
      addCount(dropped, "event_too_large", tooLarge.length);
    }
    return { events: fits, dropped };
  }

  /**
   * Writes pending events to the spool.
   *
   * @param pending The events.
   * @returns What was spooled and dropped.
   * @throws When the spool cannot be written.
   */
  write(pending: readonly PendingEvent[]): SpoolOutcome {
    const { written, older } = this.spool.write(pending, this.#options.clock());
    const dropped = Object.values(written).reduce((sum, n) => sum + n, 0);
    return { spooled: pending.length - dropped, dropped: written, olderDropped: older };
  }

  /**
   * Events are done with (sent or dropped): a claimed file none of whose events is left is deleted.
   *
   * @param events The events.
   */
  settle(events: readonly PendingEvent[]): void {
    for (const { claim } of events) {
      if (claim && --claim.remaining === 0) {
        this.#claims.delete(claim);
        this.spool.release(claim);
      }
    }
  }

  /**
   * Whether events taken from the spool are still held (not yet sent or dropped).
   *
   * @returns `true` while a claim is held.
   * @example
   * ```ts ignore
   * if (!backlog.holdsClaims()) backlog.replay(100, 60_000); // what it took is done with: take more
   * ```
   */
  holdsClaims(): boolean {
    return this.#claims.size > 0;
  }

  /**
   * Keeps on disk the claimed events that could not be spooled again: each claimed file that holds only events
   * taken from it, none of them settled, goes back as it was. The other claims stay held, for
   * {@link Backlog.releaseAll}.
   *
   * @returns How many events the files given back hold.
   */
  giveBackUnsettled(): number {
    let kept = 0;
    for (const claim of this.#claims) {
      if (!claim.exact || claim.remaining !== claim.taken) continue;
      this.spool.giveBack(claim);
      this.#claims.delete(claim);
      kept += claim.remaining;
    }
    return kept;
  }

  /** Deletes every claimed file: their events are settled, or spooled again. */
  releaseAll(): void {
    for (const claim of this.#claims) this.spool.release(claim);
    this.#claims.clear();
  }

  /**
   * Renews the leases of the claims held that end too soon, so no other run takes them over while this one still
   * retries their events; a run that is ending also cuts those that end later than the new lease.
   *
   * @param leaseMs The new lease.
   * @param renewBelowMs A claim with less than this left is renewed. @default {a quarter of the lease passed}
   * @param ending Whether the run is ending: a claim taken with a running one's lease (minutes) is cut to this one, so
   *   that what a run killed at its exit holds waits seconds. @default {false}
   */
  renewClaims(leaseMs: number, renewBelowMs = leaseMs * 0.75, ending = false): void {
    const now = this.#options.clock();
    for (const claim of this.#claims) {
      const left = claim.until - now;
      if (left < renewBelowMs || (ending && left > leaseMs)) this.spool.renew(claim, now + leaseMs);
    }
  }
}

/**
 * The program's entry ({@link programEntry}) where links lead: Node.js and Deno name a script by the link it was run
 * through (a command on `PATH`), Bun by its file, and one program must not be two. As it is where that cannot be told.
 */
function programIdentity(): string {
  const entry = programEntry();
  const path = entry.startsWith("file://") ? decodeURIComponent(new URL(entry).pathname) : entry;
  return (path.startsWith("/") ? host().files?.realPath(path) : undefined) ?? entry;
}

/**
 * The spool key of a handler's events: its endpoint and format and, where they are not the defaults, what else its
 * requests say about who sends them (the headers, OTLP's resource) and whether the program sends them with its own
 * `fetch` (which may sign or route them: no sender, nor a program without it, can). A run delivers only events it
 * would have sent the same way: another program that shares the spool and the endpoint leaves its events for its own
 * runs (or for the spool's age bound), never sent with another's headers or fetch. The program (its script or
 * executable) and its client version are in it only for a program with a fetch of its own (nothing else tells such
 * programs apart: two of them left at the default version shared a key, and one's fetch signed the other's events):
 * each event's line says the version that recorded it, and it goes out under that one, so that a program that sets
 * `sourceClientVersion` delivers, once upgraded, what its earlier version spooled.
 *
 * @param options The handler's options.
 * @returns 8 hex digits.
 * @example
 * ```ts
 * import { backlogKey } from "./backlog.ts";
 * import { resolveOptions } from "./options.ts";
 * const endpoint = "https://example.com/events";
 * backlogKey(resolveOptions({ endpoint })) === backlogKey(resolveOptions({ endpoint, sourceClientVersion: "2.0" }));
 * backlogKey(resolveOptions({ endpoint })) !== backlogKey(resolveOptions({ endpoint, headers: { "x-api-key": "k" } }));
 * ```
 */
export function backlogKey(options: ResolvedOptions): string {
  const { sink, format, sourceClientVersion, headers, customFetch } = options;
  const sender = {
    // What tells apart programs with a fetch of their own, each of which may sign or route for its own account.
    version: customFetch && sourceClientVersion !== CLIENT_VERSION ? sourceClientVersion : undefined,
    program: customFetch ? programIdentity() : undefined,
    headers: Object.keys(headers).length > 0 ? Object.entries(headers).sort() : undefined,
    resource: format.resource && Object.entries(format.resource).sort(),
    fetch: customFetch ? "own" : undefined,
  };
  const named = jsonLine(sender);
  return spoolKey(sink.kind === "http" ? sink.url : "", format.name, named === "{}" ? "" : named);
}
