/**
 * The file primitives of Deno, for the guarded door. Deno cannot open with
 * `O_NOFOLLOW`, so a file is checked with `lstat` before it is opened and
 * with `fstat` after: a link, FIFO or device is refused before any `open`,
 * and a swap in between is caught by comparing device and inode. New files
 * are created with `createNew` (`O_EXCL`), which never follows a link.
 * What is read must be UTF-8: other bytes are refused (`not_utf8`).
 *
 * @module
 */
import { type RawFiles, readBounded, RefusedPath, type User } from "./guarded_files.ts";
import { type FileFacts, quietly } from "./host.ts";

/** How often an append looks again at a file that changed as it was opened. */
const APPEND_ATTEMPTS = 4;

/** Where Linux tells a process's resource limits, the largest file it may write among them (`ulimit -f`). */
export const LIMITS_FILE = "/proc/self/limits";

interface DenoFileInfo {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  uid: number | null;
  gid: number | null;
  mode: number | null;
  size: number;
  mtime: Date | null;
  ctime?: Date | null | undefined;
  dev: number;
  ino: number | null;
}

interface DenoFile {
  statSync(): DenoFileInfo;
  readSync(buffer: Uint8Array): number | null;
  writeSync(bytes: Uint8Array): number;
  utimeSync(atime: Date, mtime: Date): void;
  close(): void;
}

/** The part of the `Deno` namespace the file primitives use. */
export interface DenoFs {
  build: { os: string };
  lstatSync(path: string): DenoFileInfo;
  mkdirSync(path: string, options: { mode: number }): void;
  realPathSync(path: string): string;
  readLinkSync(path: string): string;
  readDirSync(path: string): Iterable<{ name: string }>;
  openSync(
    path: string,
    options: { read?: boolean; write?: boolean; append?: boolean; createNew?: boolean; mode?: number },
  ): DenoFile;
  renameSync(from: string, to: string): void;
  removeSync(path: string): void;
  errors: { NotFound: new (...args: never[]) => Error; AlreadyExists: new (...args: never[]) => Error };
}

/**
 * Builds the Deno file primitives.
 *
 * @param deno The `Deno` namespace.
 * @param user The current user's ids, those that can be known without a prompt.
 * @param allowed Whether a path may be read or written without a prompt.
 * @returns The primitives.
 * @example
 * ```ts ignore
 * import { denoFiles } from "./deno_files.ts";
 * const raw = denoFiles(Deno, { uid: Deno.uid() ?? undefined, gid: Deno.gid() ?? undefined }, () => true);
 * ```
 */
export function denoFiles(
  deno: DenoFs,
  user: User,
  allowed: (path: string, access: "read" | "write") => boolean,
): RawFiles {
  const windows = deno.build.os === "windows";
  const facts = (info: DenoFileInfo): FileFacts => ({
    kind: info.isSymlink ? "symlink" : info.isFile ? "file" : info.isDirectory ? "directory" : "other",
    uid: windows || info.uid === null ? undefined : info.uid,
    gid: windows || info.gid === null ? undefined : info.gid,
    mode: windows || info.mode === null ? undefined : info.mode & 0o7777,
    size: info.size,
    modified: info.mtime?.getTime(),
    changed: info.ctime?.getTime(),
    inode: info.ino ?? undefined,
    device: info.dev,
  });
  const lstat = (path: string): DenoFileInfo | undefined => {
    try {
      return deno.lstatSync(path);
    } catch (error) {
      // Nothing there, or a file where a directory should be (ENOTDIR): no entry either way.
      if (error instanceof deno.errors.NotFound || (error as Error).name === "NotADirectory") return undefined;
      throw error;
    }
  };
  /** Opens what `lstat` showed and `check` accepted, and makes sure the same file was opened. */
  const openChecked = (path: string, before: DenoFileInfo, options: { read?: boolean; append?: boolean }) => {
    const file = deno.openSync(path, options);
    const after = file.statSync();
    if (after.dev !== before.dev || after.ino !== before.ino || !after.isFile) {
      file.close();
      throw new Error(`${path} changed while it was opened`);
    }
    return file;
  };
  let largestFile: number | undefined;
  /**
   * The most bytes a file may hold (`ulimit -f`, its soft limit), read at the first write: Deno does not ignore
   * SIGXFSZ as Node.js and Bun do, so a write past it would end the program. Unknown (not Linux, no read of the
   * limits): unbounded.
   */
  const fileSizeLimit = () =>
    largestFile ??= deno.build.os === "linux" && allowed(LIMITS_FILE, "read")
      ? quietly(() => {
        const file = deno.openSync(LIMITS_FILE, { read: true });
        try {
          const text = new TextDecoder().decode(readBounded((b, at) => file.readSync(b.subarray(at)), 0, 16_384));
          // "Max file size   <soft>   <hard>   bytes", each limit a number or "unlimited" (no regular expression:
          // compiling one cost a run more than the read).
          const at = text.indexOf("\nMax file size ");
          const soft = at < 0 ? NaN : Number(text.slice(at + 15).trimStart().split(" ", 1)[0] || NaN);
          return Number.isInteger(soft) && soft >= 0 ? soft : Infinity;
        } finally {
          file.close();
        }
      }) ?? Infinity
      : Infinity;
  /**
   * Writes the text at the file's end, `size()` bytes from its start (asked only under a limit); refused, before a
   * byte, past the limit.
   */
  const writeAll = (path: string, file: DenoFile, text: string, size: () => number) => {
    let bytes = new TextEncoder().encode(text);
    const limit = fileSizeLimit();
    if (limit < Infinity && size() + bytes.length > limit) {
      throw new Error(`${path} would pass the file size limit (ulimit -f)`);
    }
    while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
  };
  return {
    uid: user.uid,
    gid: user.gid,
    allowed,
    permissionsFollowLinks: true, // `FsFile.statSync()` asks for the file where it is, links resolved
    lstat(path) {
      const info = lstat(path);
      return info && facts(info);
    },
    realPath: (path) => quietly(() => deno.realPathSync(path)),
    readLink: (path) => quietly(() => deno.readLinkSync(path)),
    usableDir: () => undefined, // Deno cannot ask access(2): the mode tells
    mkdir: (path) => deno.mkdirSync(path, { mode: 0o700 }),
    list: (path) => [...deno.readDirSync(path)].map((entry) => entry.name),
    read(path, maxBytes, check) {
      const before = lstat(path);
      if (before === undefined) return undefined;
      check(facts(before));
      const file = openChecked(path, before, { read: true });
      try {
        const bytes = readBounded((buffer, offset) => file.readSync(buffer.subarray(offset)), before.size, maxBytes);
        check({ ...facts(before), size: bytes.length });
        try {
          // A byte order mark stays in the text, as under Node.js and in Python's tomllib (which rejects it).
          return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
        } catch {
          throw new RefusedPath(path, "not_utf8");
        }
      } finally {
        file.close();
      }
    },
    create(path, text) {
      const file = deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
      try {
        writeAll(path, file, text, () => 0);
      } catch (error) {
        // A full disk, the file size limit: no empty or partial file is left behind.
        file.close();
        deno.removeSync(path);
        throw error;
      }
      file.close();
    },
    append(path, text, check) {
      const open = (): DenoFile => {
        const before = lstat(path);
        if (before) {
          check(facts(before));
          return openChecked(path, before, { append: true });
        }
        // Appending from the start: another writer that finds it made appends after this one's text, never under it.
        return deno.openSync(path, { write: true, append: true, createNew: true, mode: 0o600 });
      };
      // Created by another process since it was looked at (two first writers), or renamed away (a run summing a
      // record sets it aside) or replaced in between: looked at again, a few times (runs summing at once).
      let file: DenoFile | undefined;
      for (let attempt = 1; file === undefined; attempt++) {
        try {
          file = open();
        } catch (error) {
          if (error instanceof RefusedPath || attempt === APPEND_ATTEMPTS) throw error;
        }
      }
      try {
        writeAll(path, file, text, () => file.statSync().size);
      } finally {
        file.close();
      }
    },
    touch(path, time, check) {
      const before = lstat(path);
      if (before === undefined) throw new Error(`cannot date ${path}: nothing is there`);
      check(facts(before));
      const file = openChecked(path, before, { read: true });
      try {
        file.utimeSync(new Date(time), new Date(time));
      } finally {
        file.close();
      }
    },
    rename: (from, to) => deno.renameSync(from, to),
    remove: (path) => deno.removeSync(path),
    removeDir: (path) => deno.removeSync(path),
  };
}
