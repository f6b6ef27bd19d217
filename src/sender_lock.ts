/**
 * The sender's lock: at most one sender works on one endpoint's spooled events
 * (one spool key) at a time. Each sender that wants the key creates a lock
 * file of its own, named for the key and the time it was made
 * (`sender-<key>-<ms>-<random>.lock`), then lists the directory: it holds the
 * key only if its file is the only live one. As each creates before it looks,
 * two can never both hold it; when two race and both let go, each tries again
 * after a random pause, and the first to try alone holds it. A lock lives at most {@link MAX_SENDER_LIFETIME_MS}
 * from its making, so one left by a killed sender is ignored after that and
 * removed by whoever sees it; a sender removes only its own. Nothing is read
 * from a lock file: its name says all. The directory is checked (a private
 * directory of the user's, reached through no link) before a lock is written
 * or removed.
 *
 * A sender takes tens of milliseconds to start and take its lock, and runs
 * that end together (a build tool running a CLI in parallel) would each start
 * one meanwhile. So a run about to start a sender first leaves a start mark
 * (`sender-<key>-<ms>-<random>.start`), made and then looked at as a lock is:
 * a run that finds a live lock, or a mark older than its own, starts none. A
 * sender that finds the key locked, by itself or another, removes the marks:
 * the lock holds runs off from then on. A mark whose sender never took the
 * lock (killed as it started) holds runs off for {@link START_MARK_MS}, and
 * the events of the runs that end meanwhile wait in the spool for a later run.
 *
 * @module
 */
import { randomFraction, randomHex, stamp } from "./atomic.ts";
import { shortHash } from "./hash.ts";
import { host, type HostFiles } from "./runtime/mod.ts";

/** The longest a sender may live. */
export const MAX_SENDER_LIFETIME_MS = 15_000;

/**
 * How long a run's start mark holds other runs off: a few times what a sender takes to start and take its lock,
 * and no longer, as a mark whose sender was killed before it took the lock (a Ctrl-C to the program's group in the
 * instant it starts the sender) holds them off all that time. Alone, a sender takes tens of milliseconds; twelve
 * runs ending together on 2 cores took 98-266 ms from mark to lock (their senders compete for the CPU), and a quarter
 * of a second let the later marks lapse before their locks: runs then counted too few senders and started more (9
 * where the cap is 5, in a CI run). A sender slower than this may meet a second one, which the lock turns away.
 */
export const START_MARK_MS = 1_000;

/**
 * The most senders at once for one endpoint's host in a spool directory: a run that finds this many of other keys
 * (other programs, or other settings: headers, an OTLP resource) at work there starts none, and its exit delivers in
 * process. A program whose settings change every run (a `service.instance.id` of its own in
 * `OTEL_RESOURCE_ATTRIBUTES`) has a key of its own each run, and started a sender each run: 25 at once, 1.3 GB between
 * them, behind an endpoint answering in 1.9 s. Senders for other hosts are not counted: each is another program's.
 * Programs of one host with headers of their own (each its key) are as many keys: with three, a fourth ending while
 * the others' senders worked paid its endpoint's answer; five such programs at once keep their hand-off.
 */
export const MAX_OTHER_SENDERS = 5;

/**
 * How long a run may take from its mark's time to its file and still rank by that time among other keys' runs. Held
 * up longer (preempted: twelve runs and six busy processes on 2 cores, where nine or ten of twelve would start a
 * sender, the cap 5), runs that looked meanwhile missed it, and it counts every mark it finds. Where the two take tens
 * of microseconds, a preemption takes tens of milliseconds; 10 ms rather than 1 as a create on a network file system
 * takes milliseconds: with 1, every run there was held up, runs counted each other's marks, and as few as one of seven
 * started where five should (they delivered in process, within their budget).
 */
const LATE_MS = 10;

/**
 * The start of a lock's or mark's random part that tells its endpoint's host: runs count the senders of other keys at
 * work for theirs. Four hex digits of a hash of the URL's origin (scheme, host and port): a value in its path, query
 * or user name that changes every run is a setting of one server, as a header would be. Names of versions before it
 * (random there) match one in 65,536.
 */
function endpointTag(endpoint: string): string {
  let origin = endpoint;
  try {
    origin = new URL(endpoint).origin;
  } catch {
    // Not a URL (no sender is started for one): the text stands for itself.
  }
  return shortHash(origin).slice(0, 4);
}

/** The name of a lock or start mark of a key made at `now`, with its endpoint's {@link endpointTag}. */
function lockFileName(key: string, now: number, tag: string, kind: "lock" | "start"): string {
  return `sender-${key}-${stamp(now)}-${tag}${randomHex(8)}.${kind}`;
}

/** A lock: the file a sender made, which only it removes. */
export type SenderLock = string;

/**
 * A key's live locks and start marks at `now`, each oldest first; and the other keys of the same host that have
 * one, each with its oldest's rank: when it was made, then its name (which tells apart two made in the same
 * millisecond).
 */
interface Live {
  locks: string[];
  marks: string[];
  others: Map<string, string>;
}

/**
 * The lock files and start marks live at `now`, of a key and, given its host's {@link endpointTag}, of others of that
 * host; the stale ones are removed on the way.
 */
function live(files: HostFiles, dir: string, key: string, now: number, tag?: string): Live {
  const found: Live = { locks: [], marks: [], others: new Map() };
  for (const name of files.list(dir)) {
    const match = /^sender-([0-9a-f]+)-(\d{13})-([0-9a-f]{4})[0-9a-f]{8}\.(lock|start)$/.exec(name);
    if (!match) continue;
    const made = Number(match[2]);
    const life = match[4] === "lock" ? MAX_SENDER_LIFETIME_MS : START_MARK_MS;
    // Older than its life, or from a clock that has since gone back: no live sender's, no run's about to start one.
    if (made + life <= now || made > now + life) remove(files, `${dir}/${name}`);
    else if (match[1] === key) (match[4] === "lock" ? found.locks : found.marks).push(name);
    else if (match[3] === tag) {
      const [rank, oldest] = [`${match[2]} ${name}`, found.others.get(match[1])];
      if (oldest === undefined || rank < oldest) found.others.set(match[1], rank);
    }
  }
  found.locks.sort();
  found.marks.sort();
  return found;
}

/**
 * Whether a sender works on a spool key: a lock of it is younger than a sender's life (a run's start mark is not
 * a sender at work: see {@link markSenderStart}).
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param key The spool key.
 * @param now The current time, in epoch milliseconds.
 * @returns `true` while a sender holds the key.
 * @example
 * ```ts
 * import { senderAlive } from "./sender_lock.ts";
 * import { host } from "./runtime/mod.ts";
 * senderAlive(host().files!, "/tmp/spool", "0123abcd", Date.now()); // false: no lock there
 * ```
 */
export function senderAlive(files: HostFiles, dir: string, key: string, now: number): boolean {
  try {
    return live(files, dir, key, now).locks.length > 0;
  } catch {
    return false;
  }
}

/**
 * Leaves a run's start mark for a sender it is about to start, unless a sender works on the key or another run's
 * mark is older: then that one starts, and this run starts none; nor where {@link MAX_OTHER_SENDERS} senders of
 * other keys work for its endpoint's host in the directory, or are about to, started before it (`"crowded"`). Never
 * throws.
 *
 * @param files File access.
 * @param dir The spool directory (the run has just spooled in it).
 * @param key The spool key.
 * @param endpoint The endpoint the key's events go to.
 * @returns `"at work"` when this run must start no sender, `"crowded"` when it must start none for the others;
 *   else its mark, to remove if the start fails (`undefined` when none could be left: the run starts its sender all
 *   the same).
 * @example
 * ```ts ignore
 * const mark = markSenderStart(files, dir, key, endpoint);
 * if (mark !== "at work" && spawn(command) !== "started") clearStartMark(files, dir, mark);
 * ```
 */
export function markSenderStart(
  files: HostFiles,
  dir: string,
  key: string,
  endpoint: string,
): string | undefined | "at work" | "crowded" {
  let mark: string | undefined;
  try {
    files.ensureDir(dir, true);
    const tag = endpointTag(endpoint);
    const before = live(files, dir, key, Date.now(), tag);
    if (before.locks.length > 0 || before.marks.length > 0) return "at work";
    if (before.others.size >= MAX_OTHER_SENDERS) return "crowded";
    const started = host().monotonicMs();
    const now = Date.now(); // when the mark is made: marks sort in the order they were made
    mark = lockFileName(key, now, tag, "start");
    files.create(`${dir}/${mark}`, "");
    // A run held up between its mark's time and its file (preempted on a loaded machine) was unseen meanwhile by
    // runs that rank after it, which did not count it: it counts them all.
    const late = host().monotonicMs() - started > LATE_MS;
    // Made before looking: of runs marking at once, each sees the others' marks, and only the oldest starts one.
    const after = live(files, dir, key, now, tag);
    const atWork = after.locks.length > 0 || after.marks[0] !== mark;
    // Of runs of other keys marking at once, as many start one as may work beside those there before them.
    const rank = late ? "~" : `${stamp(now)} ${mark}`; // "~" ranks after every time
    const crowded = [...after.others.values()].filter((other) => other < rank).length >= MAX_OTHER_SENDERS;
    if (!atWork && !crowded) return mark;
    remove(files, `${dir}/${mark}`);
    return atWork ? "at work" : "crowded";
  } catch {
    return mark; // The mark could not be made, or looked at: start the sender, as before marks.
  }
}

/**
 * Removes a run's start mark, when the sender it marked for could not be started. Never throws.
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param mark What {@link markSenderStart} returned.
 * @example
 * ```ts ignore
 * clearStartMark(files, dir, mark);
 * ```
 */
export function clearStartMark(files: HostFiles, dir: string, mark: string | undefined): void {
  if (mark !== undefined) removeWhileOurs(files, dir, () => [mark]);
}

/**
 * Removes a key's start marks, for a sender that will not take the key's lock (the user has opted out since its
 * run ended): left, they would hold the next runs off as if a sender were on its way. Never throws.
 *
 * @param files File access.
 * @param dir The spool directory, checked first.
 * @param key The spool key.
 * @example
 * ```ts ignore
 * if (!consentHolds()) return clearStartMarks(files, dir, key);
 * ```
 */
export function clearStartMarks(files: HostFiles, dir: string, key: string): void {
  removeWhileOurs(files, dir, () => live(files, dir, key, Date.now()).marks);
}

/**
 * Takes the lock of a spool key, unless a live sender holds it. Never rejects.
 *
 * @param files File access.
 * @param dir The spool directory, checked first.
 * @param key The spool key.
 * @param endpoint The endpoint the key's events go to (its lock says its host, for runs counting the senders there).
 * @returns The lock, to release, or `undefined` when another sender holds the key (or there is no directory
 *   of ours to lock in).
 * @example
 * ```ts ignore
 * const lock = await takeSenderLock(files, dir, key, endpoint);
 * if (lock) { ... releaseSenderLock(files, dir, lock); }
 * ```
 */
export async function takeSenderLock(
  files: HostFiles,
  dir: string,
  key: string,
  endpoint: string,
): Promise<SenderLock | undefined> {
  const tag = endpointTag(endpoint);
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
    const now = Date.now();
    try {
      // A spool directory removed since the run (the user cleared their cache) has nothing to send: not made again.
      files.ensureDir(dir, true, false);
      const before = live(files, dir, key, now);
      if (before.locks.length > 0) {
        // Held: by a sender at work, or a racer. Its lock holds runs off from now on: the marks have done their part.
        removeAll(files, dir, before.marks);
        return undefined;
      }
      const lock = lockFileName(key, now, tag, "lock");
      files.create(`${dir}/${lock}`, "");
      // Made before looking: of two racing, the second to look sees both. Only the one alone holds the key.
      const { locks, marks } = live(files, dir, key, now);
      if (locks.join() === lock) {
        removeAll(files, dir, marks); // the lock holds runs off from now on
        return lock;
      }
      remove(files, `${dir}/${lock}`);
    } catch {
      return undefined; // No directory of ours, or the disk is full: no lock.
    }
    // Others raced and may all have let go: try again after a random pause, so that one tries alone.
    await new Promise((resolve) => setTimeout(resolve, 10 + randomFraction() * 50));
  }
  return undefined;
}

/** How often a sender tries for a lock that racing senders keep letting go. */
const LOCK_ATTEMPTS = 5;

/**
 * Lets go of a lock this process took. Never throws.
 *
 * @param files File access.
 * @param dir The spool directory, checked first.
 * @param lock What {@link takeSenderLock} returned.
 * @example
 * ```ts ignore
 * releaseSenderLock(files, dir, lock);
 * ```
 */
export function releaseSenderLock(files: HostFiles, dir: string, lock: SenderLock): void {
  removeWhileOurs(files, dir, () => [lock]);
}

/** Removes the names `which` gives, once the directory is checked to be still ours (and not made again); never throws. */
function removeWhileOurs(files: HostFiles, dir: string, which: () => readonly string[]): void {
  try {
    files.ensureDir(dir, true, false); // removed meanwhile, with what was in it: not made again
    removeAll(files, dir, which());
  } catch {
    // The directory is no longer ours to touch.
  }
}

function removeAll(files: HostFiles, dir: string, names: readonly string[]): void {
  for (const name of names) remove(files, `${dir}/${name}`);
}

function remove(files: HostFiles, path: string): void {
  try {
    files.remove(path);
  } catch {
    // Gone already: another process removed a stale lock first.
  }
}
