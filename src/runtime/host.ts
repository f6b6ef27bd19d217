/**
 * The one small interface through which the rest of the package reaches the
 * runtime. A Deno and a Node/Bun implementation live beside this file; without
 * either (a browser, a worker) the core runs without them.
 *
 * @module
 */

/**
 * What a delivery reads of a response: a `Response` fits, and so does any object with a status and `headers.get`.
 * Its body, read only for an answer that says something (OTLP partial success) and released otherwise, may be a web
 * stream, a Node.js stream (axios's, got's), or none.
 */
export interface FetchResponse {
  /** The HTTP status. */
  readonly status: number;
  /** The answer's headers: `retry-after` is read. */
  readonly headers: { get(name: string): string | null };
  /** The answer's body, if any. */
  readonly body?: unknown;
}

/**
 * The part of `fetch` a delivery uses (the handler's `fetch` option): `globalThis.fetch` fits, a wrapper of it that
 * adds the program's credentials, one on another HTTP client, and the Node.js host's lighter client.
 *
 * @example
 * ```ts
 * import type { Fetch } from "./host.ts";
 * const withKey: Fetch = (url, init) => fetch(url, { ...init, headers: { ...init.headers, "x-api-key": "key" } });
 * ```
 */
export type Fetch = (
  url: string,
  init: {
    method: "POST";
    headers: Record<string, string>;
    body: string;
    redirect: "manual";
    signal: AbortSignal;
  },
) => Promise<FetchResponse>;

/** The signals an interrupt hook listens for. */
export type InterruptSignal = "SIGINT" | "SIGTERM";

/** Callbacks for the end of the process. */
export interface ExitHooks {
  /**
   * The event loop is empty and asynchronous work is still allowed (Node/Bun
   * `beforeExit`, Deno `beforeunload`). Fires again once the loop is empty again.
   *
   * @returns `true` when the hook started work the process must wait for (Deno
   *   exits right after `beforeunload` unless told to wait).
   */
  beforeExit(): boolean;
  /**
   * The process is ending and only synchronous work runs: an explicit exit
   * (`process.exit()`, `Deno.exit()`), the natural end, or an uncaught error.
   *
   * @param code The exit code the process ends with.
   */
  exit(code: number): void;
}

/** What `lstat`/`fstat` tell about a path, in the terms the rules need. */
export interface FileFacts {
  /** The kind of entry; `"symlink"` only from `lstat`. */
  readonly kind: "file" | "directory" | "symlink" | "other";
  /** The owner's user id; `undefined` where the platform has none (Windows). */
  readonly uid: number | undefined;
  /** The owner's group id; `undefined` where the platform has none (Windows). */
  readonly gid: number | undefined;
  /** The permission bits, sticky bit included; `undefined` where the platform has none (Windows). */
  readonly mode: number | undefined;
  /** The size in bytes. */
  readonly size: number;
  /** When it was last modified, in epoch milliseconds; `undefined` where the runtime does not say. */
  readonly modified?: number | undefined;
  /** When its contents, mode or name last changed (ctime), in epoch milliseconds, which no one can set back. */
  readonly changed?: number | undefined;
  /** Its inode number: a file put in its place by a rename has another. */
  readonly inode?: number | undefined;
  /** The device it is on: an inode number names one file on one device only. */
  readonly device?: number | undefined;
}

/** What a look tells of an entry ({@link HostFiles.look}). */
export interface EntryLook {
  /** The entry's own facts (a link's, for a link). */
  readonly facts: FileFacts;
  /** Where a link leads, every link followed; absent where it is no link, leads nowhere or may not be looked at. */
  readonly leadsTo?: FileFacts | undefined;
}

/**
 * Synchronous file access through one guarded door (see `guarded_files.ts`):
 * no link followed, nothing that can block, sizes bounded, owners checked.
 * The methods throw on failure (callers count it); `allowed` never throws and
 * never prompts.
 */
export interface HostFiles {
  /**
   * Whether the program may read or write a path without being asked (Deno permissions; always true elsewhere).
   *
   * @param path The path.
   * @param access What the caller wants to do.
   */
  allowed(path: string, access: "read" | "write"): boolean;
  /**
   * Whether the program's permissions are checked where a link leads (Deno, for an open file's `stat`) rather than
   * on a path as it is given (Node.js's `--permission`): what a program may do below a link, granted as given.
   */
  readonly permissionsFollowLinks: boolean;
  /** The current user's id, where the runtime tells it (not on Windows, nor under Deno without `--allow-sys=uid`). */
  readonly uid: number | undefined;
  /** Where a path leads, every link followed; `undefined` when that cannot be told (or looking would prompt). */
  realPath(path: string): string | undefined;
  /**
   * Creates a directory and its missing parents (owner-only, one level at a time) and checks it is a real
   * directory, to write in. A private one must also be the current user's, with no group or other write bit; root
   * makes and writes nothing in another user's directory.
   *
   * @param path The directory.
   * @param isPrivate Whether to check owner and mode.
   * @param make Whether to make it if missing; not, it is only checked (to look in, never to write).
   * @returns Whether every directory above a private one could be looked at (under Deno, only those the program
   *   may read can be): where not, who may swap it for a link cannot be told.
   * @throws {RefusedPath} When it is a link, not a directory, (private) not safe to use, or missing and not to be
   *   made (`missing`).
   */
  ensureDir(path: string, isPrivate: boolean, make?: boolean): boolean;
  /** The names of a directory's entries. */
  list(path: string): string[];
  /**
   * Reads a UTF-8 regular file of the current user (or root), never following a link, never blocking.
   *
   * @param path The file.
   * @param maxBytes The largest size accepted.
   * @returns The text, or `undefined` when there is no file.
   * @throws {RefusedPath} When it is not a regular file, not the user's, too large, or not valid UTF-8
   *   (`not_utf8`: never read with replacement characters).
   */
  read(path: string, maxBytes: number): string | undefined;
  /**
   * The size of the regular file of the current user's (or root's) at a path, without opening it (a link is
   * not one). Never throws.
   *
   * @param path The path.
   * @param usersOwn Only a file of the user's own counts, not root's (one the user may not be able to read: a
   *   file `sudo` left). @default {false}
   * @returns Its size in bytes, or `undefined` when no such file is there (or, Deno, looking would prompt).
   */
  sizeOf(path: string, usersOwn?: boolean): number | undefined;
  /**
   * When the regular file of the current user's own at a path was last modified, without opening it (a link is not
   * one). Never throws.
   *
   * @param path The path.
   * @returns Epoch milliseconds, or `undefined` when no such file is there or the runtime does not say.
   */
  modifiedAt(path: string): number | undefined;
  /**
   * Whether anything is at a path, of any kind and anyone's (a link is not followed), without opening it. Never
   * throws.
   *
   * @param path The path.
   * @returns `false` only where nothing is there; `true` also where it cannot be told (Deno, where looking would
   *   prompt; an error other than no such entry).
   */
  present(path: string): boolean;
  /**
   * Whether a directory is at a path (a link is not followed) that the program may look at and write in: its
   * permissions (Deno) and, where it can be asked, the system (access(2)). Never throws.
   *
   * @param path The path.
   * @returns `false` also where it cannot be told whether a directory is there.
   */
  writableDir(path: string): boolean;
  /**
   * What a look (`lstat`, never an open) tells of what is at a path, as text that changes whenever it is written,
   * replaced, moved or its mode changes (its change time, which no one can set back, among them); of a link, of
   * where it leads too. Never throws.
   *
   * @param path The path.
   * @returns The text; `undefined` where nothing is there, or where looking would prompt (Deno).
   */
  stamp(path: string): string | undefined;
  /**
   * What a look (`lstat`, never an open) tells of what is at a path, and of a link, of where it leads. Never throws.
   *
   * @param path The path.
   * @returns The facts; `undefined` where nothing is there, where it cannot be looked at, or where looking would
   *   prompt (Deno).
   */
  look(path: string): EntryLook | undefined;
  /**
   * Whether the regular file of the current user's own at a path is one no one else may write (no group or other
   * write bit), without opening it. Never throws.
   *
   * @param path The path.
   * @returns `false` also where no such file is there or the runtime does not say.
   */
  isPrivate(path: string): boolean;
  /**
   * Dates the regular file of the current user's own at a path anew, as `touch` does a file that is there (its access
   * and modification times); a link is not followed, nothing is created.
   *
   * @param path The file.
   * @param time The time, in epoch milliseconds.
   * @throws When no such file is there, or the program may not write it.
   */
  touch(path: string, time: number): void;
  /** Creates a new file owner-only (0600) and writes UTF-8 text; fails if anything is at the path. */
  create(path: string, text: string): void;
  /**
   * Appends UTF-8 text in one write to a regular file of the current user, creating it owner-only (0600).
   *
   * @param path The file.
   * @param text The text.
   * @param maxBytes The largest size the file may already have.
   * @throws {RefusedPath} When it is a link or not a regular file, not the user's, or too large.
   */
  append(path: string, text: string, maxBytes: number): void;
  /**
   * Renames an entry; fails if `from` no longer exists.
   *
   * @throws {RefusedPath} When what it would replace at `to` is a link, not a regular file (a device, a FIFO), or not
   *   the user's: a file is never put in place of something else (`NAT_TELEMETRY_CONSENT_FILE=/dev/null`, as root).
   */
  rename(from: string, to: string): void;
  /**
   * Removes a file, or an empty directory; refuses (`not_allowed`) where the program's permissions do not let it,
   * rather than prompt.
   */
  remove(path: string): void;
  /**
   * Checks that no other user could swap a file for another where it is: its directory and every one above it
   * belong to the user or root, and none is writable by others (unless sticky) or by a group not the user's own.
   *
   * @param path The file.
   * @returns `true` when every directory above it was judged; `false` when that cannot be told (Deno without the
   *   permission to look at one, or to compare owners).
   * @throws {RefusedPath} When one fails (`ancestor_not_owner`, `ancestor_writable_by_group`...).
   */
  checkPlace(path: string): boolean;
}

/**
 * What became of a process start. `no processes`: the system refused it for want of processes or threads (EAGAIN),
 * as it would refuse what the program tried next (Bun's `fetch` starts a thread, and ends the program if it cannot).
 */
export type SpawnResult = "started" | "failed" | "no processes";

/** A command that starts a process, with its whole environment. */
export interface SpawnCommand {
  /** The executable and its arguments. */
  readonly argv: readonly string[];
  /** The process's whole environment: nothing else is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** Its working directory. */
  readonly cwd: string;
  /**
   * Whether the command leaves this process's session by itself (it starts with `setsid`): then it is started
   * as any child, which spares a runtime that leaves a session only by forking the whole program first (Deno)
   * that fork.
   */
  readonly leavesSession?: boolean | undefined;
}

/** What a sender process needs, so a runtime that grants permissions per process (Deno) grants only that. */
export interface SenderGrant {
  /** The endpoint's URL: the one host it connects to (with every host, where the program may reach every host). */
  readonly endpoint: string;
  /** The spool directory: read, written, and its working directory. */
  readonly dir: string;
  /** Files it reads besides the spool (the consent file). */
  readonly reads: readonly string[];
  /** The environment variables it reads. */
  readonly variables: readonly string[];
  /** Variables set in its environment (its configuration). */
  readonly set: Readonly<Record<string, string>>;
}

/** A request as the local HTTP server sees it. */
export interface ServedRequest {
  method: string;
  path: string;
  body: string;
}

/** An answer of the local HTTP server. */
export interface ServedAnswer {
  status: number;
  headers?: Record<string, string> | undefined;
  body?: string | undefined;
}

/** What a local HTTP server accepts at most. */
export interface ServeLimits {
  /** Bytes of one request body. */
  readonly maxBodyBytes: number;
  /** Requests handled at once. */
  readonly maxConnections: number;
  /** Milliseconds in which a request must arrive whole: a slow client holds a slot no longer. */
  readonly requestTimeoutMs: number;
}

/** A running local HTTP server. */
export interface LocalServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops it, cutting requests that are still unanswered. */
  close(): Promise<void>;
}

/** The user's terminal, for the one question the library may ask. */
export interface HostTerminal {
  /**
   * Reads raw keystrokes (no echo, no line buffering, Ctrl-C arrives as byte 3,
   * Ctrl-D as byte 4) until `onInput` says it is done, then gives the terminal
   * back as it was. Keys typed after the answer are left for the program where
   * the runtime can put them back (Node.js, Bun), and its input flows to it as it
   * would have.
   *
   * @param onInput Receives each chunk of bytes; returns how many of them it used once done, else `undefined`.
   * @throws {Error} Where input ends or fails first: a terminal in raw mode ends only when it goes away (its window
   *   closed, the session hung up), and no one answered.
   */
  readRaw(onInput: (bytes: Uint8Array) => number | undefined): Promise<void>;
}

/** What the package needs from the runtime. Every method is total unless it says otherwise. */
export interface Host {
  /**
   * Reads an environment variable.
   *
   * @param name The variable's name.
   * @returns Its value, or `undefined` when unset or not readable (no Deno `--allow-env`).
   */
  env(name: string): string | undefined;
  /**
   * Whether the program's permissions hide an environment variable (Deno without `--allow-env` for it), or its
   * value cannot be read: its value, set or not, cannot be known. Absent where nothing hides one.
   *
   * @param name The variable's name.
   * @returns `true` when it cannot be read.
   */
  envHidden?(name: string): boolean;
  /**
   * Whether a variable the program may read is set to what the runtime cannot read: a value that is not valid
   * Unicode, which Deno refuses to read and Node.js and Bun read with U+FFFD in place of its bad bytes; such a
   * variable is hidden too (under Node.js and Bun, but a proxy variable, whose reading refuses what it cannot parse).
   * Absent where every value can be read.
   *
   * @param name The variable's name.
   * @returns `true` when its value cannot be read.
   */
  envNotUnicode?(name: string): boolean;
  /**
   * Writes text to standard error; failures are ignored.
   *
   * @param text The text to write, newline included.
   */
  writeStderr(text: string): void;
  /**
   * Lets the process exit even while this timer is pending.
   *
   * @param timer What `setTimeout` returned.
   */
  unrefTimer(timer: unknown): void;
  /**
   * Milliseconds on a clock that only moves forward, from an arbitrary origin: budgets and deadlines within a
   * process, which a wall clock stepped back or ahead (NTP, a VM restored, a laptop resumed) would stretch or cut.
   */
  monotonicMs(): number;
  /**
   * What the worker threads the program starts from now on are given, and what this thread was given
   * (`node:worker_threads`' environment data, under Node.js and Bun); absent where the package cannot reach it without
   * loading more than it is worth (Deno, whose Node.js layer it would load). Never throws.
   */
  threadsShared?: { get(key: string): unknown; set(key: string, value: unknown): void } | undefined;
  /**
   * Holds the process open until the function returned is called, where the program's timers may not (fake timers):
   * a deadline the program awaits. Absent where the runtime's own timeout holds it (Deno, Bun).
   *
   * @returns The release.
   */
  holdOpen?: (() => () => void) | undefined;
  /**
   * Calls `then` once, `ms` from now, on a clock the program's fake timers do not replace, holding nothing open:
   * the deadlines' watchdog. Absent where the runtime's own `AbortSignal.timeout` is such a clock (Deno, Bun).
   *
   * @param ms How long from now.
   * @param then What to call.
   * @returns Whether it will be called (`false`: the program removed what it needs).
   */
  watchTick?: ((ms: number, then: () => void) => boolean) | undefined;
  /**
   * Whether the program may connect to a URL's host without being asked (Deno `--allow-net`).
   *
   * @param url The URL.
   */
  canConnect(url: string): boolean;
  /**
   * Whether a request to a URL carries the proxy's credentials to its host, not only to the proxy (Deno's fetch,
   * inside an https tunnel): a redirect to another origin is then refused.
   *
   * @param url The URL.
   */
  sendsProxyCredentials(url: string): boolean;
  /**
   * The HTTP client deliveries use unless the program gives its own: under Node.js a lighter one than
   * `globalThis.fetch` (undici takes ~50 ms and ~30 MB on first use), under Deno and Bun the runtime's fetch as it
   * was when the package loaded, not one the program put in its place later; `undefined` where there is none.
   */
  readonly fetch: Fetch | undefined;
  /**
   * The terminal, only when standard input, output and error all are one.
   *
   * @returns The terminal, or `undefined` for a script, a pipe or CI.
   */
  terminal(): HostTerminal | undefined;
  /** File access, or `undefined` where there is no file system. */
  readonly files: HostFiles | undefined;
  /**
   * How to run a sender script (a self-contained ES module) in a process of
   * this runtime that outlives this one, or why that cannot be done here: a
   * single executable that runs only its program (`deno compile`, a Node.js
   * single executable application), no permission to start processes, a
   * detached process that would not outlive this one (see `survival.ts`).
   *
   * @param script The script's path.
   * @param grant What the sender needs.
   * @returns The command, or the reason there is none.
   */
  senderCommand(script: string, grant: SenderGrant): SpawnCommand | { readonly refused: string };
  /**
   * Why no sender could be started here, as {@link Host.senderCommand} would say, without building its command
   * (for a run that starts none: the endpoint is known to be down).
   *
   * @param grant What the sender would need.
   * @returns The reason, or `undefined` when one could be started.
   */
  senderRefusal(grant: SenderGrant): string | undefined;
  /**
   * Starts a process detached from this one: its own session (no terminal,
   * no Ctrl-C from the shell), no standard streams, no console window on
   * Windows, and nothing that keeps this process alive. Never throws.
   *
   * @param command What {@link Host.senderCommand} returned.
   * @returns Whether it was started; `no processes` when the system refused it for want of processes or threads.
   */
  spawnDetached(command: SpawnCommand): SpawnResult;
  /**
   * Ends the process at once.
   *
   * @param code The exit code.
   */
  exit(code: number): void;
  /**
   * Sends a signal to this process, as the terminal would have for Ctrl-C: with no listener for it, the
   * process dies of it; a program that listens gets it, and decides.
   *
   * @param signal The signal.
   * @returns `false` when this process cannot signal itself without being asked (Deno without `--allow-run`,
   *   which is queried, never prompted for) or there are no signals (Windows): the caller exits instead.
   */
  signalSelf(signal: InterruptSignal): boolean;
  /**
   * Starts an HTTP server (for the local collector).
   *
   * @param hostname The address to listen on.
   * @param port The port; 0 lets the OS choose.
   * @param handler Answers a request; `undefined` means never answer (a silent endpoint).
   * @param limits A request body larger than `maxBodyBytes` is answered 413 and its connection closed,
   *   without reading the rest, one not whole within `requestTimeoutMs` 408; past `maxConnections` at once,
   *   connections are refused (Node.js, Bun) or answered 503 (Deno). A handler that throws is answered 500.
   * @returns The server, once it listens.
   * @throws When it cannot listen, or the runtime has no server.
   */
  serve(
    hostname: string,
    port: number,
    handler: (request: ServedRequest) => Promise<ServedAnswer | undefined>,
    limits: ServeLimits,
  ): Promise<LocalServer>;
  /** The program's arguments, after the runtime's and the script's own. */
  args(): string[];
  /** Writes text to standard output; failures are ignored. */
  writeStdout(text: string): void;
  /** Whether standard output is a terminal (for colour). */
  stdoutIsTerminal(): boolean;
  /** Sets the exit code the process ends with, without ending it. */
  setExitCode(code: number): void;
  /**
   * The exit code set so far (`process.exitCode`, `Deno.exitCode`), without ending the process.
   *
   * @returns The code, `undefined` when none was set.
   */
  exitCode(): number | undefined;
  /**
   * Whether the process is ending: its exit listeners are running, or have run. An event recorded now (from a
   * listener of the program's) has no exit hook left to come, however the handler registers them.
   *
   * @returns `true` once the process exits.
   */
  exiting(): boolean;
  /**
   * Registers exit hooks. However many are registered, the process holds one
   * listener per event for all of them.
   *
   * @param hooks The callbacks; their errors are swallowed.
   * @returns A function that unregisters them.
   */
  onExit(hooks: ExitHooks): () => void;
  /**
   * Listens for SIGINT and SIGTERM. When one arrives and the program does
   * not listen for it itself, the callback runs, then the process dies of it
   * exactly as it would have without the listener. When the program listens,
   * nothing happens here: the program decides what the signal does (its exit,
   * if it exits, reaches the exit hooks). One listener per signal serves
   * every callback.
   *
   * @param callback Runs synchronously before the process dies of the signal.
   * @returns A function that stops listening.
   */
  onInterrupt(callback: (signal: InterruptSignal) => void): () => void;
}

/** The signals {@link Host.onInterrupt} handles. */
export const INTERRUPT_SIGNALS: readonly InterruptSignal[] = ["SIGINT", "SIGTERM"];

/** The exit status of a process killed by a signal, as a shell reports it (128 + the signal's number). */
export const SIGNAL_EXIT_STATUS: Readonly<Record<InterruptSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/** Where Linux tells which signals a process ignores (`SigIgn`, a mask: bit n-1 for signal n). */
export const PROCESS_STATUS_FILE = "/proc/self/status";

/**
 * The interrupt signals a process ignores, as it inherited them from its parent (`trap '' INT`, a shell's
 * background job): a listener would undo that, and a signal the program never saw would end it.
 *
 * @param status The text of {@link PROCESS_STATUS_FILE}, read before any listener is added; `undefined` if unknown.
 * @returns The ignored ones; none when unknown.
 * @example
 * ```ts
 * import { ignoredInterrupts } from "./host.ts";
 * ignoredInterrupts("SigIgn:\t0000000000004002\n"); // ["SIGINT", "SIGTERM"]
 * ```
 */
export function ignoredInterrupts(status: string | undefined): InterruptSignal[] {
  const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(status ?? "")?.[1];
  if (mask === undefined) return [];
  const bit = (signal: InterruptSignal) => BigInt(SIGNAL_EXIT_STATUS[signal] - 129);
  return INTERRUPT_SIGNALS.filter((signal) => ((BigInt(`0x${mask}`) >> bit(signal)) & 1n) === 1n);
}

/**
 * What a fetch rejects with when the request was never sent because it could not be built here (a proxy setting
 * the client cannot speak to): a local failure, not the endpoint's.
 *
 * @example
 * ```ts
 * import { RequestNotBuilt } from "./host.ts";
 * const refusal = new RequestNotBuilt("socks5: proxies are not supported");
 * refusal instanceof TypeError; // true: to the caller it is a failed fetch, as the runtimes' own are
 * ```
 */
export class RequestNotBuilt extends TypeError {
  /** @param reason Why the request could not be built. */
  constructor(reason: string) {
    super(`fetch failed: ${reason}`);
    this.name = "RequestNotBuilt";
  }
}

/**
 * Why a variable the host hides cannot be read, for a message: a value the runtime cannot read, or the permission
 * that hides it.
 *
 * @param notUnicode Whether its value is what the runtime cannot read ({@link Host.envNotUnicode}).
 * @param permission How the message names the permission: `--allow-env`, `its permissions`.
 * @returns `its value is not valid Unicode`, or the permission.
 * @example
 * ```ts
 * import { hiddenBecause } from "./host.ts";
 * `the program may not read HTTPS_PROXY (${hiddenBecause(false, "--allow-env")})`;
 * ```
 */
export function hiddenBecause(notUnicode: boolean, permission: string): string {
  return notUnicode ? "its value is not valid Unicode" : permission;
}

/**
 * Runs a hook, swallowing anything it throws: a hook must never break the host program.
 *
 * @param hook The hook.
 * @returns What the hook returned, or `undefined` if it threw.
 */
export function quietly<T>(hook: () => T): T | undefined {
  try {
    return hook();
  } catch {
    return undefined; // Nothing a hook does may reach the host program.
  }
}
