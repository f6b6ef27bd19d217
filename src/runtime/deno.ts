/**
 * The {@link Host} for Deno. It asks `Deno.permissions.querySync` before any
 * access that needs a permission, so it never causes a permission prompt.
 *
 * @module
 */
import {
  type Host,
  type HostFiles,
  INTERRUPT_SIGNALS,
  type InterruptSignal,
  quietly,
  SIGNAL_EXIT_STATUS,
} from "./host.ts";

type Descriptor =
  | { name: "env"; variable: string }
  | { name: "read" | "write"; path: string }
  | { name: "net"; host: string }
  | { name: "run" };

/** The part of the `Deno` namespace we use. */
export interface DenoNamespace {
  pid: number;
  permissions: { querySync?(descriptor: Descriptor): { state: string } };
  env: { get(name: string): string | undefined };
  stdin: { isTerminal(): boolean; setRaw(raw: boolean): void; read(buffer: Uint8Array): Promise<number | null> };
  stdout: { isTerminal(): boolean; writeSync(bytes: Uint8Array): number };
  args: string[];
  exitCode: number;
  writeTextFileSync(path: string, text: string, options: { mode: number; append?: boolean }): void;
  serve(
    options: { hostname: string; port: number; onListen(): void },
    handler: (request: Request) => Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  stderr: { writeSync(bytes: Uint8Array): number; isTerminal(): boolean };
  unrefTimer(id: number): void;
  mkdirSync(path: string, options: { recursive: boolean; mode: number }): void;
  readDirSync(path: string): Iterable<{ name: string }>;
  readTextFileSync(path: string): string;
  renameSync(from: string, to: string): void;
  removeSync(path: string): void;
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
  const files: HostFiles = {
    allowed: (path, access) => granted({ name: access, path }),
    mkdir: (path) => deno.mkdirSync(path, { recursive: true, mode: 0o700 }),
    list: (path) => [...deno.readDirSync(path)].map((entry) => entry.name),
    read: (path) => deno.readTextFileSync(path),
    write: (path, text) => deno.writeTextFileSync(path, text, { mode: 0o600 }),
    rename: (from, to) => deno.renameSync(from, to),
    remove: (path) => deno.removeSync(path),
    append: (path, text) => deno.writeTextFileSync(path, text, { mode: 0o600, append: true }),
  };
  const write = (stream: { writeSync(bytes: Uint8Array): number }, text: string) => {
    try {
      let bytes = encoder.encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
    } catch {
      // A closed stream must not break the host program.
    }
  };
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
    serve(hostname, port, handler) {
      // Unanswered (silent) requests are answered 503 at close, so that shutdown does not wait for them forever.
      const silent = new Set<() => void>();
      const server = deno.serve({ hostname, port, onListen() {} }, async (request) => {
        const url = new URL(request.url);
        const answer = await handler({
          method: request.method,
          path: url.pathname + url.search,
          body: await request.text(),
        });
        if (answer) return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers });
        await new Promise<void>((resolve) => silent.add(resolve));
        return new Response(null, { status: 503 });
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
    terminal() {
      try {
        if (!deno.stdin.isTerminal() || !deno.stdout.isTerminal() || !deno.stderr.isTerminal()) return undefined;
      } catch {
        return undefined;
      }
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
    onExit(hooks) {
      // Deno unloads right after "beforeunload" unless the event is cancelled, even with work pending.
      const beforeExit = (event: Event) => {
        if (quietly(hooks.beforeExit)) event.preventDefault();
      };
      const exit = () => quietly(hooks.exit);
      // An uncaught error or rejection ends a Deno process without "unload"; we listen, and never preventDefault.
      const events: [string, (event: Event) => void][] = [
        ["beforeunload", beforeExit],
        ["unload", exit],
        ["error", exit],
        ["unhandledrejection", exit],
      ];
      for (const [type, listener] of events) globalThis.addEventListener(type, listener);
      return () => {
        for (const [type, listener] of events) globalThis.removeEventListener(type, listener);
      };
    },
    onInterrupt(callback) {
      const listeners = INTERRUPT_SIGNALS.map((signal) => {
        const listener = () => {
          quietly(() => callback(signal));
          stop();
          // Die of the signal as we would have without a listener. Deno cannot tell whether the program listens
          // too. Signalling ourselves needs --allow-run; without it, or if the signal does not end us, exit with the
          // status a shell reports for it.
          if (!granted({ name: "run" })) deno.exit(SIGNAL_EXIT_STATUS[signal]);
          quietly(() => deno.kill(deno.pid, signal));
          setTimeout(() => deno.exit(SIGNAL_EXIT_STATUS[signal]), 100);
        };
        quietly(() => deno.addSignalListener(signal, listener));
        return [signal, listener] as const;
      });
      const stop = () => {
        for (const [signal, listener] of listeners) quietly(() => deno.removeSignalListener(signal, listener));
      };
      return stop;
    },
  };
}
