/**
 * The file primitives of Node.js and Bun, for the guarded door: files are
 * opened with `O_NOFOLLOW | O_NONBLOCK`, so a link is refused by the kernel
 * and a FIFO cannot block, and checked with `fstat` on what was opened.
 * What is read must be UTF-8: other bytes are refused (`not_utf8`), so that
 * a file is never read as something it does not say.
 *
 * @module
 */
import { type RawFiles, readBounded, RefusedPath, type User } from "./guarded_files.ts";
import { type FileFacts, quietly } from "./host.ts";

interface NodeStats {
  isFile(): boolean;
  isCharacterDevice(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  uid: number;
  gid: number;
  mode: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
}

/** The part of `node:fs` we use. */
export interface NodeFs {
  constants: Record<string, number | undefined>;
  lstatSync(path: string, options: { throwIfNoEntry: false }): NodeStats | undefined;
  mkdirSync(path: string, options: { mode: number }): unknown;
  readdirSync(path: string): string[];
  accessSync(path: string, mode: number): void;
  openSync(path: string, flags: number, mode?: number): number;
  fstatSync(fd: number): NodeStats;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: null): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  closeSync(fd: number): void;
  futimesSync(fd: number, atime: number, mtime: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  rmdirSync(path: string): void;
  readlinkSync(path: string): string;
  realpathSync: { (path: string): string; native?(path: string): string };
}

/** `R_OK | W_OK | X_OK`, the same on every system Node.js and Bun run on: what a spool directory needs. */
const LIST_WRITE_ENTER = 7;

/** Node.js's permission model (`process.permission`, set under `--permission`). */
export interface NodePermission {
  has(scope: string, reference?: string): boolean;
}

/**
 * Builds the Node.js / Bun file primitives.
 *
 * @param fs `node:fs`.
 * @param user The current user's ids (`process.getuid()`, `process.getgid()`); none on Windows.
 * @param windows Whether permission bits mean nothing here.
 * @param permission `process.permission` under `node --permission`: a path it does not grant is not looked at
 *   (as under Deno), so that a spool or consent file the program may read is used with what it may see above it.
 * @returns The primitives.
 * @example
 * ```ts ignore
 * import fs from "node:fs";
 * import process from "node:process";
 * import { nodeFiles } from "./node_files.ts";
 * const raw = nodeFiles(fs, { uid: process.getuid?.(), gid: process.getgid?.() }, process.platform === "win32");
 * ```
 */
export function nodeFiles(fs: NodeFs, user: User, windows: boolean, permission?: NodePermission): RawFiles {
  const flag = (name: string) => fs.constants[name] ?? 0;
  const guard = flag("O_NOFOLLOW") | flag("O_NONBLOCK");
  const facts = (stats: NodeStats): FileFacts => ({
    kind: stats.isSymbolicLink() ? "symlink" : stats.isFile() ? "file" : stats.isDirectory() ? "directory" : "other",
    uid: windows ? undefined : stats.uid,
    gid: windows ? undefined : stats.gid,
    mode: windows ? undefined : stats.mode & 0o7777,
    size: stats.size,
    modified: stats.mtimeMs,
    changed: stats.ctimeMs,
    inode: stats.ino,
    device: stats.dev,
  });
  /** Opens with the guard flags; when the kernel refuses a link (ELOOP) or a socket (ENXIO), `check` says why. */
  const open = (path: string, flags: number, check: (facts: FileFacts) => void, mode?: number) => {
    try {
      return fs.openSync(path, flags | guard, mode);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      const found = code === "ELOOP" || code === "ENXIO" ? fs.lstatSync(path, { throwIfNoEntry: false }) : undefined;
      if (found) check(facts(found));
      throw error;
    }
  };
  const writeAll = (fd: number, bytes: Uint8Array) => {
    for (let offset = 0; offset < bytes.length;) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
  };
  // node:buffer's isUtf8 and Buffer, not the TextDecoder and TextEncoder globals, which a program may replace (a
  // polyfill that ignores `fatal` would read bytes that are not UTF-8 with replacement characters): under Bun they
  // cost 0.1-0.15 ms more on first use.
  const { Buffer, process } = globalThis as unknown as {
    Buffer: { from(text: string): Uint8Array; from(bytes: Uint8Array): { toString(encoding: "utf8"): string } };
    process?: { getBuiltinModule?(name: "node:buffer"): { isUtf8?(bytes: Uint8Array): boolean } | undefined };
  };
  let isUtf8: ((bytes: Uint8Array) => boolean) | undefined;
  /** The text of UTF-8 bytes; anything else is refused (`not_utf8`), never read with replacement characters. */
  const decode = (path: string, bytes: Uint8Array): string => {
    isUtf8 ??= process?.getBuiltinModule?.("node:buffer")?.isUtf8 ?? fatalUtf8Check;
    if (!isUtf8(bytes)) throw new RefusedPath(path, "not_utf8");
    return Buffer.from(bytes).toString("utf8");
  };
  return {
    uid: windows ? undefined : user.uid,
    get gid() {
      return windows ? undefined : user.gid; // read when first needed: where it is costly, it is rarely needed
    },
    permissionsFollowLinks: false, // --permission compares paths as given, and follows links past its checks
    allowed: (path, access) =>
      permission === undefined ||
      quietly(() => permission.has(access === "read" ? "fs.read" : "fs.write", path)) !== false,
    lstat(path) {
      try {
        const stats = fs.lstatSync(path, { throwIfNoEntry: false });
        return stats && facts(stats);
      } catch (error) {
        if ((error as { code?: string }).code === "ENOTDIR") return undefined;
        throw error;
      }
    },
    // The system's realpath, as opening the path resolves it: Node.js's own reads a `..` after a link as text.
    realPath: (path) => quietly(() => (fs.realpathSync.native ?? fs.realpathSync)(path)),
    readLink: (path) => quietly(() => fs.readlinkSync(path)),
    usableDir(path) {
      try {
        fs.accessSync(path, LIST_WRITE_ENTER);
        return true;
      } catch (error) {
        return ["EACCES", "EPERM", "EROFS"].includes((error as { code?: string }).code ?? "") ? false : undefined;
      }
    },
    mkdir: (path) => void fs.mkdirSync(path, { mode: 0o700 }),
    list: (path) => fs.readdirSync(path),
    read(path, maxBytes, check) {
      const fd = open(path, flag("O_RDONLY"), check);
      if (fd === undefined) return undefined;
      try {
        const opened = facts(fs.fstatSync(fd));
        check(opened);
        const bytes = readBounded(
          (buffer, offset) => fs.readSync(fd, buffer, offset, buffer.length - offset, null),
          opened.size,
          maxBytes,
        );
        check({ ...opened, size: bytes.length });
        return decode(path, bytes);
      } finally {
        fs.closeSync(fd);
      }
    },
    create(path, text) {
      const fd = open(path, flag("O_WRONLY") | flag("O_CREAT") | flag("O_EXCL"), () => {}, 0o600);
      if (fd === undefined) throw new Error(`cannot create ${path}: no such directory`);
      try {
        writeAll(fd, Buffer.from(text));
      } catch (error) {
        // A full disk: no empty or partial file is left behind.
        fs.closeSync(fd);
        fs.unlinkSync(path);
        throw error;
      }
      fs.closeSync(fd);
    },
    append(path, text, check) {
      const fd = open(path, flag("O_WRONLY") | flag("O_APPEND") | flag("O_CREAT"), check, 0o600);
      if (fd === undefined) throw new Error(`cannot append to ${path}: no such directory`);
      try {
        check(facts(fs.fstatSync(fd)));
        writeAll(fd, Buffer.from(text));
      } finally {
        fs.closeSync(fd);
      }
    },
    touch(path, time, check) {
      const fd = open(path, flag("O_RDONLY"), check);
      if (fd === undefined) throw new Error(`cannot date ${path}: nothing is there`);
      try {
        check(facts(fs.fstatSync(fd)));
        fs.futimesSync(fd, time / 1000, time / 1000);
      } finally {
        fs.closeSync(fd);
      }
    },
    rename: (from, to) => fs.renameSync(from, to),
    remove(path) {
      try {
        fs.unlinkSync(path);
      } catch (error) {
        // An empty directory goes too, as Deno's removeSync takes it (unlink(2) says EISDIR on Linux, EPERM on macOS).
        const code = (error as { code?: unknown } | null)?.code;
        if (code !== "EISDIR" && code !== "EPERM") throw error;
        try {
          fs.rmdirSync(path);
        } catch {
          throw error; // Not an empty directory: why the file could not be removed.
        }
      }
    },
    removeDir: (path) => fs.rmdirSync(path),
  };
}

/** Where `node:buffer` has no `isUtf8` (older runtimes): the decoder that refuses what is not UTF-8. */
function fatalUtf8Check(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
