/**
 * What runs and senders dropped, per spool key (an endpoint, as one program's
 * runs send to it), kept beside the spool. A sender has no output, and a CLI's
 * run no `stats()` anyone reads: the events they drop (an endpoint that
 * refuses them, retries spent, a spool past its bounds) would be counted where
 * no one sees them, and a program would never learn that its endpoint refuses
 * its events. `nat-telemetry status` and `inspect` show what is recorded
 * here. Each run adds a line in one write (appended: runs ending at the same
 * instant each keep theirs, where rewriting the whole would lose one's); past
 * a size, the lines are summed into one, the record set aside first, and kept
 * aside until it is quiet, so that lines other runs append to it as it is set
 * aside are summed too, later.
 *
 * @module
 */
import { randomHex, stamp } from "./atomic.ts";
import { redact } from "./describe.ts";
import { MAX_TIME_MS } from "./envelope.ts";
import { shortHash } from "./hash.ts";
import { jsonLine } from "./json_line.ts";
import { readNamed } from "./named_files.ts";
import { below, RefusedPath } from "./runtime/guarded_files.ts";
import { quietly } from "./runtime/host.ts";
import type { HostFiles } from "./runtime/mod.ts";
import { addCount } from "./tally.ts";

/** Past this size, a record's lines are summed into one as the next is added. */
const COMPACT_AT_BYTES = 16_384;
/** A record is lines of a few counters and a URL, a few more than runs added at once past its size; larger is not ours. */
const MAX_DROPS_FILE_BYTES = 2 * COMPACT_AT_BYTES;
/** The size a record may have for a line to be added: what runs adding at once past {@link COMPACT_AT_BYTES} add. */
const APPEND_UP_TO_BYTES = MAX_DROPS_FILE_BYTES - 4096;
/** Reasons kept at most (the package has about twenty; an endpoint's statuses add a few). */
const MAX_REASONS = 32;
const REASON = /^[a-z0-9_]{1,40}$/;
const HASH = /^[0-9a-f]{8}$/;
const DROPS_FILE = /^drops-([0-9a-f]{8})\.json$/;
/**
 * A record a run set aside to sum it: its key, when it was set aside (or taken over), and once it is marked, how much
 * of it (characters) is summed into the record already. A run that has it open to append may still write into it just
 * after, so it is kept until it is quiet, and what comes after that mark is summed then.
 */
const SET_ASIDE = /^drops-([0-9a-f]{8})-(\d{13})-[0-9a-f]+(?:-(\d{1,6}))?\.aside$/;
/** A record set aside this long ago (or ahead, by a clock set wrong) is quiet: appends to it come within moments. */
const QUIET_AFTER_MS = 60_000;

/** What runs and senders dropped for one spool key. */
export interface DropsRecord {
  /** When the first of them was recorded, in epoch milliseconds. */
  readonly since: number;
  /** When the last was, in epoch milliseconds. */
  readonly last: number;
  /** Events dropped, by reason (`http_400`, `retries_exhausted`, `spool_full`...). */
  readonly dropped: Readonly<Record<string, number>>;
  /** The endpoint's URL, where it could be written (not one with credentials or a query). */
  readonly endpoint?: string | undefined;
  /** A hash of the endpoint's URL (as its health file's name has), written always: what names it otherwise. */
  readonly endpointHash?: string | undefined;
}

/**
 * The drops runs and senders recorded for a spool key in a spool directory. Never throws.
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param key The spool key (`backlogKey`).
 * @param keptSince Drops recorded before this (epoch milliseconds) are left out: the spool's age bound, beyond which
 *   what they tell is history.
 * @returns The record, or `undefined` when there is none, or it is not a valid one of ours.
 * @example
 * ```ts
 * import { dropsRecord } from "./drops_record.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) console.log(dropsRecord(files, "/tmp/spool", "0a1b2c3d")?.dropped);
 * ```
 */
export function dropsRecord(
  files: HostFiles,
  dir: string,
  key: string,
  keptSince = -Infinity,
): DropsRecord | undefined {
  const now = Date.now();
  const path = dropsPath(dir, key);
  const read = readDrops(files, path);
  // No line is newer than the record's last change, which the system dates: one a run whose clock ran ahead wrote
  // (the system's did not) ages from then, where taken as now it would be shown, as just dropped, at every look.
  const lines = typeof read === "object" ? dated(read.lines, keptSince, now, files.modifiedAt(path)) : [];
  // Not a record a run has just set aside and is summing (its lines will be in the record in a moment).
  const setAside = asidesOf(files, dir, key, now).filter((aside) => aside.quiet || aside.summed !== undefined);
  const unsummed = setAside.flatMap((aside) => unsummedOf(files, aside).lines);
  return sum([...lines, ...unsummed], keptSince, now);
}

/**
 * Every record of drops in a spool directory, by spool key (for `nat-telemetry inspect`). Never throws.
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param keptSince As for {@link dropsRecord}.
 * @returns The records, with their keys.
 * @example
 * ```ts
 * import { dropsRecords } from "./drops_record.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) for (const { key, dropped } of dropsRecords(files, "/tmp/spool")) console.log(key, dropped);
 * ```
 */
export function dropsRecords(
  files: HostFiles,
  dir: string,
  keptSince = -Infinity,
): (DropsRecord & { key: string })[] {
  const keys = new Set([
    ...readNamed(files, dir, DROPS_FILE, (key) => key),
    ...readNamed(files, dir, SET_ASIDE, (key) => key),
  ]);
  return [...keys].flatMap((key) => {
    const drops = dropsRecord(files, dir, key, keptSince);
    return drops ? [{ key, ...drops }] : [];
  });
}

/**
 * Adds a run's drops to its key's record, as a line of its own (what is in its place that is not a file of the user's
 * is removed, and the record started again). Never throws: where it cannot be written, the counts go with the
 * run.
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param key The spool key the run works for (`backlogKey`).
 * @param endpoint The endpoint's URL: written with the counts unless printing would mask part of it.
 * @param dropped What the run dropped, by reason.
 * @param now The current time, in epoch milliseconds.
 * @param keptSince Lines older than this are left out when the record's lines are summed into one.
 * @example
 * ```ts
 * import { recordDrops } from "./drops_record.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) recordDrops(files, "/tmp/spool", "0a1b2c3d", "https://example.com/v1", { http_400: 2 }, Date.now());
 * ```
 */
export function recordDrops(
  files: HostFiles,
  dir: string,
  key: string,
  endpoint: string,
  dropped: Readonly<Record<string, number>>,
  now: number,
  keptSince = -Infinity,
): void {
  const counts = Object.entries(dropped).filter(([reason, n]) =>
    REASON.test(reason) && Number.isSafeInteger(n) && n > 0
  );
  if (counts.length === 0 || !validTime(now)) return;
  // As in a health file: a URL whose printing masks part of it (credentials, a query) is written nowhere.
  const named = { since: now, last: now, dropped: Object.fromEntries(counts.slice(0, MAX_REASONS)) };
  const hashed = { ...named, endpointHash: shortHash(endpoint) };
  const line: DropsRecord = redact(endpoint) === endpoint ? { ...hashed, endpoint } : hashed;
  const path = dropsPath(dir, key);
  try {
    // What other runs set aside and is quiet now, what lies beyond its mark: each taken with what it holds.
    const quiet = asidesOf(files, dir, key, now).filter((aside) => aside.quiet).map((aside) =>
      takeUnsummed(files, aside, dir, key)
    );
    const added = sum([...quiet.flatMap((taken) => taken.lines), line], keptSince, now) ?? line;
    afterwardOrBack(files, dir, key, quiet, () => {
      const read = readDrops(files, path);
      // Not ours (a link, a FIFO, another user's file): removed, never written through; the record starts again.
      if (read === "invalid") files.remove(path);
      const text = `${jsonLine(added)}\n`;
      if (typeof read !== "object" || read.bytes + text.length <= COMPACT_AT_BYTES) {
        // After a line not ended (an earlier version's record; a write a crash cut short), on a line of its own.
        files.append(path, typeof read === "object" && !read.ended ? `\n${text}` : text, APPEND_UP_TO_BYTES);
      } else {
        sumRecord(files, dir, key, added, keptSince, now);
      }
    });
    for (const { path } of quiet) if (path !== undefined) quietly(() => files.remove(path));
  } catch {
    // No writable spool: the counts go with the run.
  }
}

/**
 * Sums a record into one line with a run's: the record set aside first, so that what runs add meanwhile goes to a
 * new one, not lost in a rewrite; what runs append to it just after is kept with it, beyond the mark of what was
 * summed, until it is quiet.
 */
function sumRecord(
  files: HostFiles,
  dir: string,
  key: string,
  added: DropsRecord,
  keptSince: number,
  now: number,
): void {
  const path = dropsPath(dir, key);
  const aside = { path: asideName(dir, key), quiet: false };
  // Where another run set it aside first, this run's line goes to the record that run starts.
  const taken = tryRename(files, path, aside.path) ? takeUnsummed(files, aside, dir, key) : { lines: [] };
  afterwardOrBack(files, dir, key, [taken], () => {
    files.append(
      path,
      `${jsonLine(sum([...taken.lines, added], keptSince, now) ?? added)}\n`,
      APPEND_UP_TO_BYTES,
    );
  });
}

/** What a run took of a set-aside record: its lines beyond the mark, where it is now, and its mark before. */
interface Taken {
  readonly lines: DropsRecord[];
  readonly path?: string | undefined;
  readonly summed?: number | undefined;
}

/**
 * What lies beyond a set-aside record's mark, taken: read, then the record renamed, marked as summed up to where it
 * was read, before the sum is written. Where another run renamed it first (it took it over, or this run was stopped
 * until it was quiet), its lines are that run's to sum: none here. A run stopped before it writes the sum has its
 * mark in place, so none sums them again; one killed then loses them. What is not a regular file is removed.
 */
function takeUnsummed(files: HostFiles, aside: SetAside, dir: string, key: string): Taken {
  if (files.sizeOf(aside.path) === undefined) {
    quietly(() => files.remove(aside.path)); // a link, a FIFO, a directory (which stays): never read
    return { lines: [], summed: aside.summed };
  }
  const { lines, upTo } = unsummedOf(files, aside);
  const marked = asideName(dir, key, upTo);
  return tryRename(files, aside.path, marked)
    ? { lines, path: marked, summed: aside.summed }
    : { lines: [], summed: aside.summed };
}

/**
 * Writes what sums what was taken; where that fails (a full disk), gives it back under its mark as it was, for a
 * later run to sum, and throws.
 */
function afterwardOrBack(
  files: HostFiles,
  dir: string,
  key: string,
  taken: readonly Taken[],
  write: () => void,
): void {
  try {
    write();
  } catch (error) {
    for (const { path, summed } of taken) if (path !== undefined) tryRename(files, path, asideName(dir, key, summed));
    throw error;
  }
}

/**
 * A record set aside: where, how much of it is summed (none yet marked: a run has just set it aside), and whether it
 * is {@link QUIET_AFTER_MS quiet}.
 */
interface SetAside {
  readonly path: string;
  readonly summed?: number | undefined;
  readonly quiet: boolean;
}

/**
 * A fresh name for a record set aside, with how much of it is summed; dated as it is named (not when the run began:
 * a run stopped a minute in between would name a part that other runs take at once for quiet).
 */
function asideName(dir: string, key: string, summed?: number): string {
  const mark = summed === undefined ? "" : `-${summed}`;
  return below(dir, `drops-${key}-${stamp(Date.now())}-${randomHex()}${mark}.aside`);
}

/** The records of a key set aside. */
function asidesOf(files: HostFiles, dir: string, key: string, now: number): SetAside[] {
  return readNamed(files, dir, SET_ASIDE, (of, name) => {
    const [, , time, summed] = SET_ASIDE.exec(name) ?? [];
    const quiet = Math.abs(now - Number(time)) >= QUIET_AFTER_MS;
    return of === key
      ? { path: below(dir, name), summed: summed === undefined ? undefined : Number(summed), quiet }
      : undefined;
  });
}

/**
 * The valid lines of a record set aside beyond what is summed, and up to where they end (none when unreadable): its
 * ended lines, and once it is quiet, a last one not ended too (an earlier version's record; a write a crash cut short).
 */
function unsummedOf(files: HostFiles, aside: SetAside): { lines: DropsRecord[]; upTo: number } {
  try {
    const summed = aside.summed ?? 0;
    const text = files.read(aside.path, MAX_DROPS_FILE_BYTES)?.slice(summed) ?? "";
    const end = aside.quiet ? text.length : text.lastIndexOf("\n") + 1;
    return { lines: parseLines(text.slice(0, end)), upTo: summed + end };
  } catch {
    return { lines: [], upTo: aside.summed ?? 0 };
  }
}

function tryRename(files: HostFiles, from: string, to: string): boolean {
  return quietly(() => {
    files.rename(from, to);
    return true;
  }) ?? false;
}

/**
 * The lines of a record summed, those whose last drop is older than `keptSince` left out: from the first drop to the
 * last, the counts by reason (at most {@link MAX_REASONS} of them), and the endpoint the last line names. A time
 * ahead of `now` (a run whose clock was set ahead) is taken as now: it would otherwise never age out.
 */
function sum(lines: readonly DropsRecord[], keptSince: number, now: number): DropsRecord | undefined {
  const kept = dated(lines, keptSince, now).filter((line) => line.last >= keptSince);
  if (kept.length === 0) return undefined;
  const counts: Record<string, number> = {};
  for (const line of kept) {
    for (const [reason, n] of Object.entries(line.dropped)) {
      if (reason in counts || Object.keys(counts).length < MAX_REASONS) addCount(counts, reason, n);
    }
  }
  for (const reason of Object.keys(counts)) counts[reason] = Math.min(counts[reason], Number.MAX_SAFE_INTEGER);
  const { endpoint, endpointHash } = kept[kept.length - 1];
  return {
    since: Math.min(...kept.map((line) => line.since)),
    last: Math.max(...kept.map((line) => line.last)),
    dropped: counts,
    ...(endpointHash === undefined ? {} : { endpointHash }),
    ...(endpoint === undefined ? {} : { endpoint }),
  };
}

/**
 * Lines with the times they can have: at most `by` (when their file was last written: what was written then was not
 * written later) and `now`; none dated further ahead of `now` than what is kept reaches back (a machine whose own
 * clock was set years ahead): no time can be told for those, so they are left out, as history is.
 */
function dated(lines: readonly DropsRecord[], keptSince: number, now: number, by = now): DropsRecord[] {
  return lines.flatMap((line) => {
    const last = Math.min(line.last, by);
    return last - now > now - keptSince
      ? []
      : [{ ...line, since: Math.min(line.since, by, now), last: Math.min(last, now) }];
  });
}

/**
 * Reads a record through the guarded door: its valid lines (one another run is writing, or a crash cut short, or
 * garbage, is none), its size, and whether it ends a line; `undefined` when there is none, `"invalid"` when it is not
 * a regular file of the user's that only they may write.
 */
function readDrops(
  files: HostFiles,
  path: string,
): { lines: DropsRecord[]; bytes: number; ended: boolean } | "invalid" | undefined {
  try {
    const text = files.read(path, MAX_DROPS_FILE_BYTES);
    if (text === undefined) return undefined;
    return { lines: parseLines(text), bytes: text.length, ended: text === "" || text.endsWith("\n") };
  } catch (error) {
    // Not ours; or changing as it is read (replaced by a run summing it, under Deno): none to remove, then.
    return error instanceof RefusedPath ? "invalid" : undefined;
  }
}

/** The valid lines of a record's text. */
function parseLines(text: string): DropsRecord[] {
  return text.split("\n").flatMap((line) => parseRecord(line) ?? []);
}

/** A line of a record, checked: `undefined` when it is not a valid one. */
function parseRecord(text: string): DropsRecord | undefined {
  try {
    const { since, last, dropped, endpoint, endpointHash } = JSON.parse(text);
    const counts = typeof dropped === "object" && dropped !== null && !Array.isArray(dropped)
      ? Object.entries(dropped)
      : [];
    const valid = validTime(since) && validTime(last) && since <= last &&
      counts.length > 0 && counts.length <= MAX_REASONS &&
      counts.every(([reason, n]) => REASON.test(reason) && Number.isSafeInteger(n) && (n as number) > 0);
    if (!valid) return undefined;
    const record: DropsRecord = {
      since,
      last,
      dropped: Object.fromEntries(counts) as Record<string, number>,
      ...(typeof endpointHash === "string" && HASH.test(endpointHash) ? { endpointHash } : {}),
    };
    return typeof endpoint === "string" && redact(endpoint) === endpoint ? { ...record, endpoint } : record;
  } catch {
    return undefined;
  }
}

/** A time a timestamp can show: a whole number of milliseconds from 1970 to the year 275760. */
function validTime(ms: unknown): ms is number {
  return Number.isSafeInteger(ms) && (ms as number) >= 0 && (ms as number) <= MAX_TIME_MS;
}

function dropsPath(dir: string, key: string): string {
  return below(dir, `drops-${key}.json`);
}
