/**
 * The sender: a short-lived detached process that delivers what runs of the
 * host program spooled and handed off at their exit, so that no exit waits on
 * the network. It is this package's own handler replaying the spool for one
 * endpoint, with the same rules (claims, retries, health), under three bounds:
 *
 * - it lives at most `lifetimeMs` (never more than 15 s), then exits, whatever
 *   is in flight (what it claimed and did not settle is taken over by a later
 *   run once the claim goes stale, as for any run that died);
 * - at most one sender works on a spool at a time (a lock file with an expiry);
 * - it prints nothing, reads no terminal, and runs only when its host had
 *   telemetry enabled.
 *
 * It starts when its module is the main module of a process whose environment
 * has `NAT_TELEMETRY_SENDER` (JSON, {@link SenderConfig}). In a program bundled
 * into one file (a `bun build --compile` executable), the executable itself is
 * started that way: as the bundle loads, this module starts the sender and
 * stops the program's own code from running (see {@link SENDER_URL}).
 *
 * @module
 */
import { temporaryName } from "./atomic.ts";
import { host, type HostFiles, MODULE_URL } from "./runtime/mod.ts";
import type { SpoolLimits } from "./spool.ts";

/** This module's URL: what a host runs as the sender's main module. Equal to other modules' URLs in a bundle. */
export const SENDER_URL: string = import.meta.url;

/** The environment variable that carries the sender's configuration. */
export const SENDER_ENV = "NAT_TELEMETRY_SENDER";

/** The longest a sender may live. */
export const MAX_SENDER_LIFETIME_MS = 15_000;

/** Everything a sender needs, from its host: it reads no other setting. */
export interface SenderConfig {
  /** Where to deliver. */
  readonly endpoint: string;
  /** The spool to deliver from. */
  readonly spoolDir: string;
  /** The spool's bounds. */
  readonly spoolLimits: SpoolLimits;
  /** The host's exit budget: one pass over the spool may take this long. */
  readonly exitTimeoutMs: number;
  /** The host's per-request timeout. */
  readonly requestTimeoutMs: number;
  /** Retries of an event before it is dropped. */
  readonly maxRetries: number;
  /** The envelope's `clientVer`. */
  readonly sourceClientVersion: string;
  /** How long the sender may live; at most {@link MAX_SENDER_LIFETIME_MS}. */
  readonly lifetimeMs: number;
  /** The wire format. */
  readonly format: "nat" | "otlp";
  /** The request headers (the environment's `OTEL_*` ones included). */
  readonly headers: Readonly<Record<string, string>>;
  /** The OTLP resource attributes (the environment's included). */
  readonly resource: Readonly<Record<string, string>>;
}

const LOCK_FILE = "sender.lock";

/**
 * Whether a sender is working on a spool: its lock file says it lives until a time still to come.
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param now The current time, in epoch milliseconds.
 * @returns `true` while a sender holds the spool.
 * @example
 * ```ts
 * import { senderAlive } from "./sender.ts";
 * import { host } from "./runtime/mod.ts";
 * senderAlive(host().files!, "/tmp/spool", Date.now()); // false: no lock there
 * ```
 */
export function senderAlive(files: HostFiles, dir: string, now: number): boolean {
  try {
    const { until } = JSON.parse(files.read(`${dir}/${LOCK_FILE}`, 256) ?? "{}");
    return Number.isFinite(until) && until > now && until <= now + MAX_SENDER_LIFETIME_MS;
  } catch {
    return false;
  }
}

/**
 * Delivers the spool for one endpoint, within the sender's lifetime, and ends the process.
 *
 * @param config What the host handed over.
 * @param exit Ends the process. @default {the runtime's exit}
 * @returns A promise that resolves when the sender is done (just before `exit`).
 * @example
 * ```ts ignore
 * import { runSender } from "./sender.ts";
 * await runSender(JSON.parse(Deno.env.get("NAT_TELEMETRY_SENDER")!));
 * ```
 */
export async function runSender(config: SenderConfig, exit: (code: number) => void = exitProcess): Promise<void> {
  const lifetimeMs = Math.min(config.lifetimeMs, MAX_SENDER_LIFETIME_MS);
  const deadline = Date.now() + lifetimeMs;
  // The hard bound: whatever is still in flight then, the process ends.
  setTimeout(() => exit(0), lifetimeMs);
  const files = host().files;
  if (!files || !takeLock(files, config.spoolDir, deadline)) return exit(0);
  const { NATTelemetryHandler } = await import("./handler.ts");
  const { setTelemetryEnabled } = await import("./consent.ts");
  setTelemetryEnabled(true); // the host had telemetry enabled when it handed off; this process has no consent of its own
  let recheck = false;
  while (Date.now() < deadline - 100) {
    const handler = new NATTelemetryHandler({
      endpoint: config.endpoint,
      spoolDir: config.spoolDir,
      spoolMaxEvents: config.spoolLimits.maxEvents,
      spoolMaxBytes: config.spoolLimits.maxBytes,
      spoolMaxAgeDays: config.spoolLimits.maxAgeMs / 86_400_000,
      exitTimeoutSeconds: Math.min(config.exitTimeoutMs, deadline - Date.now()) / 1000,
      requestTimeoutSeconds: config.requestTimeoutMs / 1000,
      maxRetries: config.maxRetries,
      sourceClientVersion: config.sourceClientVersion,
      format: config.format,
      headers: { ...config.headers },
      resource: { ...config.resource },
      handOff: false,
    });
    handler.start();
    await handler.stop();
    const { replayed, sent } = handler.stats();
    if (replayed > 0 && sent > 0) {
      recheck = false;
      continue; // delivering: look for what other runs handed off meanwhile
    }
    // Nothing left, or the endpoint fails (the handler recorded it for later runs): let go of the spool. A run
    // that handed off after the last look saw the lock and started no sender, so look once more after letting
    // go, and take the spool again if there is work; a second look that finds nothing it can take ends it.
    releaseLock(files, config.spoolDir);
    if (recheck || replayed > 0) return exit(0);
    if (!(await hasWork(config)) || !takeLock(files, config.spoolDir, deadline)) return exit(0);
    recheck = true;
  }
  releaseLock(files, config.spoolDir);
  exit(0);
}

/** Whether the spool holds events for the endpoint that no one has claimed. */
async function hasWork(config: SenderConfig): Promise<boolean> {
  const { Spool, spoolKey } = await import("./spool.ts");
  const files = host().files;
  const spool = files && Spool.open(config.spoolDir, files, config.spoolLimits, spoolKey(config.endpoint));
  return spool?.waitingSince(Date.now()) !== undefined;
}

/** Takes the spool's lock until `until`, unless a live sender holds it; a stale lock is taken over by one sender. */
function takeLock(files: HostFiles, dir: string, until: number): boolean {
  const lock = `${dir}/${LOCK_FILE}`;
  const now = Date.now();
  if (senderAlive(files, dir, now)) return false;
  try {
    // A stale lock: whoever renames it away first takes over; the others fail the rename.
    const stale = temporaryName(dir, now);
    files.rename(lock, stale);
    files.remove(stale);
  } catch {
    // No lock there, or another sender moved it first.
  }
  try {
    files.create(lock, JSON.stringify({ until }));
    return true;
  } catch {
    return false; // another sender created it first
  }
}

function releaseLock(files: HostFiles, dir: string): void {
  try {
    files.remove(`${dir}/${LOCK_FILE}`);
  } catch {
    // Already gone.
  }
}

function exitProcess(code: number): void {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (g.Deno) g.Deno.exit(code);
  else g.process?.exit(code);
}

/** The configuration this process was started with, if it was started as a sender. */
function senderConfig(): SenderConfig | undefined {
  const text = host().env(SENDER_ENV);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as SenderConfig;
  } catch {
    return undefined;
  }
}

/**
 * In a program bundled into one file (a `bun build --compile` executable), the
 * sender is the executable itself, started again with `NAT_TELEMETRY_SENDER`
 * set: once the package has loaded, this starts the sender and stops the
 * program's own code from running, by failing the evaluation of what imports
 * the package (a failure the sender process swallows; it prints nothing).
 * Outside a bundle, or in a process not started as a sender, it does nothing.
 * `mod.ts` calls it last, when every module of the package is ready.
 *
 * @example
 * ```ts
 * import { takeOverInBundle } from "./sender.ts";
 * takeOverInBundle(); // nothing happens in an ordinary process
 * ```
 */
export function takeOverInBundle(): void {
  if (SENDER_URL !== MODULE_URL) return;
  const config = senderConfig();
  if (!config) return;
  // deno-lint-ignore no-explicit-any
  const proc = (globalThis as any).process;
  proc?.on?.("uncaughtException", () => {});
  proc?.on?.("unhandledRejection", () => {});
  void runSender(config);
  throw new Error("@nat/telemetry: this process is a telemetry sender; the program does not run here");
}

// Started as the main module of a sender process (the package is not bundled): run.
if (import.meta.main && SENDER_URL !== MODULE_URL) {
  const config = senderConfig();
  if (config) void runSender(config);
}
