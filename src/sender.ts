/**
 * The sender: a short-lived detached process that delivers what runs of a
 * program spooled and handed off at their exit, so that no exit waits on the
 * network. It is this package's own handler replaying the spool of one
 * endpoint, pass after pass, with the same rules (claims, retries, health),
 * while it makes progress, under these bounds:
 *
 * - it lives at most {@link MAX_SENDER_LIFETIME_MS}, and starts no request
 *   that could not end before then, so it never abandons one the endpoint may
 *   have received (stopped by the OS past its end, it reads what arrived
 *   meanwhile first, for at most a second); when its life ends with work
 *   left (a slow endpoint, runs that kept handing off), and it made progress,
 *   it starts its successor;
 * - at most one sender works on an endpoint's spooled events at a time;
 * - it reads the user's decision again when it starts and before each
 *   request: an opt-out recorded since in the consent file (or set in its
 *   environment) stops it; what `disable` removed from the spool meanwhile is
 *   neither sent nor spooled again;
 * - it prints nothing and reads no terminal.
 *
 * It never runs inside a program: a program starts it as its own script (see
 * `sender_main.ts`), never by evaluating the program again.
 *
 * @module
 */
import { consentHolds, effectiveConsent, followConsent } from "./consent.ts";
import { setDeadline } from "./deadline.ts";
import { deliverForProgram } from "./delivery.ts";
import { NATTelemetryHandler } from "./handler.ts";
import { host, runtimeInfo } from "./runtime/mod.ts";
import { isAbsolutePath } from "./runtime/guarded_files.ts";
import { type FileFacts, quietly } from "./runtime/host.ts";
import { SENDER_SCRIPT_FILE, type SenderConfig, withSenderConfig } from "./sender_config.ts";
import {
  clearStartMarks,
  MAX_SENDER_LIFETIME_MS,
  releaseSenderLock,
  senderAlive,
  takeSenderLock,
} from "./sender_lock.ts";
import { type NATTelemetryHandlerOptions, resolveOptions } from "./options.ts";
import { retryDelay } from "./backoff.ts";
import { addCount } from "./tally.ts";
import { Spool } from "./spool.ts";
import { backlogKey } from "./backlog.ts";

/** Time kept free before the end of a sender's life, for its last look at the spool and its exit. */
const END_MARGIN_MS = 250;

/**
 * Delivers the spool of one endpoint, within the sender's lifetime, then ends the process.
 *
 * @param config What the program handed over.
 * @returns A promise that settles when the sender is done (just before the process ends).
 * @example
 * ```ts ignore
 * import { runSender } from "./sender.ts";
 * await runSender(config);
 * ```
 */
export async function runSender(config: SenderConfig): Promise<void> {
  const runtime = host();
  // The hard bound: whatever is still going on then, the process ends; a sender the OS stopped past it (a loaded
  // machine, a stopped job) first reads the answers that arrived meanwhile, as a request's deadline does, and the
  // events they accepted are not sent again.
  setDeadline(MAX_SENDER_LIFETIME_MS, () => runtime.exit(0));
  deliverForProgram();
  // An opt-out recorded while the sender works (`nat-telemetry disable`) stops it before its next request.
  followConsent(() => allowed(config));
  const startedFrom = executablesOf(config);
  try {
    await deliverSpool(config, host().monotonicMs() + MAX_SENDER_LIFETIME_MS, startedFrom);
  } catch {
    // Nothing to report to: the sender has no output.
  }
  runtime.exit(0);
}

/**
 * Whether the user's decision, read again, lets the sender send: a "no" stops what the program began, and so does a
 * consent file that no longer says yes where its yes was what turned the program on. Where nobody decided, the
 * program turned telemetry on itself (`setTelemetryEnabled`), and what it handed over goes.
 */
function allowed(config: SenderConfig): boolean {
  const { enabled, source } = effectiveConsent();
  return enabled || (source === "default" && config.onByConsentFile !== true);
}

async function deliverSpool(config: SenderConfig, deadline: number, startedFrom: string): Promise<void> {
  const files = host().files;
  const dir = config.spoolDir;
  if (!files) return;
  const { successor: _, onByConsentFile: __, ...options } = config; // the handler's options
  const resolved = resolveOptions(options);
  const key = backlogKey(resolved); // the key of the run that started it
  if (!consentHolds()) return clearStartMarks(files, dir, key);
  // A run that handed off after the last look saw the lock and started no sender: after letting go, look again,
  // and take the spool again if there is work, as long as looks take some (runs ending in waves, on a loaded
  // machine, may each find the lock taken); a look after the first that finds nothing it can take ends it.
  for (let look = 0;; look++) {
    const lock = await takeSenderLock(files, dir, key, config.endpoint);
    if (!lock) return;
    // What its passes drop, each pass's handler records as it stops, for `nat-telemetry status`.
    const { replayed, spooled, sent, timeUp } = await drainSpool(options, deadline - END_MARGIN_MS);
    releaseSenderLock(files, dir, lock);
    if (!hasWork(config, key)) return;
    // Time is up with work left, and the endpoint takes what it is sent: a successor goes on.
    if (timeUp && sent > 0 && consentHolds() && unchanged(config, startedFrom)) return startSuccessor(config);
    // The endpoint failed (the handler recorded it for later runs): stop.
    if (replayed > 0 && spooled > 0) return;
    if (look > 0 && replayed === 0) return;
  }
}

/** Its command's executables (a runtime, the program itself as a Bun executable, a shell): its absolute paths, but its script's. */
function executablePaths(config: SenderConfig): string[] {
  return (config.successor?.argv ?? []).filter((arg) =>
    isAbsolutePath(arg, runtimeInfo().os) && !arg.startsWith(`${config.spoolDir}/`)
  );
}

/**
 * What a look tells of the content of the files the sender was started from. A successor starts only where they are
 * still the ones the sender started from: a program replaced meanwhile (its next release installed) would run its
 * own new code, given the sender's script as its argument. Its next run hands off anew.
 */
function executablesOf(config: SenderConfig): string {
  const { files } = host();
  return executablePaths(config).map((path) => {
    const seen = files?.look(path);
    return seen ? `${contentOf(seen.facts)} -> ${contentOf(seen.leadsTo)}` : "nothing there";
  }).join("\n");
}

/**
 * What tells a file's content apart: another file put in its place (its device and inode), one written in place (its
 * size and when it was modified). Not its mode, owner or links: a `chmod` or a hard link made meanwhile changes no code.
 */
function contentOf(facts: FileFacts | undefined): string {
  return facts ? `${facts.kind} ${facts.device}:${facts.inode} ${facts.size} ${facts.modified}` : "";
}

/**
 * Whether the file this process runs is still at one of its command's paths, where that can be told (Linux's
 * `/proc/self/exe`, which Deno's sender may not read): a program replaced just after its hand-off, before the sender
 * first looked, is told apart from the one it runs.
 */
function runsFromItsCommand(config: SenderConfig): boolean {
  const { files } = host();
  const running = files?.look("/proc/self/exe");
  if (running === undefined) return true;
  const file = running.leadsTo; // none where the file it runs is no longer at its path
  return file !== undefined && executablePaths(config).some((path) => {
    const seen = files?.look(path);
    const there = seen?.leadsTo ?? seen?.facts;
    return there?.device === file.device && there?.inode === file.inode;
  });
}

/** Whether the files the sender was started from are still there as they were, and the one it runs among them. */
function unchanged(config: SenderConfig, startedFrom: string): boolean {
  return executablesOf(config) === startedFrom && runsFromItsCommand(config);
}

/** Starts the sender's successor, as the program started the sender, with the same configuration. */
function startSuccessor(config: SenderConfig): void {
  if (!config.successor) return;
  const { argv, env, leavesSession } = config.successor;
  // Its script (where it is run as one), dated anew: a version's first hand-off keeps the scripts written last.
  const { files } = host();
  const dir = `${config.spoolDir}/`;
  const script = argv.find((arg) => arg.startsWith(dir) && SENDER_SCRIPT_FILE.test(arg.slice(dir.length)));
  if (files && script !== undefined) quietly(() => files.touch(script, Date.now()));
  host().spawnDetached({ argv, env: withSenderConfig(env, config), cwd: config.spoolDir, leavesSession });
}

/** What passes over the spool did, summed. */
export interface Drained {
  /** Events taken from the spool. */
  replayed: number;
  /** Of those, and of what went wrong in between, events written back to the spool. */
  spooled: number;
  /** Events delivered. */
  sent: number;
  /** Events dropped, by reason. */
  dropped: Record<string, number>;
  /** Whether the passes stopped because the time was up (not because they made no progress). */
  timeUp: boolean;
}

/**
 * Delivers a spool pass after pass, each a handler that replays what is waiting (at most 64 files or 1,000
 * events at a time) and stops, while passes make progress and time is left: what `nat-telemetry flush` and a
 * sender do. A pass starts no request that could not end before `until`; after a pass in which a request failed,
 * the next waits as an event's retries wait (`backoffInitialSeconds`, doubling). Never throws.
 *
 * @param options The options of each pass's handler (its `exitTimeoutSeconds` is what is left of the time).
 * @param until When to stop starting passes, on the host's monotonic clock (`host().monotonicMs()`): a wall clock
 *   stepped back (NTP, a VM restored) would give a pass hours, and its requests would be cut at the sender's end, then
 *   sent again.
 * @returns What the passes did.
 * @example
 * ```ts ignore
 * const { sent } = await drainSpool({ endpoint, spoolDir }, host().monotonicMs() + 10_000);
 * ```
 */
export async function drainSpool(
  options: NATTelemetryHandlerOptions,
  until: number,
): Promise<Drained> {
  const total: Drained = { replayed: 0, spooled: 0, sent: 0, dropped: {}, timeUp: false };
  // The passes' own settings, with their defaults, as each pass's handler resolves them.
  const { requestTimeoutMs: requestMs, backoff, random, spoolDir } = resolveOptions(options);
  let failedPasses = 0;
  for (;;) {
    if (until - host().monotonicMs() <= requestMs) {
      total.timeUp = true;
      break;
    }
    if (!consentHolds()) break; // a sender reads the user's decision again
    // A spool directory removed since the last pass, or since the sender took its lock (the user cleared their
    // cache, a test its temporary directory), holds nothing: not made again.
    if (spoolDir !== undefined && host().files?.realPath(spoolDir) === undefined) break;
    // The pass may use what is left of the time; it starts no request that would outlast it.
    const handler = new NATTelemetryHandler({
      ...options,
      handOff: false,
      exitTimeoutSeconds: (until - host().monotonicMs()) / 1000,
    });
    handler.start();
    await handler.stop();
    const { replayed, spooled, sent, dropped } = handler.stats();
    total.replayed += replayed;
    total.spooled += spooled;
    total.sent += sent;
    for (const [reason, count] of Object.entries(dropped)) addCount(total.dropped, reason, count);
    if (replayed <= spooled) break; // no progress: nothing left, or the endpoint fails
    // Some went back to the spool with time left: a request failed. The next pass waits as a handler's retries
    // wait, not milliseconds, which would spend an event's retries on an endpoint that fails every other request.
    if (spooled > 0 && until - host().monotonicMs() > requestMs) {
      const waitMs = retryDelay(++failedPasses, backoff, random);
      if (until - host().monotonicMs() - waitMs <= requestMs) break; // a later run's try
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
  return total;
}

/** Whether the spool holds events of the key that no one has claimed, and no other sender is at work. */
function hasWork(config: SenderConfig, key: string): boolean {
  const files = host().files;
  // A spool directory removed meanwhile (the user cleared their cache) holds nothing: it is not made again.
  if (!files || files.realPath(config.spoolDir) === undefined) return false;
  if (senderAlive(files, config.spoolDir, key, Date.now())) return false;
  const limits = {
    maxEvents: config.spoolMaxEvents,
    maxBytes: config.spoolMaxBytes,
    maxAgeMs: config.spoolMaxAgeDays * 86_400_000,
  };
  return Spool.open(config.spoolDir, files, limits, key)?.waitingSince(Date.now()) !== undefined;
}
