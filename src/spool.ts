/**
 * The durable spool: events that could not be delivered before the process
 * ended, kept on disk for a later run.
 *
 * Files are JSON Lines, one event per line, written atomically (a temporary
 * file, then a rename) with owner-only permissions. A file's name carries its
 * time, event count and size, so the spool is bounded from a directory
 * listing alone: `e-<epoch ms>-<events>-<bytes>-<random>.jsonl`. A run claims
 * a file by renaming it to `c-<claim ms>-<name>`; only one process can win
 * that rename, so two runs never send the same spooled event. A claimed file
 * is deleted once every event in it is settled (delivered, dropped or spooled
 * again); a claim older than an hour belongs to a run that died, and is taken over.
 *
 * @module
 */
import { randomHex, stamp, TEMP_FILE, writeAtomically } from "./atomic.ts";
import type { HostFiles } from "./runtime/mod.ts";
import { addCount } from "./tally.ts";
import { utf8Length } from "./utf8.ts";

/** How much the spool keeps. */
export interface SpoolLimits {
  /** Events at most. */
  readonly maxEvents: number;
  /** Bytes of spool files at most. */
  readonly maxBytes: number;
  /** Age of an event at most, in milliseconds. */
  readonly maxAgeMs: number;
}

/** An event as the spool keeps it. */
export interface SpooledEvent {
  /** `JSON.stringify` of its wire form (its original timestamp is inside). */
  readonly json: string;
  /** Its schema version. */
  readonly schemaVersion: string;
  /** The session it was recorded in. */
  readonly sessionId: string;
  /** Failed deliveries so far. */
  readonly retries: number;
  /** When it happened, in epoch milliseconds. */
  readonly timestamp: number;
}

/** A claimed spool file, deleted when none of its events is left unsettled. */
export interface SpoolClaim {
  readonly path: string;
  remaining: number;
}

/** What a claim took from disk. */
export interface ClaimResult {
  /** The events, each with the claim it came from. */
  readonly events: (SpooledEvent & { readonly claim: SpoolClaim })[];
  /** Events taken from disk but dropped, by reason: `spool_corrupt`, `spool_expired`, `spool_unavailable`. */
  readonly dropped: Record<string, number>;
}

/** A claim older than this belongs to a run that died. */
export const STALE_CLAIM_MS = 3_600_000;

const SPOOL_FILE = /^e-(\d{13})-(\d+)-(\d+)-[0-9a-f]+\.jsonl$/;
const CLAIMED_FILE = /^c-(\d{13})-(e-.+)$/;

/** A spool file's name, parsed. */
interface Entry {
  readonly name: string;
  readonly time: number;
  readonly events: number;
  readonly bytes: number;
}

/**
 * The spool in one directory.
 *
 * @example
 * ```ts
 * import { Spool } from "./spool.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * const spool = files && Spool.open("/tmp/spool", files, { maxEvents: 1000, maxBytes: 1 << 20, maxAgeMs: 604_800_000 });
 * spool?.peek();
 * ```
 */
export class Spool {
  readonly dir: string;
  readonly #files: HostFiles;
  readonly #limits: SpoolLimits;

  private constructor(dir: string, files: HostFiles, limits: SpoolLimits) {
    this.dir = dir;
    this.#files = files;
    this.#limits = limits;
  }

  /**
   * Opens (creating, owner-only) the spool directory.
   *
   * @param dir The directory.
   * @param files File access.
   * @param limits The bounds.
   * @returns The spool, or `undefined` when the directory cannot be read and written (never a prompt).
   */
  static open(dir: string, files: HostFiles, limits: SpoolLimits): Spool | undefined {
    if (!files.allowed(dir, "read") || !files.allowed(dir, "write")) return undefined;
    try {
      files.mkdir(dir);
      return new Spool(dir, files, limits);
    } catch {
      return undefined;
    }
  }

  /**
   * Writes events to a new spool file atomically, keeping the newest within
   * the limits, then prunes the oldest files past the limits.
   *
   * @param events The events, oldest first.
   * @param now The current time, in epoch milliseconds.
   * @returns Events dropped to keep the bounds, by reason (`spool_full`, `spool_expired`), ours and other runs'.
   * @throws When the file cannot be written; the caller counts its events.
   */
  write(events: readonly SpooledEvent[], now: number): Record<string, number> {
    const dropped: Record<string, number> = {};
    const lines = events.map(spoolLine);
    let bytes = lines.reduce((sum, line) => sum + line.bytes + 1, 0);
    let first = Math.max(0, lines.length - this.#limits.maxEvents);
    while (first < lines.length && bytes > this.#limits.maxBytes) bytes -= lines[first++].bytes + 1;
    addCount(dropped, "spool_full", first);
    this.#writeFile(lines.slice(first), now);
    this.#prune(now, dropped);
    return dropped;
  }

  /**
   * Claims spool files, oldest first, until `room` events are taken, and
   * reads them; of a file larger than what is left of the room, the rest is
   * written back. Corrupt lines and expired events are dropped and counted.
   *
   * @param room How many events the caller can take.
   * @param now The current time, in epoch milliseconds.
   * @returns The events and the drops.
   */
  claim(room: number, now: number): ClaimResult {
    const events: (SpooledEvent & { claim: SpoolClaim })[] = [];
    const dropped: Record<string, number> = {};
    for (const { entry, path } of this.#claimable(now)) {
      if (events.length >= room) break;
      const claimed = `${this.dir}/c-${stamp(now)}-${entry.name}`;
      try {
        this.#files.rename(path, claimed);
      } catch {
        continue; // Another run claimed it first.
      }
      const claim: SpoolClaim = { path: claimed, remaining: 0 };
      let text = "";
      try {
        text = this.#files.read(claimed);
      } catch {
        // Unreadable: every event it named is lost.
      }
      const valid: SpooledEvent[] = [];
      let read = 0;
      for (const line of text.split("\n")) {
        if (line === "") continue;
        read++;
        const event = parseLine(line);
        if (event === undefined) addCount(dropped, "spool_corrupt", 1);
        else if (now - event.timestamp > this.#limits.maxAgeMs) addCount(dropped, "spool_expired", 1);
        else valid.push(event);
      }
      addCount(dropped, "spool_corrupt", Math.max(0, entry.events - read));
      // A file larger than the room is split: what does not fit goes back, keeping its place in line.
      const taken = valid.slice(0, room - events.length);
      try {
        this.#writeFile(valid.slice(taken.length).map(spoolLine), entry.time);
      } catch {
        addCount(dropped, "spool_unavailable", valid.length - taken.length);
      }
      for (const event of taken) events.push({ ...event, claim });
      claim.remaining = taken.length;
      if (claim.remaining === 0) this.release(claim);
    }
    return { events, dropped };
  }

  /**
   * Deletes a claimed file; its events are settled or spooled again.
   *
   * @param claim The claim.
   */
  release(claim: SpoolClaim): void {
    try {
      this.#files.remove(claim.path);
    } catch {
      // Already gone.
    }
  }

  /**
   * Reads every spooled event without claiming anything, for inspection.
   *
   * @returns The events of unclaimed and claimed files, oldest file first, and whether each file is claimed.
   */
  peek(): { claimed: boolean; events: SpooledEvent[] }[] {
    return this.#list()
      .flatMap((name) => {
        const claimed = CLAIMED_FILE.exec(name);
        const entry = parseEntry(claimed ? claimed[2] : name);
        if (!entry) return [];
        let text = "";
        try {
          text = this.#files.read(`${this.dir}/${name}`);
        } catch {
          // Gone or unreadable: nothing to show.
        }
        const events = text.split("\n").flatMap((line) => parseLine(line) ?? []);
        return [{ time: entry.time, claimed: claimed !== null, events }];
      })
      .sort((a, b) => a.time - b.time)
      .map(({ claimed, events }) => ({ claimed, events }));
  }

  /**
   * Deletes every spooled event, claimed or not: what the user no longer agrees to send.
   *
   * @returns How many events were deleted.
   */
  clear(): number {
    let deleted = 0;
    for (const name of this.#list()) {
      const claimed = CLAIMED_FILE.exec(name);
      const entry = parseEntry(claimed ? claimed[2] : name);
      if (entry && this.#remove(name)) deleted += entry.events;
    }
    return deleted;
  }

  /**
   * The spool's unclaimed files, oldest first.
   *
   * @returns Their names, times, event counts and sizes.
   */
  entries(): Entry[] {
    return this.#list().flatMap((name) => parseEntry(name) ?? []).sort((a, b) => a.time - b.time);
  }

  /** Writes lines as one spool file named for `time`; nothing for no lines. */
  #writeFile(lines: readonly { text: string; bytes: number }[], time: number): void {
    if (lines.length === 0) return;
    const bytes = lines.reduce((sum, line) => sum + line.bytes + 1, 0);
    const name = `e-${stamp(time)}-${lines.length}-${bytes}-${randomHex()}.jsonl`;
    writeAtomically(this.#files, this.dir, name, lines.map((line) => `${line.text}\n`).join(""), time);
  }

  #list(): string[] {
    try {
      return this.#files.list(this.dir);
    } catch {
      return [];
    }
  }

  /** Unclaimed files and stale claims, oldest first; removes stale temporary files on the way. */
  #claimable(now: number): { entry: Entry; path: string }[] {
    const found: { entry: Entry; path: string }[] = [];
    for (const name of this.#list()) {
      const stale = (time: string) => now - Number(time) > STALE_CLAIM_MS;
      const claimed = CLAIMED_FILE.exec(name);
      const temp = TEMP_FILE.exec(name);
      const entry = claimed ? (stale(claimed[1]) ? parseEntry(claimed[2]) : undefined) : parseEntry(name);
      if (entry) found.push({ entry, path: `${this.dir}/${name}` });
      else if (temp && stale(temp[1])) this.#remove(name);
    }
    return found.sort((a, b) => a.entry.time - b.entry.time);
  }

  #prune(now: number, dropped: Record<string, number>): void {
    const entries = this.entries();
    let events = entries.reduce((sum, entry) => sum + entry.events, 0);
    let bytes = entries.reduce((sum, entry) => sum + entry.bytes, 0);
    for (const entry of entries) {
      const expired = now - entry.time > this.#limits.maxAgeMs;
      if (!expired && events <= this.#limits.maxEvents && bytes <= this.#limits.maxBytes) break;
      if (!this.#remove(entry.name)) continue;
      addCount(dropped, expired ? "spool_expired" : "spool_full", entry.events);
      events -= entry.events;
      bytes -= entry.bytes;
    }
  }

  #remove(name: string): boolean {
    try {
      this.#files.remove(`${this.dir}/${name}`);
      return true;
    } catch {
      return false;
    }
  }
}

function parseEntry(name: string): Entry | undefined {
  const match = SPOOL_FILE.exec(name);
  return match ? { name, time: Number(match[1]), events: Number(match[2]), bytes: Number(match[3]) } : undefined;
}

/** One spool line, built without serializing the event again. */
function spoolLine(event: SpooledEvent): { text: string; bytes: number } {
  const text = `{"retries":${event.retries},"schemaVersion":${JSON.stringify(event.schemaVersion)},"sessionId":${
    JSON.stringify(event.sessionId)
  },"timestamp":${Math.floor(event.timestamp)},"event":${event.json}}`;
  return { text, bytes: utf8Length(text) };
}

/** Reads a spool line back, or `undefined` when it is not one. */
function parseLine(line: string): SpooledEvent | undefined {
  try {
    const { retries, schemaVersion, sessionId, timestamp, event } = JSON.parse(line);
    const valid = Number.isSafeInteger(retries) && retries >= 0 && typeof schemaVersion === "string" &&
      typeof sessionId === "string" &&
      Number.isFinite(timestamp) && typeof event?.name === "string" && typeof event?.ts === "string" &&
      typeof event?.parameters === "object" && event.parameters !== null;
    return valid ? { json: JSON.stringify(event), schemaVersion, sessionId, retries, timestamp } : undefined;
  } catch {
    return undefined;
  }
}
