/**
 * The {@link Host} for Node.js and Bun, which share the `process` global.
 * Built-in modules are reached through `process.getBuiltinModule`, so the
 * package has no static `node:` import and loads anywhere.
 *
 * @module
 */
import { type Host, type HostFiles, INTERRUPT_SIGNALS, type InterruptSignal, quietly } from "./host.ts";
import { nodeFetch } from "./node_fetch.ts";

/** The part of `node:fs` we use. */
interface NodeFs {
  mkdirSync(path: string, options: { recursive: boolean; mode: number }): unknown;
  readdirSync(path: string): string[];
  readFileSync(path: string, encoding: "utf8"): string;
  writeFileSync(path: string, text: string, options: { mode: number }): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  appendFileSync(path: string, text: string, options: { mode: number }): void;
}

/** The part of `node:http` the local server uses. */
interface NodeHttpServerModule {
  createServer(listener: (request: NodeIncoming, response: NodeOutgoing) => void): NodeHttpServer;
}

interface NodeIncoming {
  method?: string;
  url?: string;
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end", listener: () => void): unknown;
}

interface NodeOutgoing {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body?: string): unknown;
}

interface NodeHttpServer {
  listen(port: number, hostname: string, callback: () => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
  address(): { port: number } | string | null;
  closeAllConnections?(): void;
  close(callback: () => void): unknown;
}

/** The part of `process.stdin` we use. */
interface NodeStdin {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
  on(event: "data" | "end", listener: (chunk?: Uint8Array) => void): unknown;
  removeListener(event: "data" | "end", listener: (chunk?: Uint8Array) => void): unknown;
}

/** The part of the `process` global we use. */
export interface NodeProcess {
  pid: number;
  env: Record<string, string | undefined>;
  stdin: NodeStdin;
  stdout: { isTTY?: boolean; write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  getBuiltinModule?(name: "node:fs" | "node:http" | "node:https"): unknown;
  argv: string[];
  exitCode?: number | string;
  on(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
  listenerCount(event: string): number;
  kill(pid: number, signal: InterruptSignal): unknown;
}

/**
 * Builds the Node.js / Bun host.
 *
 * @param proc The `process` global.
 * @param options `lightFetch`: deliver with {@link nodeFetch} (Node.js) rather than the global fetch (Bun's is native).
 * @returns A host over `process`.
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { nodeHost } from "./node.ts";
 * nodeHost(process, { lightFetch: true }).env("HOME");
 * ```
 */
export function nodeHost(proc: NodeProcess, options: { lightFetch: boolean }): Host {
  let fs: NodeFs | undefined;
  try {
    fs = proc.getBuiltinModule?.("node:fs") as NodeFs | undefined;
  } catch {
    fs = undefined;
  }
  const files: HostFiles | undefined = fs && {
    allowed: () => true,
    mkdir: (path) => void fs.mkdirSync(path, { recursive: true, mode: 0o700 }),
    list: (path) => fs.readdirSync(path),
    read: (path) => fs.readFileSync(path, "utf8"),
    write: (path, text) => fs.writeFileSync(path, text, { mode: 0o600 }),
    rename: (from, to) => fs.renameSync(from, to),
    remove: (path) => fs.unlinkSync(path),
    append: (path, text) => fs.appendFileSync(path, text, { mode: 0o600 }),
  };
  return {
    env(name) {
      try {
        return proc.env[name];
      } catch {
        return undefined;
      }
    },
    writeStderr: (text) => void quietly(() => proc.stderr.write(text)),
    writeStdout: (text) => void quietly(() => proc.stdout.write(text)),
    stdoutIsTerminal: () => proc.stdout.isTTY === true,
    args: () => proc.argv.slice(2),
    setExitCode(code) {
      proc.exitCode = code;
    },
    async serve(hostname, port, handler) {
      const http = proc.getBuiltinModule?.("node:http") as NodeHttpServerModule | undefined;
      if (!http) throw new Error("no HTTP server in this runtime");
      const decoder = new TextDecoder();
      const server = http.createServer((request, response) => {
        let body = "";
        request.on("data", (chunk) => body += decoder.decode(chunk, { stream: true }));
        request.on("end", async () => {
          const answer = await handler({ method: request.method ?? "GET", path: request.url ?? "/", body });
          if (!answer) return; // silent: the connection is cut at close
          response.writeHead(answer.status, answer.headers ?? {});
          response.end(answer.body);
        });
      });
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
    canConnect: () => true,
    terminal() {
      const { stdin } = proc;
      if (!stdin.isTTY || !proc.stdout.isTTY || !proc.stderr.isTTY || !stdin.setRawMode) return undefined;
      return {
        readRaw: (onInput) =>
          new Promise<void>((resolve) => {
            const finish = () => {
              stdin.removeListener("data", onData);
              stdin.removeListener("end", onEnd);
              quietly(() => stdin.setRawMode?.(false));
              stdin.pause();
              resolve();
            };
            const onData = (chunk?: Uint8Array) => {
              if (quietly(() => onInput(new Uint8Array(chunk ?? []))) !== false) finish();
            };
            const onEnd = () => {
              quietly(() => onInput(Uint8Array.of(4)));
              finish();
            };
            stdin.on("data", onData);
            stdin.on("end", onEnd);
            stdin.setRawMode?.(true);
            stdin.resume();
          }),
      };
    },
    fetch: options.lightFetch && proc.getBuiltinModule ? nodeFetch((name) => proc.getBuiltinModule!(name)) : undefined,
    files,
    onExit(hooks) {
      const beforeExit = () => quietly(hooks.beforeExit);
      // "exit" also fires after an uncaught exception or unhandled rejection.
      const exit = () => quietly(hooks.exit);
      proc.on("beforeExit", beforeExit);
      proc.on("exit", exit);
      return () => {
        proc.removeListener("beforeExit", beforeExit);
        proc.removeListener("exit", exit);
      };
    },
    onInterrupt(callback) {
      const listeners = INTERRUPT_SIGNALS.map((signal) => {
        const listener = () => {
          quietly(() => callback(signal));
          stop();
          // If the program listens for this signal itself, it decides what happens; otherwise die of it,
          // exactly as we would have without our listener.
          if (proc.listenerCount(signal) === 0) quietly(() => proc.kill(proc.pid, signal));
        };
        proc.on(signal, listener);
        return [signal, listener] as const;
      });
      const stop = () => {
        for (const [signal, listener] of listeners) proc.removeListener(signal, listener);
      };
      return stop;
    },
  };
}
