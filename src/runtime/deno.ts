/**
 * The {@link Host} for Deno. It asks `Deno.permissions.querySync` before any
 * access that needs a permission, so it never causes a permission prompt.
 *
 * @module
 */
import {
  type ExitHooks,
  type Fetch,
  hiddenBecause,
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
import { denoFiles, type DenoFs, LIMITS_FILE } from "./deno_files.ts";
import { guardedFiles } from "./guarded_files.ts";
import { denoGoesAround, denoSendsProxyCredentials } from "./deno_proxy.ts";
import { runtimeInfo } from "./info.ts";
import { isForegroundJob, type ProgramInput, programReadsInput } from "./job_control.ts";
import { callEach, Subscribers } from "./subscribers.ts";
import { absolutePath, PROXY_VARIABLES, senderEnvironment } from "./clean_environment.ts";
import { survivalProblem } from "./survival.ts";
import { markStandingAside, standsAside } from "./standing_aside.ts";

type Descriptor =
  | { name: "env"; variable: string }
  | { name: "read" | "write"; path: string }
  | { name: "net"; host?: string }
  | { name: "run"; command?: string }
  | { name: "sys"; kind: "uid" | "gid" };

/** The part of the `Deno` namespace we use. */
export interface DenoNamespace extends DenoFs {
  /** `standalone` is `true` in a `deno compile` executable. */
  build: { os: string; standalone?: boolean };
  uid(): number | null;
  gid(): number | null;
  execPath(): string;
  Command: new (command: string, options: {
    args: string[];
    env: Readonly<Record<string, string>>;
    clearEnv: boolean;
    cwd: string;
    stdin: "null";
    stdout: "null";
    stderr: "null";
    detached: boolean;
  }) => { spawn(): { unref(): void } };
  pid: number;
  ppid: number;
  readLinkSync(path: string): string;
  cwd(): string;
  permissions: { querySync?(descriptor: Descriptor): { state: string; partial?: boolean } };
  env: { get(name: string): string | undefined };
  stdin: {
    isTerminal(): boolean;
    setRaw(raw: boolean): void;
    read(buffer: Uint8Array): Promise<number | null>;
    readonly readable: { readonly locked: boolean };
  };
  stdout: { isTerminal(): boolean; writeSync(bytes: Uint8Array): number };
  args: string[];
  exitCode: number;
  serve(
    options: { hostname: string; port: number; onListen(): void },
    handler: (request: Request) => Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  stderr: { writeSync(bytes: Uint8Array): number; isTerminal(): boolean };
  unrefTimer(id: number): void;
  addSignalListener(signal: InterruptSignal, handler: () => void): void;
  removeSignalListener(signal: InterruptSignal, handler: () => void): void;
  kill(pid: number, signal: InterruptSignal): void;
  exit(code: number): never;
}

/**
 * Builds the Deno host.
 *
 * @param deno The `Deno` namespace.
 * @param fetchAtLoad Deno's fetch as it was when the package loaded, for deliveries.
 * @returns A host that degrades quietly when a permission is missing.
 * @example
 * ```ts ignore
 * import { denoHost } from "./deno.ts";
 * const host = denoHost(Deno);
 * host.env("HOME");
 * ```
 */
export function denoHost(deno: DenoNamespace, fetchAtLoad?: Fetch): Host {
  const permission = (descriptor: Descriptor): string | undefined => {
    try {
      return deno.permissions.querySync?.(descriptor).state;
    } catch {
      return undefined;
    }
  };
  const granted = (descriptor: Descriptor): boolean => permission(descriptor) === "granted";
  /** Whether the program may reach every host: `net` granted, and no host denied (`--deny-net` makes it `partial`). */
  const everyHost = () => {
    const status = quietly(() => deno.permissions.querySync?.({ name: "net" }));
    return status?.state === "granted" && status.partial !== true;
  };
  const allowed = (path: string, access: "read" | "write") => granted({ name: access, path });
  // Deno.uid() needs --allow-sys=uid; without it, owners are not compared (modes and kinds still are). Deno.gid()
  // needs --allow-sys=gid; without it, a directory above the spool that its group may write is not judged.
  const id = (kind: "uid" | "gid") =>
    granted({ name: "sys", kind }) ? quietly(() => deno[kind]()) ?? undefined : undefined;
  const files: HostFiles = guardedFiles(denoFiles(deno, { uid: id("uid"), gid: id("gid") }, allowed));
  const write = (stream: { writeSync(bytes: Uint8Array): number }, text: string) => {
    try {
      let bytes = new TextEncoder().encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
    } catch {
      // A closed stream must not break the host program.
    }
  };
  const watch = deno === loadedDeno && signalWatch ? signalWatch : watchSignals(deno);
  // Signalling ourselves needs --allow-run (queried, never prompted for); Windows has no signals to send.
  const signalSelf = (signal: InterruptSignal) =>
    deno.build.os !== "windows" && granted({ name: "run" }) &&
    quietly(() => (deno.kill(deno.pid, signal), true)) === true;
  /**
   * Ends the program of the signal, as it would have ended without a listener of ours (removed before this); where
   * it cannot signal itself, or the signal does not end it, with the status a shell reports for the signal.
   */
  const endOf = (signal: InterruptSignal) => {
    if (!signalSelf(signal)) deno.exit(SIGNAL_EXIT_STATUS[signal]);
    setTimeout(() => deno.exit(SIGNAL_EXIT_STATUS[signal]), 100);
  };
  /** `node:process`'s standard input, which a program may use under Deno too (readline). */
  const nodeStdin = () => (globalThis as { process?: { stdin?: ProgramInput & { isRaw?: boolean } } }).process?.stdin;
  /**
   * Whether the program reads its standard input itself (a stream reader of `Deno.stdin.readable`, or readline on
   * `node:process`'s stdin, a shell of its own): a question would take its keys.
   */
  const programReadsStdin = () => quietly(() => deno.stdin.readable.locked || programReadsInput(nodeStdin())) !== false;
  const exitHooks = new Subscribers<ExitHooks>((members) => {
    // Deno unloads right after "beforeunload" unless the event is cancelled, even with work pending.
    const beforeExit = (event: Event) => {
      if (callEach(members, (hooks) => hooks.beforeExit())) event.preventDefault();
    };
    // Called by the package's own listener of "unload" (see `unloading`), the first it could add.
    const exit = () => void callEach(members, (hooks) => hooks.exit(deno.exitCode));
    // An uncaught error or rejection ends a Deno process without "unload"; we listen, and never preventDefault.
    // One that a listener of the program's added before ours cancelled ends nothing: the program goes on.
    // Not `unloading`: a listener of the program's added after ours may cancel it, and the program goes on.
    const failed = (event: Event) => void (event.defaultPrevented || callEach(members, (hooks) => hooks.exit(1)));
    const events: [string, (event: Event) => void][] = [
      ["beforeunload", beforeExit],
      ["error", failed],
      ["unhandledrejection", failed],
    ];
    for (const [type, listener] of events) globalThis.addEventListener(type, listener);
    atUnload.add(exit);
    return () => {
      for (const [type, listener] of events) globalThis.removeEventListener(type, listener);
      atUnload.delete(exit);
    };
  });
  const interruptHooks: Subscribers<(signal: InterruptSignal) => void> = new Subscribers((members) => {
    // A program that may not signal itself (no --allow-run for every program) could only exit with 130 after ours:
    // a shell reads that as a program that handled Ctrl-C, and its loop goes on. No listener: the signal ends the
    // program as it would without us (what was pending is not spooled).
    if (deno.build.os !== "windows" && !granted({ name: "run" })) return () => {};
    // A signal its parent had ignored stays ignored in a Deno program for its first moments (Deno 2.9 undoes that
    // within about a second): no listener at all then, so that the signal does what it would without us at any
    // moment (Deno's first listener, for any signal, undoes every ignored one at once); an end either signal brings
    // is not recorded. Deno lets only a program with every permission read its status: without, it is not known.
    const status = deno.build.os === "linux" && granted({ name: "read", path: PROCESS_STATUS_FILE })
      ? quietly(() => files.read(PROCESS_STATUS_FILE, 65_536))
      : undefined;
    const listens = ignoredInterrupts(status).length === 0;
    const listeners = (listens ? INTERRUPT_SIGNALS : []).map((signal) => {
      const listener = markStandingAside(() => {
        // The program listens for this signal too: it decides what happens, as it would without us.
        if (watch.programListens(signal)) return;
        callEach(members, (callback) => callback(signal));
        interruptHooks.clear();
        endOf(signal);
      });
      quietly(() => watch.add(signal, listener));
      return [signal, listener] as const;
    });
    return () => {
      for (const [signal, listener] of listeners) quietly(() => watch.remove(signal, listener));
    };
  });
  /** Whether Deno refuses to read a variable the program may read: its value is not valid Unicode. */
  const refusesToRead = (name: string) => {
    try {
      deno.env.get(name);
      return false;
    } catch {
      return true;
    }
  };
  /** Whether a variable the program may read is set to what Deno refuses to read. Never a prompt: read if granted. */
  const notUnicode = (name: string) => granted({ name: "env", variable: name }) && refusesToRead(name);
  /**
   * Whether the program cannot know a variable's value: its permissions hide it, or Deno cannot read it (Node.js and
   * Bun read such bytes as U+FFFD). Either could hold an opt-out, another endpoint, a proxy: it is taken as such.
   */
  const envHidden = (name: string) => !granted({ name: "env", variable: name }) || refusesToRead(name);
  const readEnv = (name: string) => {
    try {
      return granted({ name: "env", variable: name }) ? deno.env.get(name) : undefined;
    } catch {
      return undefined;
    }
  };
  /** What starting a sender takes here, Deno's executable and the shell that closes descriptors, or why it cannot. */
  const senderStart = (
    grant: SenderGrant,
  ): { refused: string } | { executable: string; closer?: Closer; paths: string[]; cwd?: string | undefined } => {
    const refused = senderRefusal(deno, granted, files, readEnv);
    if (refused) return { refused };
    // The sender inherits only what the program may read; Deno's own requests honour these whatever it may read.
    const hidden = READ_BY_DENO_ITSELF.find(envHidden);
    if (hidden !== undefined) {
      const why = hiddenBecause(notUnicode(hidden), "--allow-env");
      return { refused: `the program may not read ${hidden} (${why}), which its requests honour: a sender would not` };
    }
    const executable = quietly(() => deno.execPath());
    if (!executable || !granted({ name: "run", command: executable })) {
      return { refused: "the program may not run Deno itself (--allow-run)" };
    }
    // The sender runs in the spool directory: relative paths (a consent file named from the project's) are the
    // program's. Deno before 2.2 asks read access to the working directory to tell it.
    const cwd = granted({ name: "read", path: "." }) ? quietly(() => deno.cwd()) : undefined;
    const paths = [grant.dir, ...grant.reads].map((path) => absolutePath(path, cwd));
    const comma = [...paths, executable].find((path) => path.includes(","));
    if (comma !== undefined) return { refused: `Deno's permission flags cannot name a path with a comma: ${comma}` };
    if (deno.build.os === "windows") return { executable, paths, cwd };
    const closer = CLOSERS.find(([shell, mayBeMissing]) =>
      granted({ name: "run", command: shell }) && (!mayBeMissing || files.sizeOf(shell) !== undefined)
    );
    // A Deno child inherits every descriptor the program inherited (a pipe the shell opened on 3, say), and
    // would hold it open; Deno cannot close them, a shell can: bash every one, a POSIX sh 3 to 9.
    if (!closer) return { refused: `Deno passes inherited descriptors on; closing them needs --allow-run=${SH}` };
    return { executable, closer, paths, cwd };
  };
  return {
    env: readEnv,
    envHidden,
    envNotUnicode: notUnicode,
    writeStderr: (text) => write(deno.stderr, text),
    writeStdout: (text) => write(deno.stdout, text),
    stdoutIsTerminal: () => quietly(() => deno.stdout.isTerminal()) ?? false,
    args: () => [...deno.args],
    setExitCode(code) {
      deno.exitCode = code;
    },
    exitCode: () => deno.exitCode || undefined,
    serve(hostname, port, handler, limits) {
      // Unanswered (silent) requests are answered 503 at close, so that shutdown does not wait for them forever.
      const silent = new Set<() => void>();
      let active = 0;
      const answerOf = async (request: Request): Promise<Response> => {
        if (Number(request.headers.get("content-length") ?? 0) > limits.maxBodyBytes) return tooLarge(request);
        // A body still coming at the deadline is answered; Deno keeps reading (and dropping) what the client sends.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<typeof LATE>((resolve) =>
          timer = setTimeout(() => resolve(LATE), limits.requestTimeoutMs)
        );
        // A client gone mid-body fails the read: answered (to no one), not left to Deno, which prints its stack.
        const read = readBody(request, limits.maxBodyBytes).catch((): typeof CUT => CUT);
        const body = await Promise.race([read, late]).finally(() => clearTimeout(timer));
        if (body === CUT) return refusal(400, "the request was cut short");
        if (body === LATE) return refusal(408, "the request did not arrive in time");
        if (body === undefined) return tooLarge(request);
        const url = new URL(request.url);
        let answer: ServedAnswer | undefined;
        try {
          answer = await handler({ method: request.method, path: url.pathname + url.search, body });
        } catch {
          return refusal(500, "internal");
        }
        if (answer) return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers ?? {} });
        await new Promise<void>((resolve) => silent.add(resolve));
        return new Response(null, { status: 503 });
      };
      const server = deno.serve({ hostname, port, onListen() {} }, async (request) => {
        if (active >= limits.maxConnections) {
          return new Response(null, { status: 503, headers: { connection: "close" } });
        }
        active++;
        try {
          return await answerOf(request);
        } finally {
          active--;
        }
      });
      return Promise.resolve({
        port: server.addr.port,
        async close() {
          for (const resolve of silent) resolve();
          await server.shutdown();
        },
      });
    },
    unrefTimer(timer) {
      try {
        // Deno 2 returns Node-style Timeout objects from setTimeout; older versions returned numbers.
        if (typeof timer === "number") deno.unrefTimer(timer);
        else (timer as { unref?: () => void } | undefined)?.unref?.();
      } catch {
        // Already fired or cleared.
      }
    },
    monotonicMs: () => performance.now(),
    canConnect(url) {
      try {
        return granted({ name: "net", host: netHost(url) });
      } catch {
        return false;
      }
    },
    sendsProxyCredentials(url) {
      // Deno's fetch reads the variables whatever the program may read: one it may not read could name a proxy.
      try {
        return PROXY_VARIABLES.some(envHidden) ||
          denoSendsProxyCredentials(new URL(url), readEnv);
      } catch {
        return true;
      }
    },
    // Deno's fetch skips a proxy setting it cannot read (not valid Unicode) or parse: it would go around the proxy
    // named there.
    async fetch(url, init) {
      const around = denoGoesAround(new URL(url), readEnv, notUnicode);
      if (around !== undefined) throw new RequestNotBuilt(around);
      return await (fetchAtLoad ?? globalThis.fetch)(url, init);
    },
    senderRefusal(grant) {
      const start = senderStart(grant);
      return "refused" in start ? start.refused : undefined;
    },
    senderCommand(script, grant) {
      const start = senderStart(grant);
      if ("refused" in start) return start;
      const { executable, closer, paths, cwd } = start;
      // A session of its own from setsid(1) where there is one, rather than from Deno's `detached`, which forks the
      // whole program to call setsid() in the child before exec: the program paid for that fork at its exit, in
      // copy-on-write faults as it touched its heap (2-8 ms of a run). setsid(1) runs first, so the sender leaves
      // the program's process group as soon as setsid(1) has started (about a millisecond).
      const setsid = closer && systemSetsid(deno, permission);
      // What the sender runs: its successor, when its life ends with work left (the same command as its own).
      const run = closer ? [...(setsid ? [setsid] : []), closer[0], executable] : [executable];
      // Where the program may reach every host, so may the sender (a redirect the program would follow).
      const net = everyHost() ? "--allow-net" : `--allow-net=${netHost(grant.endpoint)}`;
      const argv = [executable, "run", "--quiet", "--no-prompt", "--no-config", "--no-lock", "--no-npm", "--no-remote"];
      // No compiled code of the script in the user's cache (DENO_DIR), outside the spool: 1-7 ms more of a sender.
      argv.push("--no-code-cache");
      argv.push("--allow-sys=uid,gid", `--allow-env=${grant.variables.join(",")}`, net, `--allow-run=${run.join(",")}`);
      // What it runs it may look at too: its successor starts only where they are still the files it started from.
      // And its own limits: a write past its file size limit, which it inherits, would end it (see deno_files.ts).
      const limits = deno.build.os === "linux" ? [LIMITS_FILE] : [];
      argv.push(`--allow-read=${[...paths, ...run, ...limits].join(",")}`, `--allow-write=${grant.dir}`, script);
      const switches = { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PACKAGE_JSON: "1" };
      const env = senderEnvironment(readEnv, { ...grant.set, ...switches }, cwd);
      if (!closer) return { argv, env, cwd: grant.dir };
      const shell = [closer[0], "-c", closer[2], "nat-telemetry-sender", ...argv];
      if (!setsid) return { argv: shell, env, cwd: grant.dir };
      return { argv: [setsid, ...shell], env, cwd: grant.dir, leavesSession: true };
    },
    spawnDetached(command) {
      try {
        const [executable, ...args] = command.argv;
        const detached = command.leavesSession !== true;
        const options = { stdin: "null", stdout: "null", stderr: "null", detached, clearEnv: true } as const;
        new deno.Command(executable, { args, env: command.env, cwd: command.cwd, ...options }).spawn().unref();
        return "started";
      } catch {
        return "failed";
      }
    },
    exit: (code) => deno.exit(code),
    signalSelf,
    terminal() {
      try {
        if (!deno.stdin.isTerminal() || !deno.stdout.isTerminal() || !deno.stderr.isTerminal()) return undefined;
      } catch {
        return undefined;
      }
      if (programReadsStdin()) return undefined;
      if (!isForegroundJob(files, runtimeInfo().os)) return undefined;
      return {
        async readRaw(onInput) {
          // Deno cannot tell a raw mode set with `Deno.stdin.setRaw`: one set through `node:process` is given back.
          const wasRaw = quietly(() => nodeStdin()?.isRaw) === true;
          deno.stdin.setRaw(true);
          // A signal during the question (a `kill`, an IDE's stop button) ends the program, and Deno would leave
          // the terminal raw, without echo: it is given back first, then the signal ends the program as it would.
          const stopListening = () => {
            for (const [signal, listener] of listeners) quietly(() => watch.remove(signal, listener));
          };
          const listeners = INTERRUPT_SIGNALS.map((signal) => {
            const listener = () => {
              quietly(() => deno.stdin.setRaw(false));
              if (watch.programListens(signal)) return;
              stopListening();
              endOf(signal);
            };
            quietly(() => watch.add(signal, listener));
            return [signal, listener] as const;
          });
          try {
            const buffer = new Uint8Array(64);
            for (;;) {
              const n = await deno.stdin.read(buffer);
              // In raw mode Ctrl-D is a key: input ends only where the terminal went away.
              if (n === null) throw new Error("the terminal went away");
              // Keys typed after the answer are lost: Deno cannot put them back for the program.
              if (onInput(buffer.slice(0, n)) !== undefined) return;
            }
          } finally {
            deno.stdin.setRaw(wasRaw);
            stopListening();
          }
        },
      };
    },
    files,
    exiting: () => unloading,
    onExit: (hooks) => exitHooks.add(hooks),
    onInterrupt: (callback) => interruptHooks.add(callback),
  };
}

/** Where a Linux process finds its PID namespace. */
const PID_NAMESPACE = "/proc/self/ns/pid";

/**
 * An endpoint's host and port as Deno's net permission names them, the port always written: a URL leaves out
 * its scheme's default port, and `--allow-net=host:443` grants `host:443`, not `host`.
 */
function netHost(url: string): string {
  const { hostname, port, protocol } = new URL(url);
  return `${hostname}:${port || (protocol === "https:" ? 443 : 80)}`;
}

/** Where util-linux puts `setsid`, which runs a command in a session of its own; macOS has none. */
const SETSID = ["/usr/bin/setsid", "/bin/setsid"];

/**
 * The system's setsid(1), to start the sender through: the first of {@link SETSID} that is a non-empty regular
 * file of root's that no one else may write (not a link: busybox's is one), which the program may read and run;
 * none where the program is denied reading or running either path (`--deny-read`, `--deny-run`).
 */
function systemSetsid(deno: DenoNamespace, permission: (descriptor: Descriptor) => string | undefined) {
  const states = SETSID.map((path) => [permission({ name: "read", path }), permission({ name: "run", command: path })]);
  if (states.flat().includes("denied")) return undefined;
  return SETSID.find((path, i) => {
    if (states[i].some((state) => state !== "granted")) return false;
    const info = quietly(() => deno.lstatSync(path));
    return info?.isFile === true && info.size > 0 && info.uid === 0 && info.mode !== null && (info.mode & 0o022) === 0;
  });
}

/** The POSIX shell, always there (as a link, often). */
const SH = "/bin/sh";

/** A shell that can start a Deno sender: its path, whether it may be missing, and its script that closes descriptors. */
type Closer = readonly [string, boolean, string];

/**
 * The shells that can start a Deno sender, best first, each with whether it may be missing and what closes
 * the descriptors it inherited before it runs the sender: bash closes every one it finds in /dev/fd (it takes
 * any number; `exec {fd}>file` in a user's script opens 10 and up); a POSIX sh can name only 3 to 9.
 */
const CLOSERS: readonly Closer[] = [
  [
    "/bin/bash",
    true,
    'for f in /dev/fd/*; do n=${f##*/}; case $n in 0|1|2) ;; *) eval "exec $n>&-";; esac; done 2>/dev/null; exec "$@"',
  ],
  [SH, false, 'exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; exec "$@"'],
];

/**
 * The proxy and certificate settings Deno's own requests honour whatever `--allow-env` grants. A sender inherits
 * only the variables the program may read: with one of these hidden, it would reach the endpoint otherwise than the
 * program does (around its proxy, or without its CA), so the exit delivers in process instead.
 */
const READ_BY_DENO_ITSELF: readonly string[] = [
  ...PROXY_VARIABLES,
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
];

/** Why this Deno process cannot start a sender that outlives it, or `undefined` when it can. */
function senderRefusal(
  deno: DenoNamespace,
  granted: (descriptor: Descriptor) => boolean,
  files: HostFiles,
  env: (name: string) => string | undefined,
): string | undefined {
  if (deno.build.standalone) return "a deno compile executable: it runs only its program";
  return survivalProblem({
    pid: deno.pid,
    ppid: quietly(() => deno.ppid),
    os: runtimeInfo().os,
    env,
    read: (path) => granted({ name: "read", path }) ? quietly(() => files.read(path, 65_536)) : undefined,
    pidNamespace: runtimeInfo().os === "linux" && granted({ name: "read", path: PID_NAMESPACE })
      ? quietly(() => deno.readLinkSync(PID_NAMESPACE))
      : undefined,
  });
}

/** Answers 413 and closes the connection, leaving the rest of the body unread. */
function tooLarge(request: Request): Response {
  request.body?.cancel().catch(() => {});
  return refusal(413, "the body is too large");
}

/** An answer refusing a request, its connection closed. */
function refusal(status: number, error: string): Response {
  return new Response(JSON.stringify({ error }), {
    status,
    headers: { "content-type": "application/json", connection: "close" },
  });
}

/** What a request body that has not all come in time is read as. */
const LATE = Symbol("late");
/** What a request body whose connection failed mid-way is read as. */
const CUT = Symbol("cut");

/** Reads a request body as text, or `undefined` as soon as it passes `maxBytes`. */
async function readBody(request: Request, maxBytes: number): Promise<string | undefined> {
  if (!request.body) return "";
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for await (const chunk of request.body) {
    bytes += chunk.length;
    if (bytes > maxBytes) return undefined;
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

/**
 * Deno has no way to ask whether the program listens for a signal, so the
 * two functions that add and remove signal listeners are wrapped, once, when
 * this module loads (before the program's own code runs): the wrappers call
 * the originals unchanged and count the program's listeners. The package's
 * own listeners go through the originals and are not counted, nor are another
 * copy's of the package, which stand aside as ours do.
 */
interface SignalWatch {
  /** Whether the program listens for the signal itself. */
  programListens(signal: InterruptSignal): boolean;
  /** Adds one of our listeners, uncounted. */
  add(signal: InterruptSignal, listener: () => void): void;
  /** Removes one of our listeners. */
  remove(signal: InterruptSignal, listener: () => void): void;
}

function watchSignals(deno: DenoNamespace): SignalWatch {
  const add = deno.addSignalListener.bind(deno);
  const remove = deno.removeSignalListener.bind(deno);
  const program = new Map<string, Set<unknown>>();
  try {
    deno.addSignalListener = (signal, listener) => {
      add(signal, listener);
      // Another copy of the package's listener (a dependency's own copy): it stands aside, as ours does.
      if (!standsAside(listener)) program.set(signal, (program.get(signal) ?? new Set()).add(listener));
    };
    deno.removeSignalListener = (signal, listener) => {
      remove(signal, listener);
      program.get(signal)?.delete(listener);
    };
  } catch {
    // A frozen namespace: the program's listeners cannot be seen, and are taken to be there (we never kill).
    return { programListens: () => true, add, remove };
  }
  return { programListens: (signal) => (program.get(signal)?.size ?? 0) > 0, add, remove };
}

// deno-lint-ignore no-explicit-any
const loadedDeno = (globalThis as any).Deno as DenoNamespace | undefined;

/**
 * Whether the process is ending: "unload" has been dispatched (a natural end, `Deno.exit()`). One listener, added
 * when this module loads, tells it and then runs the hosts' exit hooks (`atUnload`), those added meanwhile included:
 * an event the program records in a listener of "unload" of its own goes with them, whether that listener came
 * before this one (a module imported before the package) or after (then the event is spooled or handed off at once,
 * as one recorded in `node:process`'s "exit" listeners, which Deno calls after "unload"; `process.exit()` calls them
 * before). Not read from `node:process`'s `_exiting`: the first read of `globalThis.process` loads Deno's Node.js
 * layer, 11-20 ms and 7 MB that a program of Deno's own APIs would pay.
 */
let unloading = false;
const atUnload = new Set<() => void>();
if (loadedDeno) {
  globalThis.addEventListener("unload", () => {
    unloading = true;
    for (const exit of atUnload) exit(); // a Set's loop reaches what is added to it meanwhile
  });
}
const signalWatch: SignalWatch | undefined = typeof loadedDeno?.addSignalListener === "function"
  ? watchSignals(loadedDeno)
  : undefined;
