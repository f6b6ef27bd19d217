/**
 * What senders dropped, per endpoint, kept beside the spool. A sender has no
 * output: the events it drops (an endpoint that refuses them, retries spent,
 * a spool past its bounds) would be counted where no one sees them, and a
 * program that hands off would never learn that its endpoint refuses its
 * events. `nat-telemetry status` and `inspect` show what is recorded here.
 *
 * @module
 */
import { writeAtomically } from "./atomic.ts";
import { shortHash } from "./hash.ts";
import { below } from "./runtime/guarded_files.ts";
import type { HostFiles } from "./runtime/mod.ts";
import { addCount } from "./tally.ts";

/** A record is a few counters; anything larger is not ours. */
const MAX_DROPS_FILE_BYTES = 4096;
/** Reasons kept at most (the package has about twenty; an endpoint's statuses add a few). */
const MAX_REASONS = 32;
const REASON = /^[a-z0-9_]{1,40}$/;

/** What senders dropped for one endpoint. */
export interface SenderDrops {
  /** When the first of them was recorded, in epoch milliseconds. */
  readonly since: number;
  /** When the last was, in epoch milliseconds. */
  readonly last: number;
  /** Events dropped, by reason (`http_400`, `retries_exhausted`, `spool_full`...). */
  readonly dropped: Readonly<Record<string, number>>;
}

/**
 * The drops senders recorded for an endpoint in a spool directory. Never throws.
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param endpoint The endpoint's URL.
 * @param keptSince A record whose last drop is older than this (epoch milliseconds) is none: the spool's age bound,
 *   beyond which what it tells is history.
 * @returns The record, or `undefined` when there is none, or it is not a valid one of ours.
 * @example
 * ```ts
 * import { senderDrops } from "./sender_drops.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) console.log(senderDrops(files, "/tmp/spool", "https://example.com/events")?.dropped);
 * ```
 */
export function senderDrops(
  files: HostFiles,
  dir: string,
  endpoint: string,
  keptSince = -Infinity,
): SenderDrops | undefined {
  const read = readDrops(files, dropsPath(dir, endpoint));
  return typeof read === "object" && read.last >= keptSince ? read : undefined;
}

/**
 * Reads a record through the guarded door: `undefined` when there is none, `"invalid"` when it is not a regular
 * file of the user's that only they may write, or not a valid record.
 */
function readDrops(files: HostFiles, path: string): SenderDrops | "invalid" | undefined {
  try {
    const text = files.read(path, MAX_DROPS_FILE_BYTES);
    if (text === undefined) return undefined;
    const { since, last, dropped } = JSON.parse(text);
    const counts = typeof dropped === "object" && dropped !== null && !Array.isArray(dropped)
      ? Object.entries(dropped)
      : [];
    const valid = Number.isSafeInteger(since) && Number.isSafeInteger(last) && since <= last &&
      counts.length > 0 && counts.length <= MAX_REASONS &&
      counts.every(([reason, n]) => REASON.test(reason) && Number.isSafeInteger(n) && (n as number) > 0);
    return valid ? { since, last, dropped: Object.fromEntries(counts) as Record<string, number> } : "invalid";
  } catch {
    return "invalid";
  }
}

/**
 * Adds a sender's drops to the endpoint's record (what is in its place that is not a valid record of ours is removed,
 * and the record started again). Never throws: where it cannot be written, the counts go with the sender.
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param endpoint The endpoint's URL.
 * @param dropped What the sender dropped, by reason.
 * @param now The current time, in epoch milliseconds.
 * @param keptSince A record whose last drop is older than this is started again (see {@link senderDrops}).
 * @example
 * ```ts
 * import { recordSenderDrops } from "./sender_drops.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) recordSenderDrops(files, "/tmp/spool", "https://example.com/events", { http_400: 2 }, Date.now());
 * ```
 */
export function recordSenderDrops(
  files: HostFiles,
  dir: string,
  endpoint: string,
  dropped: Readonly<Record<string, number>>,
  now: number,
  keptSince = -Infinity,
): void {
  const added = Object.entries(dropped).filter(([reason, n]) =>
    REASON.test(reason) && Number.isSafeInteger(n) && n > 0
  );
  if (added.length === 0) return;
  const path = dropsPath(dir, endpoint);
  const read = readDrops(files, path);
  const before = typeof read === "object" && read.last >= keptSince ? read : undefined;
  try {
    // Not ours (a link, a FIFO, garbage): removed, never written through; the record starts again.
    if (read === "invalid") files.remove(path);
  } catch {
    return;
  }
  const counts: Record<string, number> = { ...before?.dropped };
  for (const [reason, n] of added) {
    if (reason in counts || Object.keys(counts).length < MAX_REASONS) addCount(counts, reason, n);
  }
  for (const reason of Object.keys(counts)) counts[reason] = Math.min(counts[reason], Number.MAX_SAFE_INTEGER);
  const record: SenderDrops = {
    since: before?.since ?? now,
    last: Math.max(now, before?.last ?? now),
    dropped: counts,
  };
  try {
    writeAtomically(files, dir, dropsName(endpoint), JSON.stringify(record), now);
  } catch {
    // No writable spool: the counts go with the sender.
  }
}

/** The record's file name: named by a hash of the endpoint's URL, as its health file is. */
function dropsName(endpoint: string): string {
  return `drops-${shortHash(endpoint)}.json`;
}

function dropsPath(dir: string, endpoint: string): string {
  return below(dir, dropsName(endpoint));
}
