/**
 * The {@link Host} for Node.js and Bun, which share the `process` global.
 * Built-in modules are reached through `process.getBuiltinModule`, so the
 * package has no static `node:` import and loads anywhere.
 *
 * @module
 */
import {
  type ExitHooks,
  type Fetch,
  type FileFacts,
  type Host,
  type HostFiles,
  ignoredInterrupts,
  INTERRUPT_SIGNALS,
  type InterruptSignal,
  PROCESS_STATUS_FILE,
  quietly,
  RequestNotBuilt,
  type SenderGrant,
  type ServedAnswer,
  SIGNAL_EXIT_STATUS,
} from "./host.ts";
import { guardedFiles, isAbsolutePath, type RawFiles } from "./guarded_files.ts";
import { runtimeInfo } from "./info.ts";
import { isForegroundJob, programReadsInput } from "./job_control.ts";
import { callEach, Subscribers } from "./subscribers.ts";
import { nodeFetch } from "./node_fetch.ts";
import { proxyRoute, type ProxyServer, type ReadEnvironment } from "./proxy_settings.ts";
import { nodeFiles, type NodeFs, type NodePermission } from "./node_files.ts";
import { PROXY_VARIABLES, senderEnvironment } from "./clean_environment.ts";
import { survivalProblem } from "./survival.ts";
import { markStandingAside, programListens } from "./standing_aside.ts";
import { loopHold, watchTick } from "./node_watchdog.ts";

/** The part of `node:child_process` we use. */
interface NodeChildProcess {
  spawn(
    command: string,
    args: readonly string[],
    options: {
      detached: boolean;
      stdio: "ignore";
      windowsHide: boolean;
      env: Readonly<Record<string, string>>;
      cwd: string;
    },
  ): { pid?: number; on(event: "error", listener: () => void): unknown; unref(): void };
}

/**
 * The part of `Bun.spawn` we use: under Bun it starts a process in ~0.4 ms, where `node:child_process` first
 * loads Bun's implementation of that module (~5 ms, most of a hand-off's cost).
 */
export type BunSpawn = (
  argv: string[],
  options: {
    detached: boolean;
    stdio: ["ignore", "ignore", "ignore"];
    windowsHide: boolean;
    env: Record<string, string>;
    cwd: string;
  },
) => { pid?: number; unref(): void };

/**
 * What a Bun sender's environment sets: a Bun executable has no `bun` beside it, and BUN_BE_BUN makes it one
 * (it changes nothing for `bun` itself, so it is set whatever the program's arguments say: a program may rewrite
 * `process.argv`); and Bun keeps no transpiler cache for the script (it would write outside the spool).
 */
const BUN_SENDER = { BUN_BE_BUN: "1", BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" };

/** The part of `node:http` the local server uses. */
interface NodeHttpServerModule {
  createServer(
    options: { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number },
    listener: (request: NodeIncoming, response: NodeOutgoing) => void,
  ): NodeHttpServer;
}

interface NodeIncoming {
  method?: string | undefined;
  url?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  socket: { destroy(): void };
  pause(): unknown;
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
}

interface NodeOutgoing {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body?: string, callback?: () => void): unknown;
}

interface NodeHttpServer {
  maxConnections: number;
  listen(port: number, hostname: string, callback: () => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
  address(): { port: number } | string | null;
  closeAllConnections?(): void;
  close(callback: () => void): unknown;
}

/** The part of `process.stdin` we use. */
interface NodeStdin {
  isTTY?: boolean | undefined;
  isRaw?: boolean | undefined;
  setRawMode?(raw: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
  unshift(chunk: Uint8Array): unknown;
  readableFlowing?: boolean | null | undefined;
  listenerCount(event: string): number;
  on(event: "data" | "end" | "error", listener: (chunk?: Uint8Array) => void): unknown;
  removeListener(event: "data" | "end" | "error", listener: (chunk?: Uint8Array) => void): unknown;
}

/** The part of `process.stdout` and `process.stderr` we use. */
interface NodeWritable {
  write(text: string, done: () => void): unknown;
  on(event: "error", listener: () => void): unknown;
  removeListener(event: "error", listener: () => void): unknown;
}

/** The part of the `process` global we use. */
export interface NodeProcess {
  pid: number;
  ppid?: number | undefined;
  versions: Record<string, string | undefined>;
  /** Set under `node --permission`. */
  permission?: NodePermission | undefined;
  /** Set in a program packaged by `pkg`. */
  pkg?: unknown;
  exit(code: number): void;
  nextTick(callback: () => void): void;
  hrtime(): [number, number];
  platform: string;
  getuid?(): number;
  getgid?(): number;
  env: Record<string, string | undefined>;
  stdin: NodeStdin;
  stdout: NodeWritable & { isTTY?: boolean };
  stderr: NodeWritable & { isTTY?: boolean };
  getBuiltinModule?(
    name:
      | "node:fs"
      | "node:http"
      | "node:https"
      | "node:net"
      | "node:tls"
      | "node:child_process"
      | "node:dns"
      | "node:stream"
      | "node:sea"
      | "node:os"
      | "node:worker_threads",
  ): unknown;
  execPath: string;
  cwd?(): string;
  execArgv?: string[] | undefined;
  argv: string[];
  exitCode?: number | string | undefined;
  on(event: string, listener: (code: number) => void): unknown;
  removeListener(event: string, listener: (code: number) => void): unknown;
  listeners(event: string): readonly unknown[];
  kill(pid: number, signal: InterruptSignal): unknown;
}

/**
 * Builds the Node.js / Bun host.
 *
 * @param proc The `process` global.
 * @param options `lightFetch`: deliver with {@link nodeFetch} (Node.js) rather than the global fetch (Bun's is
 *   native); `fetchAtLoad`: Bun's own fetch (`Bun.fetch`), not one the program put in the global's place; `bunSpawn`: start senders with Bun's own spawn (Bun) rather than `node:child_process`.
 * @returns A host over `process`.
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { nodeHost } from "./node.ts";
 * nodeHost(process, { lightFetch: true }).env("HOME");
 * ```
 */
export function nodeHost(
  proc: NodeProcess,
  options: { lightFetch: boolean; fetchAtLoad?: Fetch | undefined; bunSpawn?: BunSpawn | undefined },
): Host {
  // Loaded when a run first reads or writes a file: one that never does (telemetry turned off by a variable) does
  // not load Bun's node:fs (~2 ms; Node.js has it loaded already).
  let fileAccess: FileAccess | undefined;
  const access = () => fileAccess ??= openFileAccess(proc);
  const refusal = ({ dir }: SenderGrant) => {
    // Node.js will not load a module from a path with a backslash in it (outside Windows), and Bun reads one as a
    // separator, and a `?` as a query: Bun would run another file than the sender's script, one that whoever may
    // write there chose.
    const odd = proc.platform === "win32" ? undefined : dir.match(proc.versions.bun ? /[?\\]/ : /\\/)?.[0];
    if (odd !== undefined) return `${runtimeInfo().name} cannot run a script from a path with a '${odd}' in it: ${dir}`;
    const { files, fs } = access();
    return senderRefusal(proc, files, fs);
  };
  let exited = false;
  const exitHooks = new Subscribers<ExitHooks>((members) => {
    const beforeExit = () => void callEach(members, (hooks) => hooks.beforeExit());
    // "exit" also fires after an uncaught exception or unhandled rejection.
    const exit = (code: number) => {
      exited = true;
      callEach(members, (hooks) => hooks.exit(code));
    };
    return listenAll(proc, [["beforeExit", beforeExit], ["exit", exit]]);
  });
  // Windows has no signals to send: there, a process exits with the status a shell reports for the signal.
  const signalSelf = (signal: InterruptSignal) =>
    proc.platform !== "win32" && quietly(() => (proc.kill(proc.pid, signal), true)) === true;
  const interruptHooks: Subscribers<(signal: InterruptSignal) => void> = new Subscribers((members) => {
    // The init of a container (PID 1) is not ended by a signal it has no listener for: a listener of ours would
    // record an end that does not come. Nor is a program whose parent had the signal ignored (`trap '' INT`, a
    // background job): Node.js resets that at start, Bun keeps it, and a listener of ours would undo it.
    if (proc.pid === 1) return () => {};
    const files = proc.versions.bun && proc.platform === "linux" ? access().files : undefined;
    const ignored = ignoredInterrupts(quietly(() => files?.read(PROCESS_STATUS_FILE, 65_536)));
    return listenAll(
      proc,
      INTERRUPT_SIGNALS.filter((signal) => !ignored.includes(signal)).map((signal) => {
        const listener = markStandingAside(() => {
          // The program listens for this signal too: it decides what happens, as it would without us.
          if (programListens(proc, signal)) return;
          callEach(members, (callback) => callback(signal));
          interruptHooks.clear();
          // Die of the signal, exactly as we would have without our listener.
          if (!signalSelf(signal)) proc.exit(SIGNAL_EXIT_STATUS[signal]);
        });
        return [signal, listener] as const;
      }),
    );
  });
  /**
   * Whether a variable is set to bytes that are not UTF-8, which Node.js and Bun read with U+FFFD in their place (Deno
   * refuses to read them): what it holds cannot be known, a home, a consent file's path, an opt-out. A value with the
   * character itself is taken so too: no path or setting of ours has it.
   */
  const notUnicode = (name: string) => {
    try {
      return proc.env[name]?.includes("\uFFFD") === true;
    } catch {
      return false;
    }
  };
  // Hidden, as Deno hides them, but the proxy variables: read as they are by the requests' own reading of them
  // (`proxyRoute`), which sends nothing through a proxy whose URL cannot be parsed, and nothing around it.
  const hidden = (name: string) => notUnicode(name) && !PROXY_VARIABLES.includes(name);
  const readEnv = (name: string) => {
    try {
      return hidden(name) ? undefined : proc.env[name];
    } catch {
      return undefined;
    }
  };
  return {
    env: readEnv,
    envHidden: hidden,
    envNotUnicode: notUnicode,
    writeStderr: (text) => writeQuietly(proc.stderr, text),
    writeStdout: (text) => writeQuietly(proc.stdout, text),
    stdoutIsTerminal: () => proc.stdout.isTTY === true,
    args: () => proc.argv.slice(2),
    setExitCode(code) {
      proc.exitCode = code;
    },
    exitCode() {
      const code = Number(proc.exitCode ?? NaN);
      return Number.isInteger(code) ? code : undefined;
    },
    async serve(hostname, port, handler, limits) {
      const http = proc.getBuiltinModule?.("node:http") as NodeHttpServerModule | undefined;
      if (!http) throw new Error("no HTTP server in this runtime");
      // Node.js times out slow heads and whole requests itself (checked every second); Bun, the body below.
      const timeouts = {
        requestTimeout: limits.requestTimeoutMs,
        headersTimeout: limits.requestTimeoutMs,
        connectionsCheckingInterval: 1000,
      };
      const server = http.createServer(timeouts, (request, response) => {
        const refuse = (status: number, error: string) => {
          // Answered at once and the connection closed: the rest of the body is never read.
          response.writeHead(status, { "content-type": "application/json", connection: "close" });
          response.end(JSON.stringify({ error }), () => request.socket.destroy());
        };
        const tooLarge = () => refuse(413, "the body is too large");
        if (Number(request.headers["content-length"] ?? 0) > limits.maxBodyBytes) return tooLarge();
        const decoder = new TextDecoder();
        let body = "";
        let bytes = 0;
        let refused = false;
        const late = setTimeout(() => {
          refused = true;
          body = "";
          refuse(408, "the request did not arrive in time");
        }, limits.requestTimeoutMs);
        // One whose connection is gone (the client left, the server closed) needs no answer: its timer holds nothing.
        request.on("close", () => clearTimeout(late));
        request.on("data", (chunk) => {
          if (refused) return;
          bytes += chunk.length;
          if (bytes > limits.maxBodyBytes) {
            refused = true;
            body = "";
            clearTimeout(late);
            request.pause();
            return tooLarge();
          }
          body += decoder.decode(chunk, { stream: true });
        });
        request.on("end", async () => {
          clearTimeout(late);
          if (refused) return;
          let answer: ServedAnswer | undefined;
          try {
            answer = await handler({ method: request.method ?? "GET", path: request.url ?? "/", body });
          } catch {
            answer = { status: 500, headers: { "content-type": "application/json" }, body: '{"error":"internal"}' };
          }
          if (!answer) return; // silent: the connection is cut at close
          response.writeHead(answer.status, answer.headers ?? {});
          response.end(answer.body);
        });
      });
      server.maxConnections = limits.maxConnections;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, hostname, resolve);
      });
      const address = server.address();
      return {
        port: typeof address === "object" && address ? address.port : port,
        close: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections?.();
          }),
      };
    },
    unrefTimer(timer) {
      (timer as { unref?: () => void } | undefined)?.unref?.();
    },
    // Under Bun the runtime's own `AbortSignal.timeout` is a clock fake timers do not replace, and holds the process.
    holdOpen: proc.versions.bun ? undefined : loopHold(proc),
    watchTick: proc.versions.bun ? undefined : watchTick,
    monotonicMs() {
      // Not `performance.now()`: under Node.js its first use loads perf_hooks (~1 ms).
      const [seconds, nanoseconds] = proc.hrtime();
      return seconds * 1000 + nanoseconds / 1e6;
    },
    threadsShared: {
      get: (key) => quietly(() => workerThreads(proc)?.getEnvironmentData?.(key)),
      set: (key, value) => void quietly(() => workerThreads(proc)?.setEnvironmentData?.(key, value)),
    },
    canConnect: () => true,
    sendsProxyCredentials: () => false,
    terminal() {
      // A terminal is a character device: a standard stream that is a pipe or a file is told from one by `fstat`,
      // before `process.stdin`, which is made at its first read (Node.js ~2 ms, Bun ~8: it loads node:tty and
      // node:net), and which every run of a user never asked would pay where its output goes to a pipe or a file.
      const { fs } = access();
      const notDevice = (fd: number) => quietly(() => fs?.fstatSync(fd).isCharacterDevice()) === false;
      if (proc.platform !== "win32" && [1, 2, 0].some(notDevice)) return undefined;
      // `node --test` without isolation runs the tests in this process: its terminal shows them, no one answers there.
      if (proc.execArgv?.includes("--test")) return undefined;
      const { stdin } = proc;
      if (!stdin.isTTY || !proc.stdout.isTTY || !proc.stderr.isTTY || !stdin.setRawMode) return undefined;
      // The program reads its input itself (readline, a shell of its own): a question would take its keys.
      if (quietly(() => programReadsInput(stdin)) !== false) return undefined;
      if (!isForegroundJob(access().files, runtimeInfo().os)) return undefined;
      return {
        readRaw: (onInput) =>
          new Promise<void>((resolve, reject) => {
            const wasRaw = stdin.isRaw === true;
            const flowing = stdin.readableFlowing;
            const finish = (rest?: Uint8Array) => {
              stdin.removeListener("data", onData);
              stdin.removeListener("end", onGone);
              stdin.removeListener("error", onGone);
              quietly(() => stdin.setRawMode?.(wasRaw));
              stdin.pause();
              // Keys typed after the answer are the program's: put back for it to read.
              if (rest !== undefined && rest.length > 0) quietly(() => stdin.unshift(rest));
              // Its input flows as it would have: paused, a stream no one read yet would not start for a `data` listener.
              if (flowing === true) stdin.resume();
              else if (flowing === null) quietly(() => stdin.readableFlowing = null);
            };
            const onData = (chunk?: Uint8Array) => {
              const bytes = new Uint8Array(chunk ?? []);
              let used: number | undefined;
              try {
                used = onInput(bytes);
              } catch {
                used = bytes.length;
              }
              if (used !== undefined) {
                finish(bytes.subarray(used));
                // A tick later: Bun lets go of stdin's reader a tick after a pause, and would take it from a program
                // that starts reading at once (`for await`), which would then read nothing more.
                proc.nextTick(resolve);
              }
            };
            // In raw mode Ctrl-D is a key: input ends only where the terminal went away.
            const onGone = () => {
              finish();
              reject(new Error("the terminal went away"));
            };
            stdin.setRawMode?.(true); // first: where it throws, nothing was changed
            stdin.on("data", onData);
            stdin.on("end", onGone);
            stdin.on("error", onGone);
            stdin.resume();
          }),
      };
    },
    fetch: options.lightFetch && proc.getBuiltinModule
      ? nodeFetch((name) => proc.getBuiltinModule!(name), (name) => proc.env[name])
      : runtimeFetch(options.fetchAtLoad, (name) => proc.env[name], proc.versions.bun !== undefined),
    senderCommand(script, grant) {
      const refused = refusal(grant);
      if (refused) return { refused };
      const switches = proc.versions.bun ? BUN_SENDER : {};
      // What the program may not read is not passed on, as under Deno: bytes read as U+FFFD would name other paths.
      const env = senderEnvironment(
        readEnv,
        { ...grant.set, ...switches },
        quietly(() => proc.cwd?.()),
      );
      const flags = proc.versions.bun ? [] : trustFlags(proc);
      return { argv: [proc.execPath, ...flags, script], env, cwd: grant.dir };
    },
    senderRefusal: refusal,
    spawnDetached(command) {
      try {
        const { argv, env, cwd } = command;
        if (options.bunSpawn) {
          // Detached: a session of its own (setsid), as node:child_process's `detached` gives.
          const stdio: ["ignore", "ignore", "ignore"] = ["ignore", "ignore", "ignore"];
          try {
            const child = options.bunSpawn([...argv], {
              detached: true,
              stdio,
              windowsHide: true,
              env: { ...env },
              cwd,
            });
            child.unref();
            return child.pid !== undefined ? "started" : "failed";
          } catch (error) {
            return (error as { code?: unknown } | null)?.code === "EAGAIN" ? "no processes" : "failed";
          }
        }
        const childProcess = proc.getBuiltinModule?.("node:child_process") as NodeChildProcess | undefined;
        if (!childProcess) return "failed";
        const [executable, ...args] = argv;
        const child = childProcess.spawn(executable, args, {
          detached: true,
          stdio: "ignore",
          windowsHide: true,
          env,
          cwd,
        });
        child.on("error", () => {});
        child.unref();
        // A spawn that failed at once (no such executable, no more processes) has no process id; Node.js says why
        // only later, and its own requests need no thread: it can deliver in process.
        return child.pid !== undefined ? "started" : "failed";
      } catch {
        return "failed";
      }
    },
    exit: (code) => proc.exit(code),
    signalSelf,
    get files() {
      return access().files;
    },
    // Node.js and Bun say so from the first "exit" listener on, the program's included.
    exiting: () => exited || (proc as { _exiting?: boolean })._exiting === true,
    onExit: (hooks) => exitHooks.add(hooks),
    onInterrupt: (callback) => interruptHooks.add(callback),
  };
}

/** The part of `node:os` we use. */
interface NodeOs {
  /** The account of the effective user (its passwd entry); throws where there is none. */
  userInfo(): { gid: number };
}

/** node:fs, and the guarded file access over it; neither where the runtime has no node:fs. */
interface FileAccess {
  readonly fs: NodeFs | undefined;
  readonly files: HostFiles | undefined;
}

/** Loads node:fs and guards the access to it. */
function openFileAccess(proc: NodeProcess): FileAccess {
  let fs: NodeFs | undefined;
  try {
    fs = proc.getBuiltinModule?.("node:fs") as NodeFs | undefined;
  } catch {
    fs = undefined;
  }
  // The user's own group is the primary one of their account, not the one the program runs with (`newgrp devs`, a
  // setgid launcher): read only where a group may write a file or a directory above the spool.
  let primaryGroup: { gid: number | undefined } | undefined;
  const user = {
    uid: proc.getuid?.(),
    get gid(): number | undefined {
      primaryGroup ??= { gid: accountGroup() };
      return primaryGroup.gid;
    },
  };
  const raw: RawFiles | undefined = fs && nodeFiles(fs, user, proc.platform === "win32", proc.permission);
  // Node.js reads the account (getpwuid; without one, a container's arbitrary uid, the group it runs with). Bun's
  // userInfo() gives the group it runs with: the account is read from /etc/passwd (root's, that only root may write),
  // and without an entry there (an account in LDAP, say) no group is taken for the user's.
  const accountGroup = (): number | undefined =>
    proc.versions.bun
      ? passwdGroup(quietly(() => raw?.read(PASSWD_FILE, MAX_PASSWD_BYTES, writtenByRootAlone)), user.uid)
      : quietly(() => (proc.getBuiltinModule?.("node:os") as NodeOs | undefined)?.userInfo().gid) ?? proc.getgid?.();
  return { fs, files: raw && guardedFiles(raw) };
}

const PASSWD_FILE = "/etc/passwd";
const MAX_PASSWD_BYTES = 16 * 1024 * 1024;

/** `node:worker_threads`' environment data, loaded at its first use (a relative consent file's). */
function workerThreads(proc: NodeProcess): {
  getEnvironmentData?(key: string): unknown;
  setEnvironmentData?(key: string, value: unknown): void;
} | undefined {
  return proc.getBuiltinModule?.("node:worker_threads") as ReturnType<typeof workerThreads>;
}

/** Refuses a file that is not a regular file of root's that only root may write. */
function writtenByRootAlone(facts: FileFacts): void {
  if (facts.kind !== "file" || facts.uid !== 0 || ((facts.mode ?? 0) & 0o022) !== 0) {
    throw new Error(`${PASSWD_FILE} is not root's alone`);
  }
}

/**
 * The primary group of a user's entry in the passwd file's text (`name:password:uid:gid:...`).
 *
 * @param text The file's text; `undefined` when it could not be read.
 * @param uid The user's id.
 * @returns The group id, or `undefined` where there is no such entry.
 */
function passwdGroup(text: string | undefined, uid: number | undefined): number | undefined {
  if (text === undefined || uid === undefined) return undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue; // a comment, as glibc reads it
    const [, , id, gid] = line.split(":");
    if (/^\d+$/.test(id ?? "") && Number(id) === uid && /^\d+$/.test(gid ?? "")) return Number(gid);
  }
  return undefined;
}

/**
 * Node.js's flags that decide which certificates and TLS versions a request trusts (`--use-openssl-ca`, say,
 * with `SSL_CERT_FILE`): a sender must trust what the program trusts, or it fails where the program succeeds, or
 * trusts what the program refuses. Each takes no value (and `--no-` turns it off) but the last two.
 */
const TRUST_SWITCH =
  /^(use-openssl-ca|use-bundled-ca|use-system-ca|openssl-legacy-provider|openssl-shared-config|enable-fips|force-fips|tls-min-v1\.[0-3]|tls-max-v1\.[23])$/;
const TRUST_VALUE = /^(openssl-config|tls-cipher-list)$/;

/**
 * The program's trust flags as Node.js reads them, from `NODE_OPTIONS` then its command line (which wins), for its
 * sender (nothing else of them): each flag's last word, a value given as the next argument, `_` for `-`, `--no-`.
 * (Those of a configuration file, `--experimental-config-file`, are not read: the sender goes without them.)
 */
function trustFlags(proc: NodeProcess): string[] {
  const args = [...nodeOptionsArgs(proc.env.NODE_OPTIONS ?? ""), ...(proc.execArgv ?? [])];
  const settings = new Map<string, string | boolean>();
  for (let i = 0; i < args.length; i++) {
    const [, no, spelled, value] = /^--(no[-_])?([^=]+)(?:=([^]*))?$/.exec(args[i]) ?? [];
    const name = spelled?.replaceAll("_", "-");
    if (name === undefined) continue;
    // A switch given a value is set all the same (`--use-system-ca=false` is on), as Node.js reads it.
    if (TRUST_SWITCH.test(name)) settings.set(name, !no);
    else if (TRUST_VALUE.test(name) && !no) settings.set(name, value ?? args[++i] ?? "");
  }
  // A switch turned off is passed off (`--no-use-system-ca`): the sender's environment may turn it on
  // (NODE_USE_SYSTEM_CA), and the program's flag is what overrode that.
  return [...settings].map(([name, value]) =>
    value === true ? `--${name}` : value === false ? `--no-${name}` : `--${name}=${value}`
  );
}

/**
 * `NODE_OPTIONS` split as Node.js splits it: at spaces, but within double quotes, where a backslash escapes the
 * next character (`--tls-cipher-list="A:B"` is `--tls-cipher-list=A:B`).
 */
function nodeOptionsArgs(text: string): string[] {
  const args: string[] = [];
  let quoted = false;
  let next = true;
  for (let i = 0; i < text.length; i++) {
    let char = text[i];
    if (char === "\\" && quoted) char = text[++i] ?? "";
    else if (char === " " && !quoted) {
      next = true;
      continue;
    } else if (char === '"') {
      quoted = !quoted;
      continue;
    }
    if (next) args.push("");
    next = false;
    args[args.length - 1] += char;
  }
  return args;
}

/** A `--allow-fs-read` or `--allow-fs-write` flag, with its path (`=path`) or without (the next argument). */
const FS_GRANT = /^--allow-fs-(?:read|write)(?:=([^]*))?$/;
/** A permission flag, in any spelling Node.js takes (`_` for `-`). */
const PERMISSION_FLAG = /--(?:experimental[-_])?permission|--allow[-_]/;
/** A Node.js configuration file, which may grant permissions (`"nodeOptions": { "allow-fs-read": [...] }`). */
const CONFIG_FILE_FLAG = /^--experimental[-_](?:default[-_])?config[-_]file/;

/**
 * Whether the sender would run under the program's permissions as they are: Node.js passes the permission flags of
 * the command line (not those of `NODE_OPTIONS` or a configuration file, nor those spelled with `_`) on to every
 * Node.js process it starts,
 * in `NODE_OPTIONS`, unquoted, whatever environment it is given. There a path with a space splits, a quote or
 * backslash is read as one, a path in the next argument loses it (`--allow-fs-read requires an argument`), and a
 * relative one is read from the sender's own directory.
 *
 * @param execArgv The program's Node.js flags.
 * @param nodeOptions The program's `NODE_OPTIONS`.
 * @param os The platform.
 * @returns `false` when the sender would run without them or with other ones.
 * @example
 * ```ts ignore
 * permissionCarriesOver(["--permission", "--allow-fs-write=/home/ada/*"], undefined, "linux"); // true
 * permissionCarriesOver(["--permission", "--allow-fs-write=./state/*"], undefined, "linux"); // false
 * ```
 */
function permissionCarriesOver(execArgv: readonly string[], nodeOptions: string | undefined, os: string): boolean {
  if (nodeOptions !== undefined && PERMISSION_FLAG.test(nodeOptions)) return false;
  if (!execArgv.some((flag) => flag === "--permission" || flag === "--experimental-permission")) return false;
  return execArgv.every((flag) => {
    if (PERMISSION_FLAG.test(flag) && /^[^=]*_/.test(flag)) return false;
    if (CONFIG_FILE_FLAG.test(flag)) return false; // its grants are not passed on either
    const match = FS_GRANT.exec(flag);
    if (!match) return true;
    const path = match[1];
    return path === "*" || (path !== undefined && !/[\s"'\\]/.test(path) && isAbsolutePath(path, os));
  });
}

/** Why this Node.js or Bun process cannot start a sender that outlives it, or `undefined` when it can. */
function senderRefusal(proc: NodeProcess, files: HostFiles | undefined, fs: NodeFs | undefined): string | undefined {
  const load = proc.getBuiltinModule;
  if (!load) return "this runtime cannot start processes";
  if (proc.versions.electron) return "an Electron app: its executable runs only the app";
  if (proc.pkg !== undefined) return "a program packaged by pkg: its executable runs only the program";
  if (quietly(() => (load("node:sea") as { isSea?(): boolean } | undefined)?.isSea?.())) {
    return "a Node.js single executable application: its executable runs only the program";
  }
  if (quietly(() => proc.permission?.has("child")) === false) {
    return "Node.js runs with --permission and without --allow-child-process";
  }
  if (proc.permission && !permissionCarriesOver(proc.execArgv ?? [], proc.env.NODE_OPTIONS, proc.platform)) {
    return "Node.js runs with --permission flags its sender would not get as they are (given in NODE_OPTIONS or " +
      "a configuration file, or spelled with _, which Node.js does not pass on, or granting a path Node.js passes on unquoted that the " +
      "sender, started in the spool, would read otherwise: relative, or with a space, quote or backslash)";
  }
  return survivalProblem({
    pid: proc.pid,
    ppid: proc.ppid,
    os: proc.platform,
    env: (name) => proc.env[name],
    read: (path) => quietly(() => files?.read(path, 65_536)),
    pidNamespace: proc.platform === "linux" ? quietly(() => fs?.readlinkSync("/proc/self/ns/pid")) : undefined,
  });
}

/**
 * The runtime's own fetch (Bun's), sent the way the library reads the proxy variables (`proxyRoute`), as the
 * Node.js client is and as `status` tells: through the proxy it names, given to Bun's fetch as an option, or
 * directly (`proxy: false`), never by Bun's own reading of the variables, which ignores an `ALL_PROXY` it cannot
 * speak (a socks5 one: it went directly, past the proxy) and fails to resolve a value with blanks around it or
 * credentials without a scheme. A proxy the library cannot use is a request not built (no connection was made,
 * so not the endpoint's failure), and so is any proxy where the global fetch is not Bun's (Node.js before 22.3,
 * without `process.getBuiltinModule`: its fetch ignores proxies).
 *
 * @param fetchAtLoad Bun's own fetch (`Bun.fetch`), else the global one at each request.
 * @param env Reads an environment variable, at request time.
 * @param isBun Whether the global fetch is Bun's, which takes a `proxy` option.
 */
function runtimeFetch(fetchAtLoad: Fetch | undefined, env: ReadEnvironment, isBun: boolean): Fetch {
  const fetch = fetchAtLoad ?? ((url, init) => globalThis.fetch(url, init));
  return async (url, init) => {
    const route = proxyRoute(new URL(url), env);
    if (route.kind === "unusable") throw new RequestNotBuilt(route.reason);
    if (route.kind === "proxy" && !isBun) throw new RequestNotBuilt("this runtime's fetch cannot use a proxy");
    try {
      // Not `verbose`: Bun's BUN_CONFIG_VERBOSE_FETCH, the user's switch for their program's requests, would print
      // the package's on the program's standard error, with the body and its headers.
      const proxy = route.kind === "proxy" ? bunProxy(route.proxy) : false;
      return await fetch(url, { ...init, proxy, verbose: false } as typeof init);
    } catch (error) {
      const code = quietly(() => (error as { code?: unknown } | null)?.code);
      throw code === "UnsupportedProxyProtocol"
        ? new RequestNotBuilt("the proxy setting's scheme is not supported")
        : error;
    }
  };
}

/**
 * A proxy as Bun's fetch takes it: its URL without credentials, which go as the `Proxy-Authorization` header, and
 * `NO_PROXY` not applied again (the route has applied it).
 */
function bunProxy({ protocol, hostname, port, authorization }: ProxyServer) {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const headers: Record<string, string> = authorization === undefined ? {} : { "Proxy-Authorization": authorization };
  return { url: `${protocol}//${host}:${port}`, headers, respectNoProxy: false };
}

/**
 * Writes to standard output or error through its stream, which keeps the order of the program's own writes and
 * waits for a slow reader. Into a pipe whose reader has gone the stream emits an EPIPE `error` event, which, with
 * nothing listening, ends the program: a listener of ours is there while our text is written, and only then (the
 * program's own writes fail as they would without us). Never throws.
 */
function writeQuietly(stream: NodeWritable, text: string): void {
  // One listener while any of our writes is pending (one per write would trip Node's leak warning, on stderr).
  const pending = writesPending.get(stream) ?? 0;
  if (pending === 0) stream.on("error", ignoreError);
  writesPending.set(stream, pending + 1);
  const release = () => {
    const left = (writesPending.get(stream) ?? 1) - 1;
    writesPending.set(stream, left);
    if (left === 0) stream.removeListener("error", ignoreError);
  };
  // Removed a turn after the last write settles: a stream emits a write's error after calling its callback. Where the
  // program's setTimeout throws, never (as where its timers never fire): removed at once, the listener missed the error
  // of a write into a closed pipe, which then ended the program.
  const settled = () => {
    try {
      setTimeout(release, 0);
    } catch {
      // The listener stays.
    }
  };
  try {
    stream.write(text, settled);
  } catch {
    settled();
  }
}

/** Our writes not yet settled, by stream. */
const writesPending = new WeakMap<NodeWritable, number>();

/** What listens to a stream's errors while our writes are pending. */
function ignoreError(): void {}

/**
 * Adds each listener to the process, or none: where the program's `process.on` refuses one (it throws), those added
 * before it are removed, so that no signal is left caught by a listener with no one behind it.
 *
 * @returns A function that removes them.
 */
function listenAll(proc: NodeProcess, listeners: readonly (readonly [string, (code: number) => void])[]): () => void {
  const added: (readonly [string, (code: number) => void])[] = [];
  const remove = () => {
    for (const [event, listener] of added) proc.removeListener(event, listener);
  };
  try {
    for (const entry of listeners) {
      proc.on(entry[0], entry[1]);
      added.push(entry);
    }
  } catch (error) {
    remove();
    throw error;
  }
  return remove;
}
