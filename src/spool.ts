/**
 * The durable spool: events that could not be delivered before the process
 * ended, kept on disk for a later run.
 *
 * The directory must be private (created 0700 by us, or a real directory of
 * ours with no group or other write bit); files are read through the guarded
 * door (regular, no link, size-bounded). Files are JSON Lines, one event per
 * line, written atomically (a temporary file, then a rename) with owner-only
 * permissions. A file's name carries its time, event count, size and the
 * endpoint it is for, `e-<epoch ms>-<events>-<bytes>-<endpoint key>-<random>.jsonl`,
 * so the spool is bounded from a directory listing alone and a run replays
 * only events meant for its own endpoint; a file holds one session's events,
 * as a request does, so a delivered request settles whole files. A run claims
 * a file by renaming it to `l-<until ms>-<name>`, a lease until that time;
 * only one process can win that rename, so two runs never send the same
 * spooled event. A claimed file is deleted once every event in it is settled
 * (delivered, dropped or spooled again). Its owner renews the lease while it
 * holds it; a lease that ran out belongs to a run that died, and is taken
 * over. A run that is ending (a CLI's exit, a sender) leases only for what is
 * left of its life, so what it leaves behind waits seconds, not an hour.
 *
 * Each call touches at most {@link FILES_PER_CALL} files, so a spool full of
 * junk costs one run a bounded amount of work; later runs do the rest.
 *
 * @module
 */
import { randomHex, stamp, TEMP_FILE, temporaryName, writeAtomically } from "./atomic.ts";
import { describeError } from "./describe.ts";
import { parametersProblem } from "./envelope.ts";
import { shortHash } from "./hash.ts";
import { jsonLine } from "./json_line.ts";
import { host, type HostFiles } from "./runtime/mod.ts";
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
  /** The client version the run that recorded it sends; unknown in files of older versions. */
  readonly clientVersion?: string | undefined;
  /** Failed deliveries so far. */
  readonly retries: number;
  /** How many requests carrying it a run ended before their answer (absent: none, or a file of an older version). */
  readonly cuts?: number | undefined;
  /** When it happened, in epoch milliseconds. */
  readonly timestamp: number;
}

/** A claimed spool file, deleted when none of its events is left unsettled. */
export interface SpoolClaim {
  /** Where it is now (renewing a claim renames it). */
  path: string;
  /** The spool file's own name. */
  readonly name: string;
  /** When the lease ends, in epoch milliseconds: past it, another run may take the file over. */
  until: number;
  /** Events from it not settled yet. */
  remaining: number;
  /** How many events were taken from it. */
  readonly taken: number;
  /** Whether it holds exactly the events taken: none corrupt or expired, none written back for later. */
  readonly exact: boolean;
}

/** What writing to the spool dropped to keep its bounds, by reason. */
export interface SpoolWriteDrops {
  /** The events being written (the oldest of them, past the bounds). */
  readonly written: Record<string, number>;
  /** Events of files already in the spool, removed to make room or because they expired. */
  readonly older: Record<string, number>;
}

/** What a claim took from disk. */
export interface ClaimResult {
  /** The events, each with the claim it came from. */
  readonly events: (SpooledEvent & { readonly claim: SpoolClaim })[];
  /** Events taken from disk but dropped, by reason: `spool_corrupt`, `spool_expired`, `spool_unavailable`. */
  readonly dropped: Record<string, number>;
}

/** A temporary file this old, or named this far ahead (its writer's clock ran ahead), was left by a writer that died. */
const STALE_TEMP_MS = 3_600_000;

/** Files one call reads, renames or removes at most. */
export const FILES_PER_CALL = 64;

/**
 * How long a file waits in another spool of the user's before {@link Spool.adopt} moves it: one younger may be a
 * hand-off's, whose sender is starting there (runs of another HOME, a service without one, keep that spool still).
 */
const ADOPT_AFTER_MS = 60_000;

/**
 * The spool's bounds unless a program sets its own (`spoolMaxEvents`, `spoolMaxBytes`, `spoolMaxAgeDays`): the least
 * the spool keeps for every endpoint, whatever bounds another program sharing it has.
 */
export const DEFAULT_SPOOL_LIMITS: SpoolLimits = { maxEvents: 1000, maxBytes: 1_048_576, maxAgeMs: 7 * 86_400_000 };

/** The lease of a file claimed to cut its oldest events: a run that dies meanwhile leaves it to another this soon. */
const CUT_LEASE_MS = 60_000;

/**
 * How long past its lease's end a claim of expired events is left to its run (a clock behind another run's, a laptop
 * asleep) before any run removes it.
 */
const DEAD_CLAIM_MS = 86_400_000;

/** How far apart in time two runs' files may be written and still be taken as written alongside each other. */
const ALONGSIDE_MS = 60_000;

/** The shortest a spool line can be: the bytes of its fixed keys. Bounds the count a file of some size can hold. */
const MIN_LINE_BYTES = 64;

// Files written before spooled events carried their endpoint have no key: no run claims them; they expire.
const SPOOL_FILE = /^e-(\d{13})-(\d+)-(\d+)-(?:([0-9a-f]{8})-)?[0-9a-f]{12}\.jsonl$/;
/** `l-<until>-<name>`: leased until then. `c-<since>-<name>`: claimed by an older version then, for an hour. */
const CLAIMED_FILE = /^([lc])-(\d{13})-(e-.+)$/;

/** How long an older version's claim (`c-<since>`, renewed at least every quarter of it) holds. */
const OLD_CLAIM_MS = 3_600_000;

/** A spool file's name, parsed. */
interface Entry {
  readonly name: string;
  readonly time: number;
  /** The count the name claims, at most what its size can hold; the lines read are what is counted. */
  readonly events: number;
  readonly bytes: number;
  /** The endpoint key, `undefined` for files of older versions. */
  readonly key: string | undefined;
}

/**
 * The key that ties spooled events to where and how they are sent: a run replays only events with its own key.
 *
 * @param url The endpoint URL.
 * @param format The wire format. @default {"nat"}
 * @param sender What else the requests say about who sends them (`backlogKey`), "" for the defaults. @default {""}
 * @returns 8 hex digits.
 * @example
 * ```ts
 * import { spoolKey } from "./spool.ts";
 * spoolKey("https://example.com/events") === spoolKey("http://127.0.0.1:9/events"); // false
 * ```
 */
export function spoolKey(url: string, format = "nat", sender = ""): string {
  return shortHash(sender === "" ? `${format} ${url}` : `${format} ${url} ${sender}`);
}

/**
 * The spool in one directory, for one endpoint.
 *
 * @example
 * ```ts
 * import { Spool, spoolKey } from "./spool.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * const limits = { maxEvents: 1000, maxBytes: 1 << 20, maxAgeMs: 604_800_000 };
 * const spool = files && Spool.open("/tmp/spool", files, limits, spoolKey("https://example.com/events"));
 * spool?.peek();
 * ```
 */
export class Spool {
  /** The directory. */
  readonly dir: string;
  /** The endpoint's {@link spoolKey}: what this spool writes and claims. */
  readonly key: string;
  /**
   * Whether every directory above it could be looked at (Deno: only those the program may read). Where not,
   * another user might swap it between two steps: fit for events, not for a script a sender runs from it.
   */
  readonly ancestorsSeen: boolean;
  readonly #files: HostFiles;
  readonly #limits: SpoolLimits;
  /** The whole directory's bounds, whichever endpoints' files it holds: the larger of the program's and the default. */
  readonly #whole: SpoolLimits;

  private constructor(dir: string, files: HostFiles, limits: SpoolLimits, key: string, ancestorsSeen: boolean) {
    this.dir = dir;
    this.#files = files;
    this.#limits = limits;
    this.#whole = {
      maxAgeMs: Math.max(limits.maxAgeMs, DEFAULT_SPOOL_LIMITS.maxAgeMs),
      maxEvents: Math.max(limits.maxEvents, DEFAULT_SPOOL_LIMITS.maxEvents),
      maxBytes: Math.max(limits.maxBytes, DEFAULT_SPOOL_LIMITS.maxBytes),
    };
    this.key = key;
    this.ancestorsSeen = ancestorsSeen;
  }

  /**
   * Opens the spool directory, creating it owner-only if missing. An existing
   * one must be a real directory of the current user that no one else can
   * write; otherwise there is no spool. A path through a link is worked in by
   * where it leads (`dir` of the spool), as Deno checks its permissions there,
   * or as given where Node.js's `--permission` grants only that path.
   *
   * @param dir The directory.
   * @param files File access.
   * @param limits The bounds.
   * @param key The endpoint's {@link spoolKey}: what this spool writes and claims.
   * @param refused Told why, when there is no spool, and whether only because it is not there yet (`look`).
   * @param use `look`: only to look in (`inspect`): it is not made if missing, and reading it is all the program
   *   needs to be allowed; its trust is checked all the same.
   * @returns The spool, or `undefined` when the directory cannot be used safely (never a prompt).
   */
  static open(
    dir: string,
    files: HostFiles,
    limits: SpoolLimits,
    key: string,
    refused: (why: string, missing: boolean) => void = () => {},
    use: "work" | "look" = "work",
  ): Spool | undefined {
    const none = (why: string, missing = false) => {
      refused(why, missing);
      return undefined;
    };
    const make = use === "work";
    const access = make ? "read and write" : "read";
    const notAllowed = (path: string) => !files.allowed(path, "read") || (make && !files.allowed(path, "write"));
    if (notAllowed(dir)) return none(`the program may not ${access} ${dir} (its permissions)`);
    try {
      let seen = files.ensureDir(dir, true, make);
      const real = files.realPath(dir);
      if (real === undefined) return none(`where ${dir} leads cannot be told`);
      if (real !== dir && notAllowed(real)) {
        // Granted as given, not where it leads (a HOME of /home/u linked to /var/home/u, granted as $HOME): Node.js
        // works there by the path given; Deno would refuse a file's stat there.
        if (!files.permissionsFollowLinks) return new Spool(dir, files, limits, key, seen);
        return none(`the program may not ${access} ${real}, where ${dir} leads (its permissions)`);
      }
      if (real !== dir) seen = files.ensureDir(real, true, make);
      return new Spool(real, files, limits, key, seen);
    } catch (error) {
      const missing = (error as { reason?: unknown } | null)?.reason === "missing";
      return missing ? none(`${dir} does not exist yet`, true) : none(describeError(error));
    }
  }

  /**
   * Writes events to a new spool file atomically, keeping the newest within
   * the limits, then prunes the oldest files past the limits.
   *
   * @param events The events, oldest first.
   * @param now The current time, in epoch milliseconds.
   * @returns What was dropped to keep the bounds: of the events written, and of older files.
   * @throws When the file cannot be written; the caller counts its events.
   */
  write(events: readonly SpooledEvent[], now: number): SpoolWriteDrops {
    const written: Record<string, number> = {};
    const lines = events.map(spoolLine);
    const { kept } = newestThatFit(lines, this.#limits.maxEvents, this.#limits.maxBytes);
    addCount(written, "spool_full", lines.length - kept.length);
    // One file per session, as one request carries one session: a delivered request settles whole files.
    const sessions = new Map<string, typeof lines>();
    for (const i of kept) {
      const session = sessions.get(events[i].sessionId) ?? [];
      session.push(lines[i]);
      sessions.set(events[i].sessionId, session);
    }
    const names: string[] = [];
    try {
      for (const session of sessions.values()) names.push(this.#writeFile(session, now, this.key)!);
    } catch (error) {
      for (const name of names) this.#remove(name); // all or nothing: the caller counts every event as not written
      throw error;
    }
    return { written, older: this.#prune(now, names) };
  }

  /**
   * Claims this endpoint's spool files, oldest first, until `room` events are
   * taken, and reads them; of a file larger than what is left of the room,
   * the rest is written back. Corrupt lines and expired events are dropped
   * and counted; a file that cannot be read (not a regular file of ours,
   * larger than the spool's bound, not UTF-8) is removed, counted as as many
   * corrupt events as its name says it holds, at most what its size can.
   *
   * @param room How many events the caller can take.
   * @param now The current time, in epoch milliseconds.
   * @param leaseMs How long the caller holds the files before another run may take them over.
   * @returns The events and the drops.
   */
  claim(room: number, now: number, leaseMs: number): ClaimResult {
    const events: (SpooledEvent & { claim: SpoolClaim })[] = [];
    const dropped: Record<string, number> = {};
    for (const { entry, path } of this.#claimable(now).slice(0, FILES_PER_CALL)) {
      if (events.length >= room) break;
      const claimed = this.#claimPath(entry.name, now + leaseMs);
      try {
        this.#files.rename(path, claimed);
      } catch {
        continue; // Another run claimed it first.
      }
      const { valid, corrupt, expired } = this.#readFile(claimed, entry, now);
      const taken = valid.slice(0, room - events.length);
      const claim: SpoolClaim = {
        path: claimed,
        name: entry.name,
        until: now + leaseMs,
        remaining: taken.length,
        taken: taken.length,
        exact: corrupt === 0 && expired === 0 && taken.length === valid.length,
      };
      // A file larger than the room is split: what does not fit goes back, keeping its place in line. Where that
      // cannot be written (a full disk), the file goes back whole, and nothing is taken from it.
      try {
        this.#writeFile(valid.slice(taken.length).map(spoolLine), entry.time, this.key);
      } catch {
        this.giveBack(claim);
        continue;
      }
      addCount(dropped, "spool_corrupt", corrupt);
      addCount(dropped, "spool_expired", expired);
      for (const event of taken) events.push({ ...event, claim });
      if (claim.remaining === 0) this.release(claim);
    }
    return { events, dropped };
  }

  /**
   * Renews a claim's lease, so no other run takes it over while its owner
   * still works on its events (a long-lived process retrying for hours).
   *
   * @param claim The claim.
   * @param until When the new lease ends, in epoch milliseconds.
   * @returns `false` when the claimed file is gone (taken over, or removed).
   */
  renew(claim: SpoolClaim, until: number): boolean {
    const renewed = this.#claimPath(claim.name, until);
    try {
      this.#files.rename(claim.path, renewed);
    } catch {
      return false;
    }
    claim.path = renewed;
    claim.until = until;
    return true;
  }

  /**
   * Whether a claim is still this process's: its file is where the claim put it. Another process may have removed
   * it meanwhile: `nat-telemetry disable` clearing the spool, or a run that took the file over once the lease ended.
   *
   * @param claim A claim of this spool.
   * @returns `false` when the file is gone.
   */
  holds(claim: SpoolClaim): boolean {
    return this.#files.sizeOf(claim.path) !== undefined;
  }

  /**
   * Since when this endpoint's oldest unclaimed events (or those of a claim gone stale) have waited.
   *
   * @param now The current time, in epoch milliseconds.
   * @returns Its time in epoch milliseconds, or `undefined` when nothing waits.
   */
  waitingSince(now: number): number | undefined {
    return this.#claimable(now)[0]?.entry.time;
  }

  /**
   * Gives a claimed file back as it is, to be claimed again at once: what it holds was neither settled nor written
   * elsewhere (the spool could not be written). Where it cannot be renamed, the claim holds until its lease ends.
   *
   * @param claim The claim.
   */
  giveBack(claim: SpoolClaim): void {
    try {
      this.#files.rename(claim.path, `${this.dir}/${claim.name}`);
    } catch {
      // Taken over when its lease ends.
    }
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
   * @returns The events of unclaimed and claimed files, oldest file first, whether each file is claimed (and until
   *   when, in epoch milliseconds), whether it is for this spool's endpoint, the {@link spoolKey} of the endpoint it is
   *   for (`undefined` for files of older versions), and how many of its events cannot be read (`spool_corrupt` when a
   *   run claims them: a malformed line, a file not the user's own or too large).
   */
  peek(): {
    claimed: boolean;
    until?: number | undefined;
    ours: boolean;
    key: string | undefined;
    events: SpooledEvent[];
    corrupt: number;
  }[] {
    return this.#list()
      .flatMap((name) => {
        const claimed = CLAIMED_FILE.exec(name);
        const entry = parseEntry(claimed ? claimed[3] : name);
        if (!entry) return [];
        const { valid: events, corrupt } = this.#readFile(`${this.dir}/${name}`, entry);
        const file = {
          time: entry.time,
          claimed: claimed !== null,
          ours: entry.key === this.key,
          key: entry.key,
          events,
          corrupt,
        };
        return [claimed ? { ...file, until: claimEnd(claimed) } : file];
      })
      .sort((a, b) => a.time - b.time)
      .map(({ time: _, ...file }) => file);
  }

  /**
   * Moves this endpoint's waiting files of another spool of the user's here: runs kept that spool while this one could
   * not be used, and no run looks there once this one can. Each file is claimed there first (another run moving it at
   * the same moment finds it gone), its valid events written here under its time and key, then removed there; at most
   * {@link FILES_PER_CALL} files a call. Left where they are: those another run holds; those written there within the
   * last minute (runs that still keep that spool, with another HOME or none, hand their events off to senders that
   * start there); other endpoints' (only their runs deliver them: here, runs of theirs that keep that spool still
   * would never find them). The bounds are kept afterwards, as after a write.
   *
   * @param other The other spool.
   * @param now The current time, in epoch milliseconds.
   * @param waitedMs How long a file must have waited there: none where the user asks to deliver now (`flush`).
   * @returns How many events were moved.
   */
  adopt(other: Spool, now: number, waitedMs = ADOPT_AFTER_MS): number {
    const names: string[] = [];
    let moved = 0;
    for (const name of other.#list()) {
      if (names.length >= FILES_PER_CALL) break;
      const entry = claimableEntry(name, now); // a run that died while it moved it leaves a claim that runs out
      const ours = entry !== undefined && (entry.key === this.key || entry.key === undefined);
      if (!ours || !(now - entry.time >= waitedMs)) continue;
      const claimed = other.#claimPath(entry.name, now + STALE_TEMP_MS);
      try {
        other.#files.rename(`${other.dir}/${name}`, claimed);
      } catch {
        continue; // Another run moved or claimed it first.
      }
      const { valid } = other.#readFile(claimed, entry, now);
      try {
        const written = this.#writeFile(valid.map(spoolLine), entry.time, entry.key);
        if (written !== undefined) names.push(written);
      } catch {
        // This spool cannot be written (a full disk): the file goes back as it was, for a later run.
        try {
          other.#files.rename(claimed, `${other.dir}/${entry.name}`);
        } catch {
          // Its claim runs out within the hour.
        }
        break;
      }
      other.#remove(claimed.slice(other.dir.length + 1));
      moved += valid.length;
    }
    if (names.length > 0) this.#prune(now, names);
    return moved;
  }

  /**
   * Deletes every spooled event, claimed or not, of every endpoint: what the user no longer agrees to send.
   *
   * @param now The time, epoch milliseconds, that tells a live claim from one a run that died left behind.
   * @returns How many events were deleted, as their files' names count them, and how many of those a live claim held
   *   (a run or sender may have a request under way with them).
   */
  clear(now: number): { deleted: number; claimed: number } {
    const counts = { deleted: 0, claimed: 0 };
    for (const name of this.#list()) {
      const claimed = CLAIMED_FILE.exec(name);
      const entry = parseEntry(claimed ? claimed[3] : name);
      if (!entry || !this.#remove(name)) continue;
      counts.deleted += entry.events;
      if (claimed && !leaseOver(claimed, now)) counts.claimed += entry.events;
    }
    return counts;
  }

  /**
   * The spool's unclaimed files, of every endpoint, oldest first.
   *
   * @returns Their names, times, event counts, sizes and endpoint keys.
   */
  entries(): Entry[] {
    return this.#entries().sort((a, b) => a.time - b.time);
  }

  /** The spool's unclaimed files, of every endpoint, in the directory's order (of `names`, as listed). */
  #entries(names = this.#list()): Entry[] {
    return names.flatMap((name) => parseEntry(name) ?? []);
  }

  /**
   * Writes lines as one spool file named for `time` and an endpoint's key (none: an older version's file, which no
   * run claims), and returns its name; nothing for no lines.
   */
  #writeFile(lines: readonly SpoolLine[], time: number, key: string | undefined): string | undefined {
    if (lines.length === 0) return undefined;
    const name = fileName(lines, time, key);
    writeAtomically(this.#files, this.dir, name, spoolText(lines), time);
    return name;
  }

  /**
   * Reads a spool file through the guarded door, up to the whole directory's bound (another endpoint's file that a
   * program with small bounds prunes, or one of this endpoint's of before its bounds shrank), and checks each line as
   * `enqueue` checks an event. One that cannot be read safely (not a regular file of ours, larger than that bound, not
   * UTF-8) counts as corrupt as many events as its name says it holds, at most as many as its size can (a name can say
   * anything). Without `now`, nothing counts as expired.
   */
  #readFile(
    path: string,
    entry: Entry,
    now = -Infinity,
  ): { valid: SpooledEvent[]; corrupt: number; expired: number } {
    const result = { valid: [] as SpooledEvent[], corrupt: 0, expired: 0 };
    let text: string | undefined;
    try {
      text = this.#files.read(path, this.#whole.maxBytes);
    } catch {
      const size = this.#files.sizeOf(path) ?? 0; // 0 for what is not a regular file of ours
      result.corrupt = Math.max(1, Math.min(entry.events, Math.floor(size / MIN_LINE_BYTES)));
    }
    for (const line of text?.split("\n") ?? []) {
      if (line === "") continue;
      const event = parseLine(line);
      if (event === undefined) result.corrupt++;
      else if (now - event.timestamp > this.#limits.maxAgeMs) result.expired++;
      else result.valid.push(event);
    }
    return result;
  }

  /** Where a claimed file is: renamed to carry the end of its lease, so a lease that ran out is seen. */
  #claimPath(name: string, until: number): string {
    return `${this.dir}/${claimName(name, until)}`;
  }

  #list(): string[] {
    try {
      return this.#files.list(this.dir);
    } catch {
      return [];
    }
  }

  /**
   * Whether a temporary file was left by a writer that died: named more than its life ago or ahead (looked at no
   * further otherwise), and last written so, as the system dates it: a live write of a run whose clock is hours off
   * is not taken from under it.
   */
  #leftBehind(name: string, named: number, now: number): boolean {
    const stale = (time: number) => Math.abs(now - time) > STALE_TEMP_MS;
    if (!stale(named)) return false;
    const written = this.#files.modifiedAt(`${this.dir}/${name}`);
    return written === undefined || stale(written);
  }

  /** This endpoint's unclaimed files and stale claims, oldest first; removes stale temporary files on the way. */
  #claimable(now: number): { entry: Entry; path: string }[] {
    const found: { entry: Entry; path: string }[] = [];
    let removed = 0;
    for (const name of this.#list()) {
      const temp = TEMP_FILE.exec(name);
      const entry = claimableEntry(name, now);
      if (entry?.key === this.key) found.push({ entry, path: `${this.dir}/${name}` });
      else if (temp && removed < FILES_PER_CALL && this.#leftBehind(name, Number(temp[1]), now) && this.#remove(name)) {
        removed++;
      }
    }
    return found.sort((a, b) => a.entry.time - b.entry.time);
  }

  /**
   * Keeps the spool within its bounds, at most {@link FILES_PER_CALL} files removed or cut, never those just
   * written; what it drops is counted from the lines each file really holds, all under this endpoint. This
   * endpoint's files (and those of versions before endpoint keys) are held to this program's bounds; the whole
   * directory to the larger of its bounds and {@link DEFAULT_SPOOL_LIMITS}, so that a program with small bounds or
   * a short age does not take another endpoint's events. Expired files go first (and claims of expired events whose
   * run died), then this endpoint's oldest while it is over its bounds, then the oldest, whichever endpoint's, while
   * the whole is over. (Choosing which endpoint pays by its share of the whole was tried: a program whose headers
   * change every run has an endpoint key per run, none holding much, and runs ending together each removed what the
   * others had just written.)
   */
  #prune(now: number, keep: readonly string[]): Record<string, number> {
    const dropped: Record<string, number> = {};
    const [limits, whole] = [this.#limits, this.#whole];
    const isOurs = (entry: Entry) => entry.key === this.key || entry.key === undefined;
    const expired = (entry: Entry) => now - entry.time > (isOurs(entry) ? limits.maxAgeMs : whole.maxAgeMs);
    const names = this.#list();
    this.#removeDeadClaims(names, now, expired, dropped);
    const entries = this.#entries(names);
    const ours = { events: 0, bytes: 0 };
    const all = { events: 0, bytes: 0 };
    const count = (entry: Entry, events: number, bytes: number) => {
      if (isOurs(entry)) [ours.events, ours.bytes] = [ours.events + events, ours.bytes + bytes];
      [all.events, all.bytes] = [all.events + events, all.bytes + bytes];
    };
    for (const entry of entries) count(entry, entry.events, entry.bytes);
    const over = (held: { events: number; bytes: number }, bounds: SpoolLimits) =>
      held.events > bounds.maxEvents || held.bytes > bounds.maxBytes;
    // Within bounds, nothing expired: the common case, decided without sorting what a long outage left.
    if (!over(ours, limits) && !over(all, whole) && !entries.some(expired)) return dropped;
    // Never a file stamped as new as those just written and written alongside them (the file system's time, which
    // no program's clock skews): another run's, written at the same time, is the newer, and its run prunes ours (each
    // removing the other's to make room for its own, they would leave neither). One stamped ahead but written long
    // before was written by a clock that ran ahead: the oldest in truth, perhaps.
    const ourFiles = entries.filter((entry) => keep.includes(entry.name));
    const ourStamp = Math.min(...ourFiles.map((entry) => entry.time));
    const writtenAt = (name: string) => this.#files.modifiedAt(`${this.dir}/${name}`);
    const ourWritten = Math.max(...ourFiles.map((entry) => writtenAt(entry.name) ?? -Infinity));
    const writtenAlongside = (entry: Entry) => {
      if (entry.time < ourStamp) return false;
      const written = writtenAt(entry.name);
      return written === undefined || !Number.isFinite(ourWritten)
        ? entry.time - ourStamp <= ALONGSIDE_MS
        : Math.abs(written - ourWritten) <= ALONGSIDE_MS;
    };
    const candidates = entries.filter((entry) => !keep.includes(entry.name)).sort((a, b) => a.time - b.time);
    for (let touched = 0; touched < FILES_PER_CALL;) {
      const old = candidates.find(expired);
      // This endpoint over its own bounds: its oldest, cut to them; the whole's excess is the oldest files' to pay.
      const ownTurn = old === undefined && over(ours, limits);
      const entry = old ?? (ownTurn ? candidates.find(isOurs) : over(all, whole) ? candidates[0] : undefined);
      if (entry === undefined) break;
      candidates.splice(candidates.indexOf(entry), 1);
      const gone = expired(entry);
      if (!gone && writtenAlongside(entry)) continue;
      touched++;
      // Removed, cut, or not ours to remove: gone already (another run pruning or claiming it at the same time), or
      // stuck. Either way it is out of this count, lest newer files go in its place; what a cut keeps is back in it.
      count(entry, -entry.events, -entry.bytes);
      const room = ownTurn
        ? { events: limits.maxEvents - ours.events, bytes: limits.maxBytes - ours.bytes }
        : { events: whole.maxEvents - all.events, bytes: whole.maxBytes - all.bytes };
      if (!gone && room.events > 0 && room.bytes > 0) {
        const cut = this.#cut(entry, room.events, room.bytes, now);
        if (cut === undefined) continue;
        count(entry, cut.kept.events, cut.kept.bytes);
        addCount(dropped, "spool_corrupt", cut.corrupt);
        addCount(dropped, "spool_full", cut.cut);
        continue;
      }
      this.#removeCounted(entry.name, entry, gone ? "spool_expired" : "spool_full", dropped);
    }
    return dropped;
  }

  /** Removes a spool file, counting what it held as dropped for `reason` (what cannot be read as `spool_corrupt`). */
  #removeCounted(name: string, entry: Entry, reason: string, dropped: Record<string, number>): void {
    const read = this.#readFile(`${this.dir}/${name}`, entry);
    if (!this.#remove(name)) return;
    addCount(dropped, "spool_corrupt", read.corrupt);
    addCount(dropped, reason, read.valid.length + read.expired);
  }

  /**
   * Removes claims whose run died (the lease over a day ago) holding expired events, at most {@link FILES_PER_CALL}
   * tried, counted under this endpoint: another endpoint's may have no run left to take them over (a program whose
   * headers change every run), and would stay for ever.
   */
  #removeDeadClaims(
    names: readonly string[],
    now: number,
    expired: (entry: Entry) => boolean,
    dropped: Record<string, number>,
  ): void {
    let tried = 0;
    for (const name of names) {
      if (tried === FILES_PER_CALL) break;
      const claimed = CLAIMED_FILE.exec(name);
      if (claimed === null || now - claimEnd(claimed) <= DEAD_CLAIM_MS) continue;
      const entry = parseEntry(claimed[3]);
      if (entry === undefined || !expired(entry)) continue;
      tried++;
      // Taken first, under a claim of this run's: one that cannot be (another run's at it, a file that cannot be
      // renamed, so not removed either) is not read for nothing at every run.
      const taken = claimName(claimed[3], now + CUT_LEASE_MS);
      try {
        this.#files.rename(`${this.dir}/${name}`, `${this.dir}/${taken}`);
      } catch {
        continue;
      }
      this.#removeCounted(taken, entry, "spool_expired", dropped);
    }
  }

  /**
   * Cuts the oldest events of a file whose newest fit in the room left: one new event must not push out a long-lived
   * program's thousand, spooled as one file. The file is claimed while it is cut (no sender takes it meanwhile), the
   * claim becomes what is kept, in place, and goes back in line under a name that counts it: a run that dies on the way
   * leaves a claim of the whole, or of what is kept, that another run takes over when its short lease ends, and sends
   * nothing twice. A run stopped for half the lease while it cuts gives up, lest another took its claim over meanwhile.
   * Where no copy fits beside the whole (a nearly full disk), the whole goes first.
   *
   * @returns What was kept and cut, or `undefined` when the file is not there to claim, or its claim cannot be undone.
   */
  #cut(
    entry: Entry,
    roomEvents: number,
    roomBytes: number,
    now: number,
  ): { kept: { events: number; bytes: number }; cut: number; corrupt: number } | undefined {
    const claimed = claimName(entry.name, now + CUT_LEASE_MS);
    const started = host().monotonicMs();
    try {
      this.#files.rename(`${this.dir}/${entry.name}`, `${this.dir}/${claimed}`);
    } catch {
      return undefined;
    }
    const { valid, corrupt } = this.#readFile(`${this.dir}/${claimed}`, entry);
    const lines = valid.map(spoolLine);
    const fit = newestThatFit(lines, roomEvents, roomBytes);
    const kept = fit.kept.map((i) => lines[i]);
    const done = { kept: { events: kept.length, bytes: fit.bytes }, cut: lines.length - kept.length, corrupt };
    if (kept.length === 0) return this.#remove(claimed) ? done : undefined;
    const temp = temporaryName(this.dir, now);
    const discard = () => {
      try {
        this.#files.remove(temp);
      } catch {
        // Left for the cleaner (an hour).
      }
    };
    try {
      this.#files.create(temp, spoolText(kept));
    } catch {
      discard();
      if (!this.#remove(claimed)) return undefined;
      try {
        this.#writeFile(kept, entry.time, entry.key);
      } catch {
        return { kept: { events: 0, bytes: 0 }, cut: lines.length, corrupt };
      }
      return done;
    }
    // A run stopped meanwhile (Ctrl-Z, SIGSTOP) for half its lease may have lost its claim to another, which sends
    // the whole: what is kept must not take the claim's name again. It gives up, and counts nothing.
    if (host().monotonicMs() - started > CUT_LEASE_MS / 2) return void discard();
    try {
      this.#files.rename(temp, `${this.dir}/${claimed}`);
    } catch {
      discard();
      return undefined;
    }
    try {
      this.#files.rename(`${this.dir}/${claimed}`, `${this.dir}/${fileName(kept, entry.time, entry.key)}`);
    } catch {
      // What is kept waits in its claim until the lease ends.
    }
    return done;
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

/** The spool file a name is, where a run may claim it now: an unclaimed file, or a claim whose lease ran out. */
function claimableEntry(name: string, now: number): Entry | undefined {
  const claimed = CLAIMED_FILE.exec(name);
  return claimed ? (leaseOver(claimed, now) ? parseEntry(claimed[3]) : undefined) : parseEntry(name);
}

function parseEntry(name: string): Entry | undefined {
  const match = SPOOL_FILE.exec(name);
  if (!match) return undefined;
  const bytes = Number(match[3]);
  const events = Math.min(Number(match[2]), Math.floor(bytes / MIN_LINE_BYTES));
  return { name, time: Number(match[1]), events, bytes, key: match[4] };
}

/** A spool line: its text, and its length in UTF-8 bytes. */
interface SpoolLine {
  readonly text: string;
  readonly bytes: number;
}

/**
 * The newest lines that fit in a room, by their indices in order: within the bound on events, then within the bound on
 * bytes (what the first bound cut is not counted against the second); a line the room cannot hold alone is left out
 * alone, not with every older line that fits. And how many bytes they take, line ends included.
 */
function newestThatFit(
  lines: readonly SpoolLine[],
  maxEvents: number,
  maxBytes: number,
): { kept: number[]; bytes: number } {
  const fitting = [...lines.keys()].filter((i) => lines[i].bytes < maxBytes);
  let first = Math.max(0, fitting.length - maxEvents);
  let bytes = fitting.slice(first).reduce((sum, i) => sum + lines[i].bytes + 1, 0);
  while (first < fitting.length && bytes > maxBytes) bytes -= lines[fitting[first++]].bytes + 1;
  return { kept: fitting.slice(first), bytes };
}

/** The name of a spool file of these lines: stamped `time`, of an endpoint's key (none for an older version's). */
function fileName(lines: readonly SpoolLine[], time: number, key: string | undefined): string {
  const bytes = lines.reduce((sum, line) => sum + line.bytes + 1, 0);
  return `e-${stamp(time)}-${lines.length}-${bytes}-${key === undefined ? "" : `${key}-`}${randomHex()}.jsonl`;
}

/** What a spool file of these lines holds. */
function spoolText(lines: readonly SpoolLine[]): string {
  return lines.map((line) => `${line.text}\n`).join("");
}

/**
 * How many of these events one write of them alone would leave out (`spool_full`): the oldest past the spool's
 * `maxEvents`, and those its `maxBytes` cannot hold beside the newer ones, or alone. Their lines are built only where
 * a bound from their parts' lengths does not settle it (each UTF-16 unit of an event's strings takes at most 6 bytes,
 * `\uXXXX`; the rest of its line, its three numbers included, under {@link LINE_FRAME_BYTES}), so that the usual exit
 * builds none.
 *
 * @param events The events as the spool keeps them, oldest first, each with the UTF-8 length of its JSON (`bytes`).
 * @param limits The spool's bounds.
 * @returns How many would be left out; 0 when the spool can hold them all.
 * @example
 * ```ts
 * import { spoolLeavesOut } from "./spool.ts";
 * const event = { json: "{}", bytes: 2, schemaVersion: "1.5", sessionId: "s", retries: 0, timestamp: 0 };
 * spoolLeavesOut([event, event], { maxEvents: 1000, maxBytes: 154, maxAgeMs: 1 }); // 0: 77 bytes each
 * spoolLeavesOut([event, event], { maxEvents: 1000, maxBytes: 153, maxAgeMs: 1 }); // 1
 * ```
 */
export function spoolLeavesOut(
  events: readonly (SpooledEvent & { readonly bytes: number })[],
  limits: SpoolLimits,
): number {
  const { maxEvents, maxBytes } = limits;
  let most = 0;
  for (const { bytes, schemaVersion, sessionId, clientVersion = "" } of events) {
    most += bytes + 6 * (schemaVersion.length + sessionId.length + clientVersion.length) + LINE_FRAME_BYTES;
  }
  if (events.length <= maxEvents && most <= maxBytes) return 0;
  return events.length - newestThatFit(events.map(spoolLine), maxEvents, maxBytes).kept.length;
}

/** More than a spool line takes besides its strings: its keys and punctuation (96 bytes) and three numbers (24 each). */
const LINE_FRAME_BYTES = 200;

/**
 * The bytes an event takes in a spool file, its line's end included: the least a spool's `maxBytes` must hold for it.
 *
 * @param event The event as the spool keeps it.
 * @returns Its line's size in bytes.
 * @example
 * ```ts
 * import { spoolLineBytes } from "./spool.ts";
 * spoolLineBytes({ json: "{}", schemaVersion: "1.5", sessionId: "s", retries: 0, timestamp: 0 }); // 77
 * ```
 */
export function spoolLineBytes(event: SpooledEvent): number {
  return spoolLine(event).bytes + 1;
}

/** One spool line, built without serializing the event again. */
function spoolLine(event: SpooledEvent): SpoolLine {
  const text = `{"retries":${event.retries},"schemaVersion":${jsonLine(event.schemaVersion)},"sessionId":${
    jsonLine(event.sessionId)
  },${event.clientVersion === undefined ? "" : `"clientVersion":${jsonLine(event.clientVersion)},`}${
    event.cuts ? `"cuts":${event.cuts},` : ""
  }"timestamp":${Math.floor(event.timestamp)},"event":${event.json}}`;
  return { text, bytes: utf8Length(text) };
}

/** A spool file's name once claimed until a time (`CLAIMED_FILE`). */
function claimName(name: string, until: number): string {
  return `l-${stamp(until)}-${name}`;
}

/** When a claim ends: its lease's end (`l-<until>`), or an hour after an older version made it (`c-<since>`). */
function claimEnd([, kind, time]: RegExpExecArray): number {
  return kind === "l" ? Number(time) : Number(time) + OLD_CLAIM_MS;
}

/**
 * Whether a claim may be taken over: it has ended. However far ahead its end is, it is honoured: a run with a long
 * exit budget leases for hours, and a claim made while the clock ran ahead cannot be told from a live one once the
 * clock is set back (taking either over would send its events twice).
 */
function leaseOver(claimed: RegExpExecArray, now: number): boolean {
  return now > claimEnd(claimed);
}

/** Reads a spool line back, checking it as `enqueue` checks an event, or `undefined` when it is not valid. */
function parseLine(line: string): SpooledEvent | undefined {
  try {
    const { retries, schemaVersion, sessionId, clientVersion, cuts, timestamp, event } = JSON.parse(line);
    const valid = Number.isSafeInteger(retries) && retries >= 0 && typeof schemaVersion === "string" &&
      typeof sessionId === "string" && (clientVersion === undefined || typeof clientVersion === "string") &&
      Number.isFinite(timestamp) && typeof event?.name === "string" && event.name !== "" &&
      typeof event.ts === "string" && parametersProblem(event.parameters) === undefined;
    if (!valid) return undefined;
    // Older versions read past what they do not know (`cuts`); what they write again has none.
    const counted = Number.isSafeInteger(cuts) && cuts > 0;
    const spooled = { json: jsonLine(event), schemaVersion, sessionId, retries, timestamp, ...counted && { cuts } };
    return clientVersion === undefined ? spooled : { ...spooled, clientVersion };
  } catch {
    return undefined;
  }
}
