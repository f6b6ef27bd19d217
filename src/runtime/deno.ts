/**
 * The {@link Host} for Deno. It asks `Deno.permissions.querySync` before any
 * access that needs a permission, so it never causes a permission prompt.
 *
 * @module
 */
import {
  type ExitHooks,
  type Host,
  type HostFiles,
  INTERRUPT_SIGNALS,
  type InterruptSignal,
  quietly,
  SIGNAL_EXIT_STATUS,
} from "./host.ts";
import { denoFiles, type DenoFs } from "./deno_files.ts";
import { guardedFiles } from "./guarded_files.ts";
import { runtimeInfo } from "./info.ts";
import { isForegroundJob } from "./job_control.ts";
import { callEach, Subscribers } from "./subscribers.ts";

type Descriptor =
  | { name: "env"; variable: string }
  | { name: "read" | "write"; path: string }
  | { name: "net"; host: string }
  | { name: "run"; command?: string }
  | { name: "sys"; kind: "uid" };

/** The part of the `Deno` namespace we use. */
export interface DenoNamespace extends DenoFs {
  uid(): number | null;
  execPath(): string;
  Command: new (command: string, options: {
    args: string[];
    env: Record<string, string>;
    stdin: "null";
    stdout: "null";
    stderr: "null";
    detached: boolean;
  }) => { spawn(): { unref(): void } };
  pid: number;
  permissions: { querySync?(descriptor: Descriptor): { state: string } };
  env: { get(name: string): string | undefined };
  stdin: { isTerminal(): boolean; setRaw(raw: boolean): void; read(buffer: Uint8Array): Promise<number | null> };
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
 * @returns A host that degrades quietly when a permission is missing.
 * @example
 * ```ts ignore
 * import { denoHost } from "./deno.ts";
 * const host = denoHost(Deno);
 * host.env("HOME");
 * ```
 */
export function denoHost(deno: DenoNamespace): Host {
  const encoder = new TextEncoder();
  const granted = (descriptor: Descriptor): boolean => {
    try {
      return deno.permissions.querySync?.(descriptor).state === "granted";
    } catch {
      return false;
    }
  };
  const allowed = (path: string, access: "read" | "write") => granted({ name: access, path });
  // Deno.uid() needs --allow-sys=uid; without it, owners are not compared (modes and kinds still are).
  const uid = granted({ name: "sys", kind: "uid" }) ? quietly(() => deno.uid()) ?? undefined : undefined;
  const files: HostFiles = guardedFiles(denoFiles(deno, uid, allowed));
  const write = (stream: { writeSync(bytes: Uint8Array): number }, text: string) => {
    try {
      let bytes = encoder.encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
    } catch {
      // A closed stream must not break the host program.
    }
  };
  const watch = deno === loadedDeno && signalWatch ? signalWatch : watchSignals(deno);
  const exitHooks = new Subscribers<ExitHooks>((members) => {
    // Deno unloads right after "beforeunload" unless the event is cancelled, even with work pending.
    const beforeExit = (event: Event) => {
      if (callEach(members, (hooks) => hooks.beforeExit())) event.preventDefault();
    };
    const exit = () => void callEach(members, (hooks) => hooks.exit(deno.exitCode));
    const failed = () => void callEach(members, (hooks) => hooks.exit(1));
    // An uncaught error or rejection ends a Deno process without "unload"; we listen, and never preventDefault.
    const events: [string, (event: Event) => void][] = [
      ["beforeunload", beforeExit],
      ["unload", exit],
      ["error", failed],
      ["unhandledrejection", failed],
    ];
    for (const [type, listener] of events) globalThis.addEventListener(type, listener);
    return () => {
      for (const [type, listener] of events) globalThis.removeEventListener(type, listener);
    };
  });
  const interruptHooks: Subscribers<(signal: InterruptSignal) => void> = new Subscribers((members) => {
    const listeners = INTERRUPT_SIGNALS.map((signal) => {
      const listener = () => {
        // The program listens for this signal too: it decides what happens, as it would without us.
        if (watch.programListens(signal)) return;
        callEach(members, (callback) => callback(signal));
        interruptHooks.clear();
        // Die of the signal as we would have without a listener. Signalling ourselves needs --allow-run;
        // without it, or if the signal does not end us, exit with the status a shell reports for it.
        if (!granted({ name: "run" })) deno.exit(SIGNAL_EXIT_STATUS[signal]);
        quietly(() => deno.kill(deno.pid, signal));
        setTimeout(() => deno.exit(SIGNAL_EXIT_STATUS[signal]), 100);
      };
      quietly(() => watch.add(signal, listener));
      return [signal, listener] as const;
    });
    return () => {
      for (const [signal, listener] of listeners) quietly(() => watch.remove(signal, listener));
    };
  });
  return {
    env(name) {
      try {
        return granted({ name: "env", variable: name }) ? deno.env.get(name) : undefined;
      } catch {
        return undefined;
      }
    },
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
        const body = await readBody(request, limits.maxBodyBytes);
        if (body === undefined) return tooLarge(request);
        const url = new URL(request.url);
        const answer = await handler({ method: request.method, path: url.pathname + url.search, body });
        if (answer) return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers });
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
    canConnect(url) {
      try {
        return granted({ name: "net", host: new URL(url).host });
      } catch {
        return false;
      }
    },
    fetch: undefined,
    moduleCommand(moduleUrl, grant) {
      const executable = quietly(() => deno.execPath());
      if (!executable || !granted({ name: "run", command: executable })) return undefined;
      const argv = [executable, "run", "--quiet", "--no-prompt", "--no-config", "--no-lock"];
      argv.push(`--allow-net=${grant.net}`, `--allow-read=${grant.dir}`, `--allow-write=${grant.dir}`);
      argv.push("--allow-env=NAT_TELEMETRY_SENDER", "--allow-sys=uid", moduleUrl);
      return { argv, env: {} };
    },
    spawnDetached(command, env) {
      try {
        const [executable, ...args] = command.argv;
        const options = { stdin: "null", stdout: "null", stderr: "null", detached: true } as const;
        new deno.Command(executable, { args, env: { ...command.env, ...env }, ...options }).spawn().unref();
        return true;
      } catch {
        return false;
      }
    },
    terminal() {
      try {
        if (!deno.stdin.isTerminal() || !deno.stdout.isTerminal() || !deno.stderr.isTerminal()) return undefined;
      } catch {
        return undefined;
      }
      if (!isForegroundJob(files, runtimeInfo().os)) return undefined;
      return {
        async readRaw(onInput) {
          deno.stdin.setRaw(true);
          try {
            const buffer = new Uint8Array(64);
            for (;;) {
              const n = await deno.stdin.read(buffer);
              if (onInput(n === null ? Uint8Array.of(4) : buffer.slice(0, n)) || n === null) return;
            }
          } finally {
            deno.stdin.setRaw(false);
          }
        },
      };
    },
    files,
    onExit: (hooks) => exitHooks.add(hooks),
    onInterrupt: (callback) => interruptHooks.add(callback),
  };
}

/** Answers 413 and closes the connection, leaving the rest of the body unread. */
function tooLarge(request: Request): Response {
  request.body?.cancel().catch(() => {});
  return new Response('{"error":"the body is too large"}', {
    status: 413,
    headers: { "content-type": "application/json", connection: "close" },
  });
}

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
 * own listeners go through the originals and are not counted.
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
      program.set(signal, (program.get(signal) ?? new Set()).add(listener));
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
const signalWatch: SignalWatch | undefined = typeof loadedDeno?.addSignalListener === "function"
  ? watchSignals(loadedDeno)
  : undefined;
