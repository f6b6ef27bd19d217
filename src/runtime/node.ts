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
  stdout: { isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  getBuiltinModule?(name: "node:fs" | "node:http" | "node:https"): unknown;
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
  };
  return {
    env(name) {
      try {
        return proc.env[name];
      } catch {
        return undefined;
      }
    },
    writeStderr(text) {
      try {
        proc.stderr.write(text);
      } catch {
        // A closed stderr must not break the host program.
      }
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
