/**
 * Where a consent file named relative (`NAT_TELEMETRY_CONSENT_FILE=telemetry.toml`, a relative HOME) is: the one in
 * the working directory where the run first read it, so that a command that changes directory (`-C dir`), a plugin's
 * copy of the package and the worker threads the program starts later follow the decision the run started with, and
 * the sender it hands off to is told that file. Where that directory cannot be named (its path is not UTF-8), the
 * name is followed as given while the run is still in it (its device and inode); where that cannot be told, the file is
 * not followed (it reads as "no").
 *
 * @module
 */
import { host, runtimeInfo } from "./runtime/mod.ts";
import { quietly } from "./runtime/host.ts";
import { below, isAbsolutePath } from "./runtime/guarded_files.ts";

/**
 * The path a consent file's name stands for in this run: an absolute one as it is; a relative one as it was first
 * made absolute (see the module), or as given where that could not be.
 *
 * @param given The name, as `NAT_TELEMETRY_CONSENT_FILE` (or HOME) gives it.
 * @returns The path to read and write.
 * @example
 * ```ts
 * import { whereConsentFileIs } from "./relative_consent.ts";
 * whereConsentFileIs("telemetry.toml"); // e.g. "/home/ada/project/telemetry.toml", wherever the run goes next
 * ```
 */
export function whereConsentFileIs(given: string): string {
  if (isAbsolutePath(given, runtimeInfo().os)) return given;
  const places = placesKept();
  const kept = places && placeIn(places, given);
  if (kept) return kept.path;
  const made = (kept === undefined ? fromThreads(given) : undefined) ?? placeOf(given, host().files?.realPath("."));
  if (kept === null || !keep(places, given, made)) {
    unkept = given;
    return given;
  }
  shareWithThreads(given, made);
  return made.path;
}

/**
 * Why a consent file followed as given, relative to a working directory that could not be named, is not to be read
 * or written: the program has left that directory since (a command that changes directory), and the same name there
 * is another directory's file, not the decision the run started with; or the program may not look at the directory
 * (Deno without read access to it, Node.js's `--permission`), or where the run first read the file could not be kept
 * for every copy of the package, so whether it left cannot be told.
 *
 * @param path A consent file's path, as {@link whereConsentFileIs} gave it.
 * @returns Why, as the consent file's problem; `undefined` where it may be read and written.
 * @example
 * ```ts
 * import { notWhereItStarted } from "./relative_consent.ts";
 * notWhereItStarted("/home/ada/.config/nat/telemetry.toml"); // undefined: where it says, wherever the run is
 * ```
 */
export function notWhereItStarted(path: string): string | undefined {
  if (isAbsolutePath(path, runtimeInfo().os)) return undefined;
  const places = placesKept();
  const kept = places && placeIn(places, path);
  if (path === unkept || kept === null) return "is relative, and where the run first read it cannot be told";
  const from = kept?.from;
  if (from === undefined) return undefined;
  if (from === "") return "is relative to a working directory the program may not read (its permissions)";
  return workingDirectory() === from ? undefined : "is relative to a working directory the program has left";
}

/**
 * A relative consent file's path as it was first made absolute; `from`: where its path could not be named, the
 * working directory it is relative to (its device and inode), `""` where that could not be told either.
 */
interface Place {
  path: string;
  from?: string | undefined;
}

/** How many relative consent files' names a run keeps where it first read them; a run names one, or a few. */
const MAX_PLACES = 64;

/** A relative consent file's name whose place could not be kept: it is not followed. */
let unkept: string | undefined;

/**
 * The places kept, by the name given, for every copy of the package in the thread (a copy a plugin bundles, first
 * reading one after a command changed directory, follows the directory the run started in too): on the global object,
 * put there as the first copy loads, fixed (a program that freezes its global object later still lets every copy
 * find it).
 */
const PLACES = Symbol.for("@nat/telemetry: where relative consent files were first read");
try {
  if (!Object.hasOwn(globalThis, PLACES)) Object.defineProperty(globalThis, PLACES, { value: new Map() });
} catch {
  // A global object frozen before the package loaded: no copy can keep a place (see placesKept).
}

/**
 * The places every copy in the thread keeps ({@link PLACES}); `undefined` where the global object holds none (frozen
 * before the package loaded, or something else put there): where another copy first read such a file cannot be told.
 */
function placesKept(): Map<string, unknown> | undefined {
  try {
    const places = (globalThis as { [PLACES]?: unknown })[PLACES];
    return places instanceof Map ? places : undefined;
  } catch {
    return undefined;
  }
}

/** The place kept for a relative consent file's name; `null` where what is kept is not one, or cannot be read. */
function placeIn(places: Map<string, unknown>, given: string): Place | null | undefined {
  try {
    return places.has(given) ? asPlace(places.get(given)) : undefined;
  } catch {
    return null;
  }
}

/** A {@link Place} as it was kept, or `null` where what was kept is not one. */
function asPlace(kept: unknown): Place | null {
  const { path, from } = (kept ?? {}) as { path?: unknown; from?: unknown };
  return typeof path === "string" && (from === undefined || typeof from === "string") ? { path, from } : null;
}

/**
 * Where a relative consent file's name leads from the working directory (its real path `cwd`). Not where that was
 * read with U+FFFD (bytes that are not UTF-8, under Node.js and Bun): that names another directory, and the decision
 * would be saved in one made beside it. Such a path is followed as given, in the directory the run started in (its
 * device and inode).
 */
function placeOf(given: string, cwd: string | undefined): Place {
  return cwd === undefined || cwd.includes("\uFFFD")
    ? { path: given, from: workingDirectory() ?? "" }
    : { path: below(cwd, given) };
}

/** Keeps where a relative consent file's name was first read; `false` where the map does not keep it, or is full. */
function keep(places: Map<string, unknown> | undefined, given: string, made: Place): boolean {
  try {
    if (places === undefined || places.size >= MAX_PLACES) return false;
    places.set(given, made);
    const kept = placeIn(places, given);
    return kept?.path === made.path && kept.from === made.from;
  } catch {
    return false;
  }
}

/** What the program's threads are given under (`Host.threadsShared`): where relative consent files were read. */
const THREADS_KEY = "@nat/telemetry: relative consent files";

/**
 * Where the thread that started this one (or this thread, before) first read a relative consent file's name: a worker
 * thread the program starts after a command changed directory follows the directory the run started in too.
 */
function fromThreads(given: string): Place | undefined {
  // What is there may be the program's (in this thread, the object it stored itself): read as untrusted.
  return quietly(() => {
    const places = host().threadsShared?.get(THREADS_KEY);
    if (typeof places !== "object" || places === null || !Object.hasOwn(places, given)) return undefined;
    return asPlace((places as Record<string, unknown>)[given]) ?? undefined;
  });
}

/** Gives the worker threads the program starts from now on where a relative consent file's name was first read. */
function shareWithThreads(given: string, made: Place): void {
  quietly(() => {
    const threads = host().threadsShared;
    const before = threads?.get(THREADS_KEY);
    threads?.set(THREADS_KEY, { ...(typeof before === "object" && before !== null ? before : {}), [given]: made });
  });
}

/** The working directory's device and inode, where a look can tell them. */
function workingDirectory(): string | undefined {
  const facts = host().files?.look(".")?.facts;
  return facts && `${facts.device}:${facts.inode}`;
}
