/**
 * What runs and senders dropped, per spool key (an endpoint, as one program's
 * runs send to it), kept beside the spool. A sender has no output, and a CLI's
 * run no `stats()` anyone reads: the events they drop (an endpoint that
 * refuses them, retries spent, a spool past its bounds) would be counted where
 * no one sees them, and a program would never learn that its endpoint refuses
 * its events. `nat-telemetry status` and `inspect` show what is recorded
 * here. Each run adds a line in one write (appended: runs ending at the same
 * instant each keep theirs, where rewriting the whole would lose one's); past
 * a size, the lines are summed into one.
 *
 * @module
 */
import { temporaryName } from "./atomic.ts";
import { redact } from "./describe.ts";
import { MAX_TIME_MS } from "./envelope.ts";
import { shortHash } from "./hash.ts";
import { readNamed } from "./named_files.ts";
import { below, RefusedPath } from "./runtime/guarded_files.ts";
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

/** What runs and senders dropped for one spool key. */
export interface DropsRecord {
  /** When the first of them was recorded, in epoch milliseconds. */
  readonly since: number;
  /** When the last was, in epoch milliseconds. */
  readonly last: number;
  /** Events dropped, by reason (`http_400`, `retries_exhausted`, `spool_full`...). */
  readonly dropped: Readonly<Record<string, number>>;
  /** The endpoint's URL, where it could be written (not one with credentials or a query). */
  readonly endpoint?: string;
  /** A hash of the endpoint's URL (as its health file's name has), written always: what names it otherwise. */
  readonly endpointHash?: string;
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
  const read = readDrops(files, dropsPath(dir, key));
  return typeof read === "object" ? sum(read.lines, keptSince) : undefined;
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
  return readNamed(files, dir, DROPS_FILE, (key) => {
    const drops = dropsRecord(files, dir, key, keptSince);
    return drops && { key, ...drops };
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
  const added = Object.entries(dropped).filter(([reason, n]) =>
    REASON.test(reason) && Number.isSafeInteger(n) && n > 0
  );
  if (added.length === 0 || !validTime(now)) return;
  // As in a health file: a URL whose printing masks part of it (credentials, a query) is written nowhere.
  const named = { since: now, last: now, dropped: Object.fromEntries(added.slice(0, MAX_REASONS)) };
  const hashed = { ...named, endpointHash: shortHash(endpoint) };
  const line: DropsRecord = redact(endpoint) === endpoint ? { ...hashed, endpoint } : hashed;
  const text = `${JSON.stringify(line)}\n`;
  const path = dropsPath(dir, key);
  try {
    const read = readDrops(files, path);
    // Not ours (a link, a FIFO, another user's file): removed, never written through; the record starts again.
    if (read === "invalid") files.remove(path);
    if (typeof read !== "object" || read.bytes + text.length <= COMPACT_AT_BYTES) {
      // After a line not ended (an earlier version's record; a write a crash cut short), on a line of its own.
      return files.append(path, typeof read === "object" && !read.ended ? `\n${text}` : text, APPEND_UP_TO_BYTES);
    }
    // Summed: the record set aside first, so that what runs add meanwhile goes to a new one, not lost in a rewrite.
    const aside = temporaryName(dir, now);
    files.rename(path, aside);
    const setAside = readDrops(files, aside);
    const summed = sum([...(typeof setAside === "object" ? setAside.lines : []), line], keptSince) ?? line;
    files.append(path, `${JSON.stringify(summed)}\n`, APPEND_UP_TO_BYTES);
    files.remove(aside);
  } catch {
    // No writable spool: the counts go with the run.
  }
}

/**
 * The lines of a record summed, those whose last drop is older than `keptSince` left out: from the first drop to the
 * last, the counts by reason (at most {@link MAX_REASONS} of them), and the endpoint the last line names.
 */
function sum(lines: readonly DropsRecord[], keptSince: number): DropsRecord | undefined {
  const kept = lines.filter((line) => line.last >= keptSince);
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
    const lines = text.split("\n").flatMap((line) => parseRecord(line) ?? []);
    return { lines, bytes: text.length, ended: text === "" || text.endsWith("\n") };
  } catch (error) {
    // Not ours; or changing as it is read (replaced by a run summing it, under Deno): none to remove, then.
    return error instanceof RefusedPath ? "invalid" : undefined;
  }
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
