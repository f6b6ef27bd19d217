/**
 * Runs a script in a child process of the runtime running the tests (Deno,
 * Node or Bun), so exit behaviour is tested for real, per runtime.
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { runtimeInfo } from "../../src/runtime/mod.ts";

/** What a child process did. */
export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  elapsedMs: number;
}

/** Options of {@link runChild}. */
export interface ChildOptions {
  /** Environment variables added to (or, with `undefined`, removed from) the parent's. */
  env?: Record<string, string | undefined>;
  /** Deno permission flags. @default {["-A"]} */
  denoFlags?: string[];
  /** Arguments for the script. */
  args?: string[];
  /** Kill the child after this long. @default {30000} */
  limitMs?: number;
}

/** The command that runs a script in the current runtime. */
export function runtimeCommand(script: string, denoFlags = ["-A"]): string[] {
  return runtimeInfo().name === "deno" ? [process.execPath, "run", ...denoFlags, script] : [process.execPath, script];
}

/**
 * Runs a fixture script from `tests/fixtures/` and collects its output.
 *
 * @param fixture The file name in `tests/fixtures/`.
 * @param options Environment, flags, arguments and time limit.
 */
export function runChild(fixture: string, options: ChildOptions = {}): Promise<ChildResult> {
  const script = new URL(`../fixtures/${fixture}`, import.meta.url).pathname;
  const [command, ...args] = runtimeCommand(script, options.denoFlags);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...options.env })) {
    if (value !== undefined && !key.startsWith("NAT_TELEMETRY_") && key !== "DO_NOT_TRACK") env[key] = value;
  }
  // Children keep no spool unless a test gives them one: nothing reaches the home directory.
  env.NAT_TELEMETRY_SPOOL_DIR = "";
  for (const [key, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[key] = value;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args, ...(options.args ?? [])], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => stdout += chunk);
    child.stderr.on("data", (chunk) => stderr += chunk);
    const limit = setTimeout(() => child.kill("SIGKILL"), options.limitMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
}
