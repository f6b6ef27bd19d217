/**
 * The sender's lock: at most one sender works on one endpoint's spooled events
 * (one spool key) at a time. The lock is a file in the spool directory that
 * says until when its sender lives, so a sender that was killed holds it for
 * at most {@link MAX_SENDER_LIFETIME_MS}. The directory is checked (a private
 * directory of the user's, reached through no link) before the lock is
 * written or removed.
 *
 * @module
 */
import { temporaryName } from "./atomic.ts";
import type { HostFiles } from "./runtime/mod.ts";

/** The longest a sender may live. */
export const MAX_SENDER_LIFETIME_MS = 15_000;

/** A lock file is a few dozen bytes. */
const MAX_LOCK_BYTES = 256;

function lockPath(dir: string, key: string): string {
  return `${dir}/sender-${key}.lock`;
}

/**
 * Whether a sender works on a spool key: its lock says it lives until a time still to come.
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
    const { until } = JSON.parse(files.read(lockPath(dir, key), MAX_LOCK_BYTES) ?? "{}");
    return Number.isFinite(until) && until > now && until <= now + MAX_SENDER_LIFETIME_MS;
  } catch {
    return false;
  }
}

/**
 * Takes the lock of a spool key until `until`, unless a live sender holds it; a stale lock is taken over by
 * one sender only. Never throws.
 *
 * @param files File access.
 * @param dir The spool directory, checked first.
 * @param key The spool key.
 * @param until When the taker's life ends, in epoch milliseconds.
 * @returns Whether the lock is now the caller's.
 * @example
 * ```ts ignore
 * if (takeSenderLock(files, dir, key, Date.now() + 15_000)) { ... releaseSenderLock(files, dir, key); }
 * ```
 */
export function takeSenderLock(files: HostFiles, dir: string, key: string, until: number): boolean {
  const lock = lockPath(dir, key);
  const now = Date.now();
  try {
    files.ensureDir(dir, true);
    if (senderAlive(files, dir, key, now)) return false;
  } catch {
    return false;
  }
  try {
    // A stale lock: whoever renames it away first takes over; the others fail the rename.
    const stale = temporaryName(dir, now);
    files.rename(lock, stale);
    files.remove(stale);
  } catch {
    // No lock there, or another sender moved it first.
  }
  try {
    files.create(lock, JSON.stringify({ until }));
    return true;
  } catch {
    return false; // another sender created it first, or the disk is full
  }
}

/**
 * Lets go of a spool key's lock. Never throws.
 *
 * @param files File access.
 * @param dir The spool directory, checked first.
 * @param key The spool key.
 * @example
 * ```ts ignore
 * releaseSenderLock(files, dir, key);
 * ```
 */
export function releaseSenderLock(files: HostFiles, dir: string, key: string): void {
  try {
    files.ensureDir(dir, true);
    files.remove(lockPath(dir, key));
  } catch {
    // Already gone, or the directory is no longer ours to touch.
  }
}
