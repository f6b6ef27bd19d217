/**
 * How a handler's pending events leave the process at its end: handed off to
 * a sender process that delivers them after the program is gone (the exit
 * waits only for a spool write and a spawn), or delivered in process within
 * the exit budget. The decision is made here, in one place, with its reason
 * (`NAT_TELEMETRY_DEBUG=1` prints it). The hand-off is used unless a sender
 * could not keep a promise the program keeps itself:
 *
 * - the program or the user turned it off (`handOff: false`, `NAT_TELEMETRY_HANDOFF=0`), or `CI` is set;
 * - the sink is not an HTTP endpoint, or the program delivers with its own `fetch` (a function no other
 *   process can call), or a request may take longer than a sender lives;
 * - telemetry was turned off during the run (the sender would find no decision of the program's to act on);
 * - there is no usable spool, or the program may not connect to the endpoint (Deno `--allow-net`);
 * - no sender can be started that outlives the program and runs none of its code (see the runtime's
 *   `senderCommand`: a single executable, no permission to start processes, PID 1 of a container...);
 * - the sender's script cannot be written, or the spool write fails;
 * - events have waited in the spool for a minute with no sender at work: hand-offs do not get through here.
 *
 * The sender is the package's own script (`sender_script.ts`), written into
 * the spool directory once per version and run there with the program's
 * runtime, in a clean environment: it never evaluates the program again.
 *
 * @module
 */
import { writeAtomically } from "./atomic.ts";
import type { Backlog } from "./backlog.ts";
import { consentFileInForce, onByConsentFile, optOutOverridden } from "./consent.ts";
import { type ResolvedOptions, senderSizes } from "./options.ts";
import { host, type HostFiles, runtimeInfo, type SenderGrant, type SpawnCommand } from "./runtime/mod.ts";
import { PROXY_VARIABLES } from "./runtime/clean_environment.ts";
import { below, dirAndName, isAbsolutePath, RefusedPath } from "./runtime/guarded_files.ts";
import { SENDER_CONFIG_ENV, SENDER_SCRIPT_FILE, type SenderConfig, withSenderConfig } from "./sender_config.ts";
import { clearStartMark, markSenderStart, MAX_SENDER_LIFETIME_MS, senderAlive } from "./sender_lock.ts";
import { senderScript } from "./sender_script.ts";
import { SENDER_SCRIPT_BYTES, SENDER_SCRIPT_NAME } from "./sender_script_name.ts";

/** How long spooled events may wait, with no sender at work, before a run stops handing off and delivers itself. */
export const STALLED_HANDOFF_MS = 60_000;

/** A sender's own start, which its life includes: a request must fit in what is left. */
const SENDER_START_MS = 1_000;

/**
 * The environment variables a sender reads: its configuration, the user's decision, and a dry run (never set in its
 * environment, but one it may not read would be taken as set).
 */
const SENDER_READS = [
  SENDER_CONFIG_ENV,
  "NAT_TELEMETRY_ENABLED",
  "DO_NOT_TRACK",
  "NAT_TELEMETRY_CONSENT_FILE",
  "NAT_TELEMETRY_DRY_RUN",
];

/** What to do with the events pending at the end. */
export type ExitPlan =
  /**
   * Spool them, and start `command` unless a sender is at work on `backlog` already; no command while the endpoint
   * is known to be down: they wait in the spool for the run that probes it, and nothing is prepared to start.
   */
  | {
    readonly handOff: true;
    readonly command: SpawnCommand | undefined;
    readonly backlog: Backlog;
    /** The endpoint the events go to. */
    readonly endpoint: string;
  }
  /**
   * Deliver them in process, within the exit budget; `outcome` says what that comes to: `delivered` (or printed),
   * `spooled` for a later run (the endpoint is known down, or the program may not connect to it: Deno
   * `--allow-net`), or `dropped` (no endpoint; or neither a connection nor a spool).
   */
  | { readonly handOff: false; readonly reason: string; readonly outcome: InProcessOutcome };

/** What delivering in process comes to at the exit: see {@link ExitPlan}. */
export type InProcessOutcome = "delivered" | "spooled" | "dropped";

/**
 * Decides how this run's pending events would leave the process, without writing anything (what
 * `nat-telemetry status` shows). Never throws.
 *
 * @param options The handler's options.
 * @param backlog Its spool and endpoint health, `null` when there is no spool.
 * @param enabled Whether telemetry is on now.
 * @returns The plan, with the reason when it is to deliver in process.
 * @example
 * ```ts ignore
 * const decision = exitDecision(options, Backlog.open(options), isTelemetryEnabled());
 * console.log(decision.handOff ? "hand-off" : `in process: ${decision.reason}`);
 * ```
 */
export function exitDecision(options: ResolvedOptions, backlog: Backlog | null, enabled: boolean): ExitPlan {
  const decision = handOffOrWhyNot(options, backlog, enabled);
  return decision.handOff ? decision : { ...decision, outcome: inProcessOutcome(options, backlog) };
}

/** What delivering in process would come to, from the sink, the program's permissions and the spool. */
function inProcessOutcome(options: ResolvedOptions, backlog: Backlog | null): InProcessOutcome {
  if (options.sink.kind === "none") return "dropped";
  if (mayConnect(options) && backlog?.health.isOpen() !== true) return "delivered";
  // What the program recorded over the user's no is never spooled (see the handler's spooling).
  return backlog && optOutOverridden() === undefined ? "spooled" : "dropped";
}

/** The sink is not an HTTP endpoint, or one the program may connect to. */
function mayConnect(options: ResolvedOptions): boolean {
  return options.sink.kind !== "http" || host().canConnect(options.sink.url);
}

/** {@link exitDecision}, but for what delivering in process would come to (its `outcome`). */
function handOffOrWhyNot(
  options: ResolvedOptions,
  backlog: Backlog | null,
  enabled: boolean,
): ExitPlan | { handOff: false; reason: string } {
  try {
    const reason = inProcessReason(options, backlog, enabled);
    if (reason !== undefined || !backlog || options.sink.kind !== "http") {
      return { handOff: false, reason: reason ?? "no spool" };
    }
    const { spool, health } = backlog;
    const grant = senderGrant(options.sink.url, spool.dir);
    const untold = untoldConsentFile(grant);
    if (untold !== undefined) return { handOff: false, reason: untold };
    // While the endpoint is known down no sender starts: only whether one could is asked, and nothing prepared.
    if (health.isOpen()) {
      const refused = host().senderRefusal(grant);
      return refused === undefined
        ? { handOff: true, command: undefined, backlog, endpoint: options.sink.url }
        : { handOff: false, reason: refused };
    }
    const base = host().senderCommand(`${spool.dir}/${SENDER_SCRIPT_NAME}`, grant);
    if ("refused" in base) return { handOff: false, reason: base.refused };
    // The sender's configuration says how it was started, so that it can start its successor the same way.
    const { cwd: _, ...successor } = base;
    const config = { ...senderConfig(options, spool.dir), successor, onByConsentFile: onByConsentFile() };
    const command = { ...base, env: withSenderConfig(base.env, config) };
    return { handOff: true, command, backlog, endpoint: options.sink.url };
  } catch (error) {
    return { handOff: false, reason: `the hand-off failed (${error})` };
  }
}

/**
 * Prepares the hand-off an {@link exitDecision} decided: the sender's script in the spool directory. Never throws.
 *
 * @param options The handler's options.
 * @param decision What {@link exitDecision} decided.
 * @returns The plan, with the reason when it is to deliver in process (the script cannot be written).
 * @example
 * ```ts ignore
 * const plan = withSenderScript(options, exitDecision(options, backlog, isTelemetryEnabled()));
 * if (plan.handOff && spooled) startSender(plan);
 * ```
 */
export function withSenderScript(options: ResolvedOptions, decision: ExitPlan): ExitPlan {
  if (decision.handOff && decision.command && !writeScript(decision.backlog)) {
    const reason = "the sender's script is not in the spool directory and cannot be written";
    return { handOff: false, reason, outcome: inProcessOutcome(options, decision.backlog) };
  }
  return decision;
}

/**
 * What became of the spooled events: a sender started, or one at work already, or they wait for the endpoint, or
 * for a run on a system that can start a process (`no processes`); `failed`: no sender, for another reason;
 * `crowded`: none, for the senders of other keys at work for its endpoint's host (the caller delivers them, in both).
 */
export type SenderStart = "started" | "at work" | "endpoint down" | "no processes" | "failed" | "crowded";

/**
 * Starts a sender for the spooled events, unless one is at work on them already, or another run is starting one
 * (see `markSenderStart`), or the endpoint is known to be down (then they wait in the spool for the run that probes
 * it). Never throws.
 *
 * @param plan A hand-off plan of {@link withSenderScript}, after the pending events were spooled.
 * @returns What became of the events; `failed` when no sender could be started (the caller delivers them).
 * @example
 * ```ts ignore
 * if (startSender(plan) === "failed") deliverInProcess();
 * ```
 */
export function startSender(plan: ExitPlan & { handOff: true }): SenderStart {
  try {
    const { spool, health, files } = plan.backlog;
    if (plan.command === undefined || health.isOpen()) return "endpoint down";
    const mark = markSenderStart(files, spool.dir, spool.key, plan.endpoint);
    if (mark === "at work" || mark === "crowded") return mark;
    const started = host().spawnDetached(plan.command);
    if (started === "started") health.noteHandOff();
    else clearStartMark(files, spool.dir, mark);
    return started;
  } catch {
    return "failed";
  }
}

/**
 * Whether events wait in the spool that this run's exit would deliver itself rather than hand off (the hand-off is
 * off, in CI say, or this process cannot start a sender, or hand-offs have not got them through for a minute): the
 * run then starts on them when it starts, so that a program whose exit cannot wait on the network
 * (`process.exit()` from inside its command) still delivers them while it works.
 *
 * @param options The handler's options.
 * @param backlog Its spool and the endpoint's health.
 * @returns `true` when the run should deliver the spool now.
 * @example
 * ```ts ignore
 * if (backlogIsOurs(options, backlog)) void handler.flush();
 * ```
 */
export function backlogIsOurs(options: ResolvedOptions, backlog: Backlog | null): boolean {
  if (backlog === null || backlog.health.isOpen() || backlog.spool.waitingSince(options.clock()) === undefined) {
    return false;
  }
  // The options rule the hand-off out, or this process cannot start a sender (a container's PID 1, an executable
  // that runs only its program, Deno without --allow-run...): its exit would deliver in process too.
  const { sink } = options;
  const grant = sink.kind === "http" ? senderGrant(sink.url, backlog.spool.dir) : undefined;
  return inProcessReason(options, backlog, true) !== undefined ||
    (grant !== undefined && (untoldConsentFile(grant) ?? host().senderRefusal(grant)) !== undefined);
}

/** What a sender for this endpoint and spool directory may do: what the host's command for it grants. */
function senderGrant(endpoint: string, dir: string): SenderGrant {
  const real = consentFileForSender();
  return {
    endpoint,
    dir,
    reads: real === undefined ? [] : [real],
    // The proxy settings too: under Deno, one it may not read could hold credentials its fetch would send further.
    variables: [...SENDER_READS, ...PROXY_VARIABLES, "HOME", "USERPROFILE"],
    set: real === undefined ? {} : { NAT_TELEMETRY_CONSENT_FILE: real },
  };
}

/** Why a sender could not be told where the consent file is, where it could not: it would read another decision. */
function untoldConsentFile(grant: SenderGrant): string | undefined {
  const told = grant.set.NAT_TELEMETRY_CONSENT_FILE;
  if (told === undefined || (!told.includes("\uFFFD") && isAbsolutePath(told, runtimeInfo().os))) return undefined;
  return "where the consent file is cannot be told to a sender (relative to a working directory the program cannot " +
    "read, or not valid Unicode): it would read another decision";
}

/**
 * The consent file as its sender is told it: where it leads ({@link whereItLeads}). Where that was read with U+FFFD
 * (bytes that are not UTF-8, under Node.js and Bun), it names another file: the path as given, where that is an
 * absolute one (the sender follows its links as the program does); else, as a path still relative, it cannot be told
 * ({@link untoldConsentFile}).
 */
function consentFileForSender(): string | undefined {
  const given = consentFileInForce();
  if (given === undefined) return undefined;
  const absolute = isAbsolutePath(given, runtimeInfo().os);
  // A relative one still (the working directory's path read with U+FFFD): from there, as the sender's is the spool's.
  const cwd = absolute ? undefined : host().files?.realPath(".");
  const real = whereItLeads(cwd === undefined ? given : below(cwd, given));
  return real.includes("\uFFFD") && absolute ? given : real;
}

/**
 * The file a path names, as the kernel finds it: its directory's real path, and its name. The sender is told this
 * path, and may read only it (Deno): a `..` after a link would otherwise be resolved as text, another file than the
 * program's. A name that is not a file's (`.`, `..`), a directory that cannot be resolved, or a real path the
 * program may not read (Deno and Node.js grant paths as given; a Node.js sender has the program's grants) leaves the
 * path as it is.
 */
function whereItLeads(path: string): string {
  const parts = dirAndName(path);
  if (parts === undefined || parts.name === "." || parts.name === "..") return path;
  const files = host().files;
  const realDir = files?.realPath(parts.dir);
  const real = realDir === undefined ? undefined : below(realDir, parts.name);
  return real !== undefined && files?.allowed(real, "read") ? real : path;
}

/** Why the events cannot be handed off, as far as the options and the spool tell. */
function inProcessReason(options: ResolvedOptions, backlog: Backlog | null, enabled: boolean): string | undefined {
  const { handOff, sink } = options;
  // What the events go to first: with no HTTP endpoint, whether the hand-off is on changes nothing.
  if (sink.kind !== "http") return "the events do not go to an HTTP endpoint";
  if (!handOff.enabled) return `the hand-off is off (${handOff.source})`;
  if (options.customFetch) return "the program delivers with its own fetch, which a sender process cannot call";
  if (options.requestTimeoutMs > MAX_SENDER_LIFETIME_MS - SENDER_START_MS) {
    return `a request may take longer (requestTimeoutSeconds) than a sender lives (${MAX_SENDER_LIFETIME_MS / 1000} s)`;
  }
  if (!enabled) return "telemetry was turned off during the run";
  const overridden = optOutOverridden();
  if (overridden !== undefined) {
    return `the program turned telemetry on over ${
      overridden === "file" ? "the consent file" : overridden
    }'s no, which a sender, reading the user's decision again, would follow`;
  }
  if (!backlog) return options.noSpool ? `there is no spool: ${options.noSpool}` : "there is no usable spool directory";
  if (!backlog.spool.ancestorsSeen) {
    return "who may change the directories above the spool cannot all be told (Deno without --allow-read, or " +
      "--allow-sys=uid,gid; Node.js --permission without --allow-fs-read for them): another user could swap " +
      "the sender's script there";
  }
  if (!mayConnect(options)) return "the program may not connect to the endpoint";
  // While the endpoint is known down, a run delivering itself would only spool too: no need to read the spool
  // (where a long outage has left up to a file per run) to find out whether hand-offs get through.
  const { spool, files, health } = backlog;
  if (health.isOpen()) return undefined;
  const now = options.clock();
  const waiting = spool.waitingSince(now);
  if (waiting === undefined) return undefined;
  // With the endpoint's failure on record, the events wait for the endpoint, and the next hand-off's sender probes it
  // (a run that probed a silent endpoint itself would pay its timeout). They wait for a sender where no failure is on
  // record, or where a hand-off since has had no report from its sender.
  const { state } = health;
  const since = state === undefined
    ? waiting
    : state.handedOffAt === undefined
    ? undefined
    : Math.max(waiting, state.handedOffAt);
  if (since !== undefined && now - since > STALLED_HANDOFF_MS && !senderAlive(files, spool.dir, spool.key, now)) {
    return "spooled events have waited a minute with no sender at work";
  }
  return undefined;
}

/** What the sender needs of the handler's options. */
function senderConfig(options: ResolvedOptions, spoolDir: string): SenderConfig {
  const { sink, format, spoolLimits, backoff } = options;
  return {
    endpoint: sink.kind === "http" ? sink.url : "",
    format: format.name,
    spoolDir,
    maxRetries: options.maxRetries,
    requestTimeoutSeconds: options.requestTimeoutMs / 1000,
    backoffInitialSeconds: backoff.initialMs / 1000,
    backoffMaxSeconds: backoff.maxMs / 1000,
    ...senderSizes(options),
    spoolMaxEvents: spoolLimits.maxEvents,
    spoolMaxBytes: spoolLimits.maxBytes,
    spoolMaxAgeDays: spoolLimits.maxAgeMs / 86_400_000,
    sourceClientVersion: options.sourceClientVersion,
    headers: { ...options.headers },
    resource: { ...format.resource },
  };
}

/**
 * Whether the sender's script is in the spool directory: a regular file of the user's own (not root's, which the
 * user's sender may not be able to read: a copy `sudo` made) under its name (a hash of its text), of its size. Spool
 * files are written whole (a temporary file, then a rename) in a private directory; a file cut short by a crash
 * before it reached the disk, or emptied, is written again.
 */
function scriptInPlace({ files, spool }: Backlog): boolean {
  return files.sizeOf(`${spool.dir}/${SENDER_SCRIPT_NAME}`, true) === SENDER_SCRIPT_BYTES;
}

/**
 * Makes sure the sender's script is in the spool directory. What else is under its name (a link, a FIFO, a copy of
 * root's that `sudo` left) is removed, never written through, as the health and drops records are: left, it kept
 * every later run from handing off. Writing it (a version's first hand-off there), it removes other versions'
 * scripts past {@link OTHER_SCRIPTS_KEPT}: each is 70-100 KB, and the spool's bounds count events.
 */
function writeScript(backlog: Backlog): boolean {
  if (scriptInPlace(backlog)) return true;
  const { files, spool } = backlog;
  const write = () => writeAtomically(files, spool.dir, SENDER_SCRIPT_NAME, senderScript(), Date.now());
  try {
    write();
  } catch (error) {
    if (!(error instanceof RefusedPath)) return false;
    try {
      files.remove(`${spool.dir}/${SENDER_SCRIPT_NAME}`);
      write();
    } catch {
      return false;
    }
  }
  removeSenderScripts(files, spool.dir, OTHER_SCRIPTS_KEPT);
  return true;
}

/**
 * Other versions' scripts a spool directory keeps, the most recently written: programs of as many versions, sharing
 * it, each find theirs in place (one removed is written again at its version's next hand-off).
 */
const OTHER_SCRIPTS_KEPT = 3;

/**
 * Removes the senders' scripts of other versions than this one from a spool directory, but the `kept` most recently
 * written, and those written less than a sender's life ago (another version's run may be starting its sender with
 * it); with `kept` at `"none"`, every script, this version's too (`nat-telemetry disable`: a hand-off writes it again
 * when needed). Never throws. A sender at work has read its script already, and dates it anew before it starts a
 * successor with it.
 *
 * @param files File access.
 * @param dir The spool directory.
 * @param kept How many other versions' scripts stay, or `"none"`.
 * @param now The current time, in epoch milliseconds.
 * @example
 * ```ts
 * import { removeSenderScripts } from "./exit_strategy.ts";
 * import { host } from "./runtime/mod.ts";
 * const files = host().files;
 * if (files) removeSenderScripts(files, "/tmp/spool", "none");
 * ```
 */
export function removeSenderScripts(files: HostFiles, dir: string, kept: number | "none", now = Date.now()): void {
  let scripts: string[];
  try {
    scripts = files.list(dir).filter((name) => SENDER_SCRIPT_FILE.test(name));
  } catch {
    return;
  }
  // What is not a script of the user's (a link, a FIFO, root's copy), or says it was written in the future (a clock
  // that ran ahead), has no time that tells: it goes first, as the oldest.
  const writtenAt = (name: string) => {
    const written = files.modifiedAt(`${dir}/${name}`);
    return written === undefined || written > now + MAX_SENDER_LIFETIME_MS ? -Infinity : written;
  };
  const removed = kept === "none" ? scripts : scripts
    .filter((name) => name !== SENDER_SCRIPT_NAME)
    .map((name) => ({ name, written: writtenAt(name) }))
    .sort((a, b) => b.written - a.written)
    .slice(kept)
    .filter(({ written }) => now - written > MAX_SENDER_LIFETIME_MS)
    .map(({ name }) => name);
  for (const name of removed) {
    try {
      files.remove(`${dir}/${name}`);
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}
