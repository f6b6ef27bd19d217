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
 * @module
 */
import { randomHex, stamp } from "./atomic.ts";
import type { HostFiles } from "./runtime/mod.ts";

/** The longest a sender may live. */
export const MAX_SENDER_LIFETIME_MS = 15_000;

/** A lock: the file a sender made, which only it removes. */
export type SenderLock = string;

/** The lock files of a key that are live at `now`, oldest first; the stale ones are removed on the way. */
function liveLocks(files: HostFiles, dir: string, key: string, now: number): string[] {
  const pattern = new RegExp(`^sender-${key}-(\\d{13})-[0-9a-f]{12}\\.lock$`);
  const live: string[] = [];
  for (const name of files.list(dir)) {
    const made = Number(pattern.exec(name)?.[1] ?? NaN);
    if (Number.isNaN(made)) continue;
    // A lock older than a sender's life, or from a clock that has since gone back, belongs to no live sender.
    if (made + MAX_SENDER_LIFETIME_MS > now && made <= now + MAX_SENDER_LIFETIME_MS) live.push(name);
    else remove(files, `${dir}/${name}`);
  }
  return live.sort();
}

/**
 * Whether a sender works on a spool key: a lock of it is younger than a sender's life.
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
    return liveLocks(files, dir, key, now).length > 0;
  } catch {
    return false;
  }
}

/**
 * Takes the lock of a spool key, unless a live sender holds it. Never rejects.
 *
 * @param files File access.
 * @param dir The spool directory, checked first.
 * @param key The spool key.
 * @returns The lock, to release, or `undefined` when another sender holds the key (or there is no directory
 *   of ours to lock in).
 * @example
 * ```ts ignore
 * const lock = await takeSenderLock(files, dir, key);
 * if (lock) { ... releaseSenderLock(files, dir, lock); }
 * ```
 */
export async function takeSenderLock(files: HostFiles, dir: string, key: string): Promise<SenderLock | undefined> {
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
    const now = Date.now();
    try {
      files.ensureDir(dir, true);
      if (liveLocks(files, dir, key, now).length > 0) return undefined; // held: by a sender at work, or a racer
      const lock = `sender-${key}-${stamp(now)}-${randomHex()}.lock`;
      files.create(`${dir}/${lock}`, "");
      // Made before looking: of two racing, the second to look sees both. Only the one alone holds the key.
      if (liveLocks(files, dir, key, now).join() === lock) return lock;
      remove(files, `${dir}/${lock}`);
    } catch {
      return undefined; // No directory of ours, or the disk is full: no lock.
    }
    // Others raced and may all have let go: try again after a random pause, so that one tries alone.
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 50));
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
  try {
    files.ensureDir(dir, true);
    remove(files, `${dir}/${lock}`);
  } catch {
    // The directory is no longer ours to touch.
  }
}

function remove(files: HostFiles, path: string): void {
  try {
    files.remove(path);
  } catch {
    // Gone already: another process removed a stale lock first.
  }
}
