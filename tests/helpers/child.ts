/**
 * Runs a program in a child process of the runtime running the tests (Deno,
 * Node or Bun), or a compiled executable, so exit behaviour is tested for
 * real, per runtime.
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import process from "node:process";
import { runtimeInfo } from "../../src/runtime/mod.ts";
import { tempDirForTheProcess } from "./spool_dir.ts";

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
  denoFlags?: string[] | undefined;
  /** Arguments for the program. */
  args?: string[] | undefined;
  /** Run this executable instead of the script under the current runtime. */
  executable?: string | undefined;
  /** Kill the child after this long. @default {30000} */
  limitMs?: number | undefined;
  /** The working directory. @default {the parent's} */
  cwd?: string | undefined;
  /** Start it as a shell starts a job: in a session and process group of its own. @default {false} */
  ownGroup?: boolean | undefined;
}

/** Every proxy variable unset, for {@link ChildOptions.env}: the test machine's proxy must not reach a child. */
export const UNSET_PROXY_VARIABLES: Record<string, undefined> = Object.fromEntries(
  ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"].flatMap((name) => [name, name.toLowerCase()])
    .map((name) => [name, undefined]),
);

/** A running child and what it will have done. */
export interface StartedChild {
  process: ChildProcess;
  result: Promise<ChildResult>;
}

/**
 * The command that runs a script in the current runtime.
 *
 * @param script The script's path.
 * @param denoFlags Deno permission flags.
 */
export function runtimeCommand(script: string, denoFlags = ["-A"]): string[] {
  return runtimeInfo().name === "deno" ? [process.execPath, "run", ...denoFlags, script] : [process.execPath, script];
}

/** The path of a fixture in `tests/fixtures/`. */
export function fixturePath(fixture: string): string {
  return new URL(`../fixtures/${fixture}`, import.meta.url).pathname;
}

/**
 * Starts a fixture script from `tests/fixtures/` (or an executable) and collects its output.
 *
 * @param fixture The file name in `tests/fixtures/`.
 * @param options Environment, flags, arguments and time limit.
 */
export function startChild(fixture: string, options: ChildOptions = {}): StartedChild {
  const [command, ...args] = options.executable
    ? [options.executable]
    : runtimeCommand(fixturePath(fixture), options.denoFlags);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("NAT_TELEMETRY_") && key !== "DO_NOT_TRACK") env[key] = value;
  }
  // Children keep no spool unless a test gives them one: nothing reaches the home directory. They deliver in
  // process unless a test asks for the exit hand-off (handoff_test.ts), whether or not CI is set.
  env.NAT_TELEMETRY_SPOOL_DIR = "";
  env.NAT_TELEMETRY_HANDOFF = "0";
  // The test command's consent file, not the developer's own (whose opt-out would stop every sender).
  if (process.env.NAT_TELEMETRY_CONSENT_FILE) env.NAT_TELEMETRY_CONSENT_FILE = process.env.NAT_TELEMETRY_CONSENT_FILE;
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const started = performance.now();
  const child = spawn(command, [...args, ...(options.args ?? [])], {
    env,
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.ownGroup ?? false,
  });
  const result = new Promise<ChildResult>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => stdout += chunk);
    child.stderr?.on("data", (chunk) => stderr += chunk);
    const limit = setTimeout(() => child.kill("SIGKILL"), options.limitMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
  return { process: child, result };
}

/**
 * Sends a signal to a started child from outside its `ChildProcess`: Deno's `node:child_process` reports a signal
 * its own `kill()` sent as the way the child ended, whatever the child did (died of it, or exited with 130).
 *
 * @param child The started child.
 * @param signal The signal.
 */
export function signalChild(child: StartedChild, signal: "SIGINT" | "SIGTERM" = "SIGINT"): void {
  process.kill(child.process.pid!, signal);
}

/**
 * Runs a fixture script (or an executable) to its end.
 *
 * @param fixture The file name in `tests/fixtures/`.
 * @param options Environment, flags, arguments and time limit.
 */
export function runChild(fixture: string, options: ChildOptions = {}): Promise<ChildResult> {
  return startChild(fixture, options).result;
}

/**
 * Whether a command runs here (e.g. `script` for a pseudo-terminal, `python3`, `openssl`).
 *
 * @param command The command and arguments of a cheap invocation that succeeds where it is installed.
 */
export function canRun(...command: string[]): boolean {
  try {
    execFileSync(command[0], command.slice(1), { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The executables built in this process, by fixture: built once, removed when the process exits. */
const executables = new Map<string, string>();

/**
 * Where to run a fixture: the runtime under test, and under Bun also the fixture built as a single-file
 * executable (`bun build --compile`), where no separate `bun` binary exists. The executable (~100 MB) is built
 * once per test process and removed when it exits.
 *
 * @param fixture The file name in `tests/fixtures/`.
 */
export function targetsFor(fixture: string): { label: string; executable?: string }[] {
  const runtime = runtimeInfo().name;
  const targets: { label: string; executable?: string }[] = [{ label: runtime }];
  if (runtime !== "bun") return targets;
  let out = executables.get(fixture);
  if (out === undefined) {
    out = `${tempDirForTheProcess("nat-telemetry-exe-")}/${fixture.replace(/\.ts$/, "")}`;
    execFileSync(process.execPath, ["build", "--compile", fixturePath(fixture), "--outfile", out], { stdio: "ignore" });
    executables.set(fixture, out);
  }
  return [...targets, { label: "bun --compile executable", executable: out }];
}
