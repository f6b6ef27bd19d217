/**
 * How a handler's pending events leave the process at its end: handed off to
 * a sender process that delivers them after the host is gone (the exit waits
 * only for a spool write and a spawn), or delivered in process within the exit
 * budget, as before. The hand-off is used unless:
 *
 * - the program or the user turned it off (`handOff: false`, `NAT_TELEMETRY_HANDOFF=0`);
 * - `CI` is set (a CI job may kill what outlives its step; the budget-bounded exit is predictable there),
 *   unless the program asked for it (`handOff: true`, `NAT_TELEMETRY_HANDOFF=1`);
 * - there is no usable spool, or the sink is not an HTTP endpoint;
 * - this process may not start one (Deno without `--allow-run`; a runtime without child processes);
 * - the spool has held events for this endpoint for a minute with no sender at work: hand-offs do not get
 *   through here (a program that loads the package lazily inside a single-file executable), so this run
 *   delivers in process.
 *
 * @module
 */
import type { Backlog } from "./backlog.ts";
import type { ResolvedOptions } from "./options.ts";
import { host, type SpawnCommand } from "./runtime/mod.ts";
import { MAX_SENDER_LIFETIME_MS, SENDER_ENV, SENDER_URL, senderAlive, type SenderConfig } from "./sender.ts";

/** How long spooled events may wait, with no sender at work, before a run stops handing off and delivers itself. */
export const STALLED_HANDOFF_MS = 60_000;

/**
 * How this run's pending events would reach a sender process, if they go to one rather than out of this process.
 *
 * @param options The handler's options.
 * @param backlog Its spool and endpoint health.
 * @returns The command that starts a sender, to hand off (spool, then {@link startSender}); `undefined` to
 *   deliver in process.
 * @example
 * ```ts ignore
 * const command = handOffCommand(options, backlog);
 * if (command) startSender(options, backlog, command);
 * ```
 */
export function handOffCommand(options: ResolvedOptions, backlog: Backlog): SpawnCommand | undefined {
  const { spool } = backlog;
  const command = options.handOff ? senderCommand(options, backlog) : undefined;
  if (!command) return undefined;
  const now = options.clock();
  const waiting = spool.waitingSince(now);
  const stalled = waiting !== undefined && now - waiting > STALLED_HANDOFF_MS;
  return !stalled || senderAlive(backlog.files, spool.dir, now) ? command : undefined;
}

/**
 * Starts a sender for the spool, unless one is at work already or the endpoint is known to be down (then the
 * events wait in the spool for the run that probes it). Never throws.
 *
 * @param options The handler's options.
 * @param backlog Its spool and endpoint health.
 * @param command What {@link handOffCommand} returned.
 * @returns Whether a sender is at work on the spool now.
 * @example
 * ```ts ignore
 * startSender(options, backlog, command);
 * ```
 */
export function startSender(options: ResolvedOptions, backlog: Backlog, command: SpawnCommand): boolean {
  const { spool, health } = backlog;
  if (options.sink.kind !== "http" || health.isOpen()) return false;
  if (senderAlive(backlog.files, spool.dir, options.clock())) return true;
  const config: SenderConfig = {
    endpoint: options.sink.url,
    spoolDir: spool.dir,
    spoolLimits: options.spoolLimits,
    exitTimeoutMs: options.exitTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    maxRetries: options.maxRetries,
    sourceClientVersion: options.sourceClientVersion,
    lifetimeMs: Math.min(MAX_SENDER_LIFETIME_MS, options.exitTimeoutMs + options.requestTimeoutMs),
    format: options.format.name,
    headers: options.headers,
    resource: options.format.resource ?? {},
  };
  return host().spawnDetached(command, { [SENDER_ENV]: JSON.stringify(config) });
}

function senderCommand(options: ResolvedOptions, { spool }: Backlog) {
  if (options.sink.kind !== "http") return undefined;
  return host().moduleCommand(SENDER_URL, { net: new URL(options.sink.url).host, dir: spool.dir });
}
