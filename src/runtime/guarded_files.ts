/**
 * The one guarded door to the disk. Every file the package opens (spool,
 * endpoint health, consent, the collector's JSON Lines file) goes through
 * {@link guardedFiles}, which applies the same rules everywhere:
 *
 * - directories are created one level at a time by a bounded walk (never a
 *   recursive `mkdir`, which loops forever on some file systems), and a
 *   private directory must be a real directory (not a symlink), owned by the
 *   current user, with no group or other write bit;
 * - a file is read or appended only if it is a regular file (never a FIFO,
 *   socket, device or symlink), owned by the current user (or root), and not
 *   larger than the caller's bound; it is opened so that it cannot block;
 * - new files are created exclusively, owner-only, never through a link;
 * - root makes nothing in another user's directory (`sudo -E` keeps the user's HOME).
 *
 * Each runtime supplies the primitives ({@link RawFiles}); the rules live here.
 *
 * @module
 */
import type { EntryLook, FileFacts, HostFiles } from "./host.ts";

/** The primitives a runtime supplies; each throws the runtime's own error on failure. */
export interface RawFiles {
  /** The current user's id, `undefined` when it cannot be known (Windows; Deno without `--allow-sys`). */
  readonly uid: number | undefined;
  /** The current user's group id, `undefined` when it cannot be known (Windows; Deno without `--allow-sys`). */
  readonly gid: number | undefined;
  /** Whether the program may read or write a path without being asked. */
  allowed(path: string, access: "read" | "write"): boolean;
  /** Whether permissions are checked where a link leads rather than on the path as given (see `HostFiles`). */
  readonly permissionsFollowLinks: boolean;
  /** The facts about a path itself (a link is not followed), or `undefined` when nothing is there. */
  lstat(path: string): FileFacts | undefined;
  /** Where a path leads, every link on the way followed; `undefined` when that cannot be told. */
  realPath(path: string): string | undefined;
  /**
   * Whether the program may list, write and go into a directory, as the system tells (`access(2)`: its mode, an
   * ACL, a read-only mount); `undefined` where the runtime cannot ask (Deno), or the answer is no such verdict.
   */
  usableDir(path: string): boolean | undefined;
  /** What a link says, as written; `undefined` when that cannot be told. */
  readLink(path: string): string | undefined;
  /** Creates one directory, owner-only; its parent must exist. */
  mkdir(path: string): void;
  /** The names in a directory. */
  list(path: string): string[];
  /**
   * Opens a file for reading without following a link or blocking, shows `check` the facts of what was opened,
   * then reads it with {@link readBounded}, showing `check` the size read as well; `undefined` when nothing is
   * there.
   */
  read(path: string, maxBytes: number, check: (facts: FileFacts) => void): string | undefined;
  /** Creates a new file (failing if anything is there, a link included), owner-only, and writes `text`. */
  create(path: string, text: string): void;
  /**
   * Opens a file for appending without following a link or blocking, creating it owner-only; shows `check` the
   * facts of what was opened, then writes `text` in one piece.
   */
  append(path: string, text: string, check: (facts: FileFacts) => void): void;
  /**
   * Opens a file without following a link or blocking, shows `check` the facts of what was opened, then sets its
   * access and modification times; throws where nothing is there.
   */
  touch(path: string, time: number, check: (facts: FileFacts) => void): void;
  /** Renames an entry. */
  rename(from: string, to: string): void;
  /** Removes a file, or an empty directory. */
  remove(path: string): void;
  /** Removes an empty directory. */
  removeDir(path: string): void;
}

/** Who the program runs as, where the platform tells: the ids a file's owner is compared with. */
export interface User {
  /** The user id. */
  readonly uid?: number | undefined;
  /** The (primary) group id. */
  readonly gid?: number | undefined;
}

/** Why the guard refused a path; `reason` is one word, for counters and messages. */
export class RefusedPath extends Error {
  /**
   * `symlink`, `not_a_directory`, `not_a_regular_file`, `not_owner`, `writable_by_others`, `not_writable` (a
   * directory the program may not list, write or go into: its mode, a read-only mount), `too_large`,
   * `not_utf8`, `no_parent`, `ancestor_not_owner`, `ancestor_writable_by_others`, `ancestor_writable_by_group`,
   * `ancestor_link`, `missing` (a directory only looked at), `not_allowed` (the program's permissions).
   */
  readonly reason: string;

  /**
   * @param path The path refused.
   * @param reason Why.
   */
  constructor(path: string, reason: string) {
    super(`refused ${path}: ${reason}`);
    this.name = "RefusedPath";
    this.reason = reason;
  }
}

/** The deepest a directory walk goes: no path we use has more components. */
const MAX_DEPTH = 64;

/**
 * Why the program may not work in `path` (read and write) where a link at or above `from` leads it (Deno grants a
 * mkdir or a write on the path as given, a look at a file where it leads), or `undefined` where it may, or where no
 * link leads it elsewhere.
 *
 * @param raw The runtime's primitives.
 * @param from A directory there, `path` or one above it.
 * @param path The directory to be worked in.
 */
function refusedWhereItLeads(raw: RawFiles, from: string, path: string): string | undefined {
  if (!raw.permissionsFollowLinks) return undefined;
  const real = raw.realPath(from);
  if (real === undefined || real === from) return undefined;
  const led = path === from ? real : below(real, path.slice(from.length + 1));
  if (raw.allowed(led, "read") && raw.allowed(led, "write")) return undefined;
  return `the program may not read and write ${led}, where ${path} leads (its permissions)`;
}

/**
 * Builds the guarded {@link HostFiles} over a runtime's primitives.
 *
 * @param raw The runtime's primitives.
 * @returns File access that applies the rules of this module.
 * @example
 * ```ts ignore
 * import { guardedFiles } from "./guarded_files.ts";
 * const files = guardedFiles(rawFilesOfThisRuntime);
 * files.ensureDir("/tmp/spool", true);
 * ```
 */
export function guardedFiles(raw: RawFiles): HostFiles {
  const owned = (path: string, facts: FileFacts, reason = "not_owner") => {
    if (raw.uid !== undefined && facts.uid !== undefined && facts.uid !== raw.uid && facts.uid !== 0) {
      throw new RefusedPath(path, reason);
    }
  };
  /**
   * Whether `uid` is root's and `dir` another user's (where a link to it leads, followed): root makes nothing there
   * (`sudo -E`, or a sudo that keeps HOME, as macOS's does): a directory or file of root's in a user's tree, the
   * user could not read or change, and their own runs would fail on it.
   */
  const rootInOthers = (uid: number | undefined, dir: string | undefined): boolean => {
    if (uid !== 0 || dir === undefined) return false;
    // Where the program may not look (Deno), whose it is cannot be told: the run goes on, as any other would.
    const real = raw.allowed(dir, "read") ? raw.realPath(dir) : undefined;
    const owner = real !== undefined && raw.allowed(real, "read") ? raw.lstat(real)?.uid : undefined;
    return owner !== undefined && owner !== 0;
  };
  /**
   * Refuses what was just made in another user's directory by a program that may not know its own id (Deno
   * without `--allow-sys=uid`): what it made is that id's. Taken back, then refused.
   */
  const takeBackIfRootInOthers = (made: string, takeBack: (path: string) => void) => {
    if (raw.uid !== undefined || !raw.allowed(made, "read")) return;
    if (!rootInOthers(raw.lstat(made)?.uid, parentOf(made))) return;
    takeBack(made);
    throw new RefusedPath(made, "ancestor_not_owner");
  };
  /** A regular file of the user's (or root's): what a rename may replace, whoever else may write it. */
  const plainFile = (path: string, facts: FileFacts) => {
    if (facts.kind !== "file") throw new RefusedPath(path, facts.kind === "symlink" ? "symlink" : "not_a_regular_file");
    owned(path, facts);
  };
  const regular = (path: string, maxBytes: number) => (facts: FileFacts) => {
    plainFile(path, facts);
    // Whoever else may write it could put an old decision back in it (a consent file left 0666): as for a directory
    // above a private one, its group may write it only where that is the user's own file and group (`umask 002`).
    // The user's group is read only where a group may write (reading it loads node:os under Node.js and Bun).
    const { mode } = facts;
    const groupOfOthers = () => raw.gid === undefined || facts.gid !== raw.gid || facts.uid !== raw.uid;
    if (mode !== undefined && ((mode & 0o002) !== 0 || ((mode & 0o020) !== 0 && groupOfOthers()))) {
      throw new RefusedPath(path, "writable_by_others");
    }
    if (facts.size > maxBytes) throw new RefusedPath(path, "too_large");
  };
  /** What `lstat` tells of the regular file of the user's (or root's) at a path, without opening it. */
  /** As `regular`, of any size, and the user's own: not root's (a file `sudo` left). */
  const usersOwnRegular = (path: string) => (facts: FileFacts) => {
    if (raw.uid !== undefined && facts.uid !== raw.uid) throw new RefusedPath(path, "not_owner");
    regular(path, Infinity)(facts);
  };
  /** What a look tells of a path, and of a link, of where it leads; nothing where looking would prompt (Deno). */
  const lookAt = (path: string): EntryLook | undefined => {
    if (!raw.allowed(path, "read")) return undefined;
    const facts = raw.lstat(path);
    if (facts === undefined) return undefined;
    const target = facts.kind === "symlink" ? raw.realPath(path) : undefined;
    const leadsTo = target !== undefined && raw.allowed(target, "read") ? raw.lstat(target) : undefined;
    return leadsTo === undefined ? { facts } : { facts, leadsTo };
  };
  const regularFacts = (path: string, usersOwn: boolean): FileFacts | undefined => {
    try {
      if (!raw.allowed(path, "read")) return undefined; // looking would prompt (Deno)
      const facts = raw.lstat(path);
      if (!facts) return undefined;
      (usersOwn ? usersOwnRegular(path) : regular(path, Infinity))(facts);
      return facts;
    } catch {
      return undefined;
    }
  };
  return {
    allowed: (path, access) => raw.allowed(path, access),
    permissionsFollowLinks: raw.permissionsFollowLinks,
    uid: raw.uid,
    realPath: (path) => raw.allowed(path, "read") ? raw.realPath(path) : undefined,
    ensureDir(given, isPrivate, make = true) {
      const path = withoutTrailingSeparators(given);
      const missing: string[] = [];
      let facts = raw.lstat(path);
      let unseen: string | undefined;
      let nearest = path; // the nearest directory there, once `facts` are its
      while (facts === undefined) {
        missing.unshift(nearest);
        const parent = parentOf(nearest);
        if (parent === undefined || missing.length > MAX_DEPTH) throw new RefusedPath(path, "no_parent");
        // A parent the program may not look at (Deno) is taken to be there: looking would prompt, mkdir will tell.
        if (!raw.allowed(parent, "read")) {
          unseen = parent;
          break;
        }
        facts = raw.lstat(nearest = parent);
      }
      // Only looked at: missing, where a run would make it; not, where what is there in its way is no directory.
      if (!make && missing.length > 0) throw new RefusedPath(path, facts?.kind === "file" ? "no_parent" : "missing");
      // What a file will be created in (the consent file's directory), or what a directory will be made in.
      if (rootInOthers(raw.uid, missing.length > 0 ? parentOf(missing[0]) : path)) {
        throw new RefusedPath(path, missing.length > 0 ? "ancestor_not_owner" : "not_owner");
      }
      // Nothing is made under a directory where another user could swap what this run makes for a link.
      if (isPrivate && missing.length > 0) checkAncestors(raw, missing[0]);
      // Nor a spool where a link leads it outside what the program may do there (Deno), where it would work. Where
      // the directory above cannot be looked at, that is told once the first directory is there, and what this run
      // made is taken back. (A consent file's directory is made where its path leads, as the user's other tools
      // would: a decision saved there holds for them, and where this program may not read it, it reads as a no.)
      const leadsOut = (from: string) => isPrivate ? refusedWhereItLeads(raw, from, path) : undefined;
      const before = unseen === undefined && missing.length > 0 ? leadsOut(nearest) : undefined;
      if (before !== undefined) throw new Error(before);
      for (const dir of missing) {
        let madeHere = true;
        try {
          raw.mkdir(dir);
        } catch (error) {
          madeHere = false;
          // Another process made it meanwhile (two first runs at once): gone into only if it is a directory of
          // the user's (or root's), never a link; the spool itself is checked further below.
          const made = raw.lstat(dir);
          // Not made for want of the directory above, which the program may not look at, nor make: the user is to.
          if (
            made === undefined && dir === missing[0] && unseen !== undefined &&
            (error as { code?: unknown } | null)?.code === "ENOENT"
          ) {
            throw new Error(`${unseen} does not exist, and the program may not make it (its permissions)`);
          }
          if (made === undefined) throw error;
          if (made.kind !== "directory") {
            throw new RefusedPath(path, made.kind === "symlink" ? "symlink" : "not_a_directory");
          }
          owned(path, made, dir === path ? "not_owner" : "ancestor_not_owner");
        }
        if (dir !== missing[0]) continue;
        if (madeHere) takeBackIfRootInOthers(dir, raw.removeDir);
        // Made by another run meanwhile (two first runs at once) as well: not gone into, nor made deeper.
        const after = unseen === undefined ? undefined : leadsOut(dir);
        if (after === undefined) continue;
        if (madeHere) raw.removeDir(dir);
        throw new Error(after);
      }
      if (missing.length > 0) facts = raw.lstat(path);
      if (facts?.kind === "symlink") throw new RefusedPath(path, "symlink");
      if (facts?.kind !== "directory") throw new RefusedPath(path, "not_a_directory");
      if (!isPrivate) return true;
      if (raw.uid !== undefined && facts.uid !== raw.uid) throw new RefusedPath(path, "not_owner");
      if (facts.mode !== undefined && (facts.mode & 0o022) !== 0) throw new RefusedPath(path, "writable_by_others");
      // One the program may not list, write or go into (0500 after a restore or a `chmod -R a-w`, a read-only
      // mount): nothing could be kept there, so runs keep it elsewhere, and that is where to look. Where the system
      // cannot be asked (Deno), its mode tells: no one else may write it (above), so its owner must be able to, but
      // for root, who may whatever the mode. Where the user's id is not known (Deno without --allow-sys), one of
      // root's may be the program's own: not judged.
      const rootMay = raw.uid === 0 || (raw.uid === undefined && facts.uid === 0);
      const usable = raw.usableDir(path) ?? (rootMay || facts.mode === undefined || (facts.mode & 0o700) === 0o700);
      if (!usable) throw new RefusedPath(path, "not_writable");
      return checkAncestors(raw, path);
    },
    list: (path) => raw.list(path),
    checkPlace: (path) => checkAncestors(raw, path),
    read: (path, maxBytes) => raw.read(path, maxBytes, regular(path, maxBytes)),
    sizeOf: (path, usersOwn = false) => regularFacts(path, usersOwn)?.size,
    modifiedAt: (path) => regularFacts(path, true)?.modified,
    present(path) {
      try {
        return !raw.allowed(path, "read") || raw.lstat(path) !== undefined;
      } catch {
        return true;
      }
    },
    writableDir(path) {
      try {
        const there = raw.allowed(path, "read") && raw.lstat(path)?.kind === "directory";
        return there && raw.allowed(path, "write") && raw.usableDir(path) !== false;
      } catch {
        return false;
      }
    },
    stamp(path) {
      try {
        // A link (a dotfile manager's) is as written as what it leads to.
        const seen = lookAt(path);
        const led = seen?.leadsTo;
        return seen && (led === undefined ? factsText(seen.facts) : `${factsText(seen.facts)} -> ${factsText(led)}`);
      } catch {
        return "cannot be looked at";
      }
    },
    look(path) {
      try {
        return lookAt(path);
      } catch {
        return undefined;
      }
    },
    isPrivate(path) {
      const mode = regularFacts(path, true)?.mode;
      return mode !== undefined && (mode & 0o022) === 0;
    },
    touch(path, time) {
      // Asking would prompt (Deno): it looks at the file before it opens it.
      if (!raw.allowed(path, "write") || !raw.allowed(path, "read")) throw new RefusedPath(path, "not_allowed");
      raw.touch(path, time, usersOwnRegular(path));
    },
    create(path, text) {
      // Where root is known, `ensureDir` has judged the directory already: nothing more between a name and its file.
      raw.create(path, text);
      takeBackIfRootInOthers(path, raw.remove);
    },
    append: (path, text, maxBytes) => raw.append(path, text, regular(path, maxBytes)),
    rename(from, to) {
      // What would be replaced is looked at where the program may look (Deno): a file in place of a link would
      // break whatever the link served, in place of a device (`/dev/null`, as root) the system itself. One that others
      // may write is replaced: what takes its place is private (a consent file left 0666 is how it is mended).
      const there = raw.allowed(to, "read") ? raw.lstat(to) : undefined;
      if (there !== undefined) plainFile(to, there);
      raw.rename(from, to);
    },
    remove(path) {
      // Where a program only looks (`inspect`), a stale file it comes across is left: removing it could prompt (Deno).
      if (!raw.allowed(path, "write")) throw new RefusedPath(path, "not_allowed");
      raw.remove(path);
    },
  };
}

/** The facts of an entry as one line of text, each of them told apart (for {@link HostFiles.stamp}). */
function factsText({ kind, uid, gid, mode, size, modified, changed, inode, device }: FileFacts): string {
  return `${kind} ${uid}:${gid} ${mode} ${size} ${device}:${inode} ${modified} ${changed}`;
}

/**
 * A private directory is only as private as the directories above it: whoever may rename an entry of one of
 * them may swap the directory for a link to one of their choosing between two of our steps. So each ancestor
 * the program may look at must belong to the user or to root, and must not be writable by others unless it
 * is sticky (as `/tmp` is: there, no one renames another user's entries). One writable by its group must be
 * the user's own, in the user's own group (a user private group, as `umask 002` leaves `~/.cache`): a group
 * of others (`root:staff 2775`, a shared project directory) could swap it. Where the owner cannot be told
 * (Deno without `--allow-sys=uid`), only an ancestor anyone may write (not sticky) is seen; where the group cannot
 * (without `--allow-sys=gid`), one its group may write is not. Write access an ACL grants shows only as the group's
 * bits (its mask), and the user's own group is trusted to hold the user alone, as OpenSSH's `StrictModes` trusts
 * them: whom the user lets write their own directories is trusted as the user. `false` where not every ancestor
 * could be judged.
 */
function checkAncestors(raw: RawFiles, path: string, from = parentOf(path), depth = 0): boolean {
  for (let dir = from; dir !== undefined; dir = parentOf(dir), depth++) {
    // Deno without permission to look (looking would prompt), a directory gone meanwhile, a path too deep:
    // nothing more can be told.
    if (depth >= MAX_DEPTH || !raw.allowed(dir, "read")) return false;
    const facts = raw.lstat(dir);
    if (facts === undefined) return false;
    // Writable by others, not sticky: anyone may swap what is in it, whoever owns it (a link's mode says nothing).
    if (facts.kind !== "symlink" && facts.mode !== undefined && (facts.mode & 0o1002) === 0o002) {
      throw new RefusedPath(path, "ancestor_writable_by_others");
    }
    // Owners the program may not compare (Deno without `--allow-sys=uid`): another user's directory, sticky or
    // not, cannot be told from the user's own.
    if (raw.uid === undefined && facts.mode !== undefined) return false;
    if (raw.uid !== undefined && facts.uid !== undefined && facts.uid !== raw.uid && facts.uid !== 0) {
      throw new RefusedPath(path, "ancestor_not_owner");
    }
    if (facts.kind === "symlink" && facts.mode !== undefined) {
      // A link's own mode says nothing (it is always rwxrwxrwx), and who may replace it is for the directory
      // above to say, looked at next. Where it leads, and every directory above that, must pass the same checks.
      const target = linkTarget(raw, dir);
      if (target === undefined) throw new RefusedPath(path, "ancestor_link");
      if (!checkAncestors(raw, path, target)) return false; // a path with no link in it, walked to its root
      continue;
    }
    if (facts.mode === undefined || (facts.mode & 0o1000) !== 0) continue;
    if ((facts.mode & 0o020) === 0) continue;
    if (raw.gid === undefined) return false;
    if (facts.uid !== raw.uid || facts.gid !== raw.gid) throw new RefusedPath(path, "ancestor_writable_by_group");
  }
  return true;
}

/**
 * Where an ancestor link leads, when it leads there by itself: its target, as written, must be where the link
 * resolves to, so that no other link is on the way (one the walk would not see, which its owner could swap).
 * `undefined` otherwise, or when it cannot be told without a permission the program lacks.
 */
function linkTarget(raw: RawFiles, link: string): string | undefined {
  const parent = parentOf(link);
  if (parent === undefined || !raw.allowed(parent, "read")) return undefined;
  const written = raw.readLink(link);
  const base = raw.realPath(parent);
  const real = raw.realPath(link);
  if (written === undefined || base === undefined || real === undefined) return undefined;
  return lexicalPath(written.startsWith("/") ? written : `${base}/${written}`) === real ? real : undefined;
}

/** An absolute POSIX path with `.`, `..` and repeated slashes taken out by its text alone. */
function lexicalPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/**
 * Reads to the end of a file, but never more than `maxBytes + 1` bytes: enough to tell that a file is too
 * large even when it lies about its size (a file in /proc says 0) or grows while it is read.
 *
 * @param readInto Reads into the buffer from the offset; returns the bytes read, 0 or `null` at the end.
 * @param sizeHint The size the file claims.
 * @param maxBytes The bound.
 * @returns The bytes read.
 * @example
 * ```ts
 * import { readBounded } from "./guarded_files.ts";
 * const source = new Uint8Array(10);
 * readBounded((buffer, offset) => {
 *   const n = Math.min(buffer.length - offset, source.length - offset);
 *   buffer.set(source.subarray(offset, offset + n), offset);
 *   return n;
 * }, 0, 4).length; // 5: one more than the bound, so the caller refuses it
 * ```
 */
export function readBounded(
  readInto: (buffer: Uint8Array, offset: number) => number | null,
  sizeHint: number,
  maxBytes: number,
): Uint8Array {
  let buffer = new Uint8Array(Math.min(maxBytes, sizeHint || 4096) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > maxBytes) break;
      const grown = new Uint8Array(Math.min(maxBytes + 1, buffer.length * 2));
      grown.set(buffer);
      buffer = grown;
    }
    const n = readInto(buffer, length);
    if (!n) break;
    length += n;
  }
  return buffer.subarray(0, length);
}

/**
 * A path below a directory, joined with one separator whatever the directory ends with (`HOME=/` is the root, not
 * `//`; a working directory or a real path may end in one).
 *
 * @param dir The directory.
 * @param path The path below it, relative.
 * @returns The joined path.
 * @example
 * ```ts
 * import { below } from "./guarded_files.ts";
 * below("/", ".config/nat/telemetry.toml"); // "/.config/nat/telemetry.toml"
 * below("/home/ada/", ".local/state"); // "/home/ada/.local/state"
 * ```
 */
export function below(dir: string, path: string): string {
  return `${dir.replace(separators(dir).trailing, "")}/${path}`;
}

/**
 * What separates a path's names: in one from the root (`/`, a POSIX path), `/` alone, as `\` is a character of a
 * name there (a Linux directory may be named `ver\2`); in others (a drive's, a share's, a relative one), `/` and `\`.
 * `trailing` matches the separators a path ends with; `pastRoot` those of them that are not a root's (`/`, `C:\`).
 */
function separators(path: string): { trailing: RegExp; pastRoot: RegExp; last: (path: string) => number } {
  return path.startsWith("/")
    ? { trailing: /\/+$/, pastRoot: /(?<=[^/])\/+$/, last: (text) => text.lastIndexOf("/") }
    : {
      trailing: /[\\/]+$/,
      pastRoot: /(?<=[^\\/:])[\\/]+$/,
      last: (text) => Math.max(text.lastIndexOf("/"), text.lastIndexOf("\\")),
    };
}

/**
 * A path without the separators it ends with, but a root's: `lstat("link/")` follows the link, and would see where
 * it leads.
 *
 * @param path A path.
 * @returns The path, trimmed.
 * @example
 * ```ts
 * import { withoutTrailingSeparators } from "./guarded_files.ts";
 * withoutTrailingSeparators("/home/ada/spool//"); // "/home/ada/spool"
 * withoutTrailingSeparators("/"); // "/"
 * ```
 */
export function withoutTrailingSeparators(path: string): string {
  return path.length > 1 ? path.replace(separators(path).pastRoot, "") : path;
}

/**
 * A path's directory and last name: what precedes and what follows the directory's separator.
 *
 * @param path A path with `/` (or, outside a POSIX path, `\`) separators.
 * @returns Both, or `undefined` for a path that ends with a separator (a root, a directory written `dir/`) or is a
 *   bare name, with no directory to be in.
 * @example
 * ```ts
 * import { dirAndName } from "./guarded_files.ts";
 * dirAndName("/home/ada/.config/nat/telemetry.toml"); // { dir: "/home/ada/.config/nat", name: "telemetry.toml" }
 * dirAndName("/home/ada/"); // undefined
 * ```
 */
export function dirAndName(path: string): { dir: string; name: string } | undefined {
  const dir = parentOf(path);
  const name = path.slice(separators(path).last(path) + 1);
  return dir === undefined || name === "" ? undefined : { dir, name };
}

/**
 * Whether a path is absolute on an OS: it starts at the root (`/`), or on
 * Windows also at a drive (`C:\`) or a share (`\\server`). A relative path
 * would move with the working directory.
 *
 * @param path The path.
 * @param os The OS, as Node names it.
 * @returns `true` for an absolute path.
 * @example
 * ```ts
 * import { isAbsolutePath } from "./guarded_files.ts";
 * isAbsolutePath("/var/spool", "linux"); // true
 * isAbsolutePath("relative/spool", "linux"); // false
 * isAbsolutePath("C:\\spool", "win32"); // true
 * ```
 */
export function isAbsolutePath(path: string, os: string): boolean {
  return os === "win32" ? /^([A-Za-z]:)?[\\/]/.test(path) : path.startsWith("/");
}

/**
 * The directory a path is in.
 *
 * @param path A path with `/` (or, on Windows, `\`) separators.
 * @returns The parent, or `undefined` for a root or a bare name.
 * @example
 * ```ts
 * import { parentOf } from "./guarded_files.ts";
 * parentOf("/x.toml"); // "/"
 * parentOf("/home/ada/.config/nat"); // "/home/ada/.config"
 * ```
 */
export function parentOf(path: string): string | undefined {
  const { trailing, last } = separators(path);
  const trimmed = path.length > 1 ? path.replace(trailing, "") : path;
  const slash = last(trimmed);
  if (slash < 0 || trimmed.length <= 1 || /^[A-Za-z]:[\\/]?$/.test(trimmed)) return undefined;
  if (slash === 0) return trimmed.slice(0, 1);
  if (/^[A-Za-z]:$/.test(trimmed.slice(0, slash))) return trimmed.slice(0, slash + 1);
  return trimmed.slice(0, slash);
}
