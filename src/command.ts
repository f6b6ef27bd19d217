/**
 * {@link trackCommand}: one call that records how a CLI command ended.
 *
 * @module
 */
import { randomHex } from "./atomic.ts";
import { isReportableClassName, isReportableName, reportableName } from "./command_name.ts";
import { isTelemetryEnabled, liveDecision } from "./consent.ts";
import { debugTrail, tellLogger } from "./debug.ts";
import { choices, describe, isPlainObject, unknownOption } from "./describe.ts";
import { CliCommandEvent, exitCodeOf, NemoSource, type TaskStatus } from "./events.ts";
import { NATTelemetryHandler } from "./handler.ts";
import { commandHandlerOptions, type NATTelemetryHandlerOptions } from "./options.ts";
import { askForConsent, optOutProblem } from "./prompt.ts";
import { host, runtimeInfo, SIGNAL_EXIT_STATUS } from "./runtime/mod.ts";

/** An error class a caller allows to be reported by name. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => unknown;

/** What {@link trackCommand} records, and how. */
export interface TrackCommandOptions {
  /**
   * The command, e.g. `run`: a fixed name from the program (up to 64 characters, no flag or path), never user text.
   * A string that is not such a name (`./notes.txt` where a CLI passes its first argument on) is reported as
   * `"undefined"`, and the command runs all the same: the debug trail says why. So is `undefined` (`positionals[0]`
   * when the user typed nothing) or a number (`mycli 42` as minimist parses it); only a missing key throws.
   */
  command: string | number | undefined;
  /**
   * The subcommand; reported only if it is one of `subcommands`, else `"undefined"` (without `subcommands`, always:
   * the debug trail says so).
   */
  subcommand?: string | number | undefined;
  /** The subcommands that may be reported: an array of strings (never one string). @default {[]} */
  subcommands?: readonly string[] | undefined;
  /** The product. @default {"agent_toolkit"} */
  nemoSource?: NemoSource | undefined;
  /**
   * Error classes of the program that may be reported by name. The runtime's
   * built-in classes always may; any other error is reported as `"Error"`.
   * An object names them (`{ ConfigError }`): a minifier renames classes
   * (`fe`), not an object's keys; an array reports each class's own name.
   * @default {[]}
   */
  errorClasses?: readonly ErrorClass[] | Readonly<Record<string, ErrorClass>> | undefined;
  /** Ask for consent first, on the first interactive run. @default {true} */
  askConsent?: boolean | undefined;
  /**
   * The command this program's users run to opt out, named in the consent question (e.g.
   * `mycli telemetry disable`, see `telemetryCommand` in `@nat/telemetry/cli`): they do not have `nat-telemetry`.
   * @default {undefined: the question names NAT_TELEMETRY_ENABLED=0}
   */
  optOutCommand?: string | undefined;
  /**
   * Options of the handler trackCommand creates (the session id is a random 32-hex one), but `captureInterrupts`,
   * which is trackCommand's own.
   */
  handler?: Omit<NATTelemetryHandlerOptions, "captureInterrupts"> | undefined;
}

/** Every option of {@link TrackCommandOptions}: a key not here is a typo. */
const OPTION_NAMES: Record<keyof TrackCommandOptions, true> = {
  command: true,
  subcommand: true,
  subcommands: true,
  nemoSource: true,
  errorClasses: true,
  askConsent: true,
  optOutCommand: true,
  handler: true,
};

/** The subcommand as it may be reported: one `subcommands` lists, else `"undefined"`, the trail saying why. */
function reportableSubcommand({ subcommand, subcommands }: TrackCommandOptions): string {
  if (typeof subcommand === "string" && subcommands?.includes(subcommand)) return subcommand;
  // Said, not thrown: a program passes a user's argument there, and what it is (or whether there is one) is a run's
  // data, which must not stop the program.
  if (subcommand !== undefined && subcommands === undefined) {
    debugTrail()?.(
      `'subcommand' is given without 'subcommands', the names that may be reported: reported as "undefined"`,
    );
  }
  return "undefined";
}

/** The built-in error classes, reported by name: they say nothing about the program. */
const BUILT_IN_ERRORS: readonly ErrorClass[] = [
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
  ...(typeof DOMException === "function" ? [DOMException] : []),
];

/**
 * What {@link trackCommand} gives back for a `main` that returns `T`: `T`, where
 * `undefined` (or `void`) becomes the exit code the program set
 * (`process.exitCode`, `Deno.exitCode`; `undefined` when none), so that
 * `process.exitCode = await trackCommand(...)` keeps a code `main` set. A
 * program's own generic wrapper returns it as `Promise<CommandResult<T>>`.
 *
 * @example
 * ```ts
 * import type { CommandResult } from "@nat/telemetry";
 * const code: CommandResult<void> = 2; // number | undefined
 * const value: CommandResult<string | undefined> = "done"; // string | number | undefined
 * ```
 */
export type CommandResult<T> = T extends undefined | void ? number | undefined : T;

/**
 * Runs a CLI's main function and records how it ended, as one
 * `nat_cli_command` event per call:
 *
 * - `main` returns a whole number: `success` for 0, else `failure`, with that exit code;
 * - `main` returns anything else (nothing, a string...): the code the program set in `process.exitCode` /
 *   `Deno.exitCode`, else 0, and `success` or `failure` as above;
 * - the exit code recorded is the one the process exits with when the program
 *   passes it on (`process.exitCode = await trackCommand(...)`): on POSIX
 *   systems the code modulo 256 (`256` is recorded as `success`, 0; `-1` as
 *   255), on Windows the code as an unsigned 32-bit number (`-1` is
 *   4294967295), as the runtimes pass it to the system;
 * - `main` throws: `failure`, exit code 1, with the error's class if it is
 *   built in (or listed in `errorClasses`), else `"Error"`;
 * - the process exits inside `main` (`process.exit(n)`, `Deno.exit(n)`):
 *   `success` for 0, else `failure`, with code n, spooled synchronously;
 * - Ctrl-C (SIGINT) or SIGTERM that ends the process: `interrupted`, 130
 *   with error class `"KeyboardInterrupt"` (as the Python tool reports it) or
 *   143, spooled before the process dies of the signal. When the program
 *   handles the signal itself, it decides what happens, and the outcome is
 *   whatever `main` then does.
 *
 * The event goes to a fresh handler, which starts delivering it as soon as
 * `main` is done and is released after its final flush (bounded by the exit
 * budget; what it cannot deliver is spooled for a later run), so repeated
 * calls in a long-lived program hold nothing. It returns or rethrows exactly
 * what `main` did, but where `main` returns nothing it returns the exit code
 * the program has set (`process.exitCode`, `Deno.exitCode`), so that passing
 * the result on keeps it; it prints nothing (except, once, the consent
 * question on an interactive terminal).
 *
 * Every option, the handler's included, is checked before anything else,
 * whatever the consent: a mistake throws on the developer's machine
 * (where telemetry is usually off), not only on the users' (where it is on).
 * What a string holds, which may be the user's (`process.env.KEY`), never
 * throws: an `endpoint` that is no URL, a header value that cannot be sent
 * or a relative `spoolDir` turns off what it is for, and says why.
 *
 * @param options The command and what may be reported about it.
 * @param main The command's work; may return an exit code.
 * @returns What `main` returned; where it returned nothing (`undefined`), the exit code set so far, if any.
 * @throws What `main` threw; before `main` runs, a `TypeError` or `RangeError` for a bad option (e.g.
 *   `options.command` not given, `subcommands` not an array of strings, a handler option out of range),
 *   whether telemetry is on or off. A `command` that is a string but not a command's name is not an error: it may
 *   be what a user typed, which must not stop the program; nor is a handler option's string that cannot be used.
 * @example
 * ```ts
 * import process from "node:process";
 * import { trackCommand } from "@nat/telemetry";
 *
 * process.exitCode = await trackCommand({ command: "run" }, async () => {
 *   // ... the command's work ...
 *   return 0;
 * });
 * ```
 */
export async function trackCommand<T>(
  options: TrackCommandOptions,
  main: () => T | Promise<T>,
): Promise<CommandResult<T>> {
  checkOptions(options);
  if (typeof main !== "function") {
    throw new TypeError(`Cannot track command: 'main' must be a function, got ${describe(main)}`);
  }
  // On the monotonic clock: a wall clock stepped during the command (NTP, a laptop's sleep) is not its duration.
  const started = host().monotonicMs();
  const subcommand = reportableSubcommand(options);
  const command = reportableName("command", options.command);
  let recorded = false;
  /** Records the outcome, once: the first way the command ended is the one reported. */
  const record = (taskStatus: TaskStatus, exitCode: number, errorClass = "undefined") => {
    if (recorded) return;
    recorded = true;
    try {
      handler.enqueue(
        new CliCommandEvent({
          nemoSource: options.nemoSource,
          command,
          subcommand,
          taskStatus,
          durationMs: host().monotonicMs() - started,
          exitCode,
          errorClass,
        }),
      );
    } catch {
      // Recording must never change what the command does.
    }
  };
  const recordExit = (code: number) => {
    const exitCode = exitStatus(code);
    record(exitCode === 0 ? "success" : "failure", exitCode);
  };
  // Created before the consent decision, so that a bad handler option throws whatever the consent. It touches
  // nothing (no file, no timer, no listener) until it is started.
  const handlerOptions: NATTelemetryHandlerOptions = {
    ...options.handler,
    // A session id the program left undefined (`process.env.SESSION` unset) is none: each command's own, as without it.
    sessionId: options.handler?.sessionId === undefined ? randomHex(32) : options.handler.sessionId,
    captureInterrupts: (signal) =>
      record("interrupted", SIGNAL_EXIT_STATUS[signal], signal === "SIGINT" ? "KeyboardInterrupt" : "undefined"),
  };
  // Its size options must hold the events it records, not only the smallest there can be.
  commandHandlerOptions.add(handlerOptions);
  const handler = new NATTelemetryHandler(handlerOptions);
  if (options.askConsent ?? true) await askForConsent({ optOut: options.optOutCommand });
  // What main returned, but for nothing: the code the program set, which `process.exitCode = await ...` then keeps.
  const passedOn = (result: T) => (result === undefined ? host().exitCode() : result) as CommandResult<T>;
  if (!isTelemetryEnabled()) {
    // To the program's logger too: where the trail's variable cannot be read (Deno without --allow-env), it is what
    // tells its author why nothing arrives. Made only where one of them hears it.
    const trail = debugTrail();
    const logger = options.handler?.logger;
    if (trail || logger) {
      const line = `telemetry off (decided by ${liveDecision().decidedBy}): the command is not recorded`;
      trail?.(line);
      tellLogger(logger, line);
    }
    return passedOn(await main());
  }
  // A program that broke what the hooks rely on (its `process.on`, a built-in's prototype) still runs its command,
  // and the handler starts without the hook it could not have.
  let unhookExit = () => {};
  try {
    // Registered before the handler's own hooks, so the outcome is recorded before they spool what is pending.
    unhookExit = host().onExit({ beforeExit: () => false, exit: recordExit });
  } catch {
    // The outcome is recorded when main ends, not at an exit that comes first.
  }
  try {
    handler.start();
  } catch {
    // A start that a broken built-in cut short: the handler still records, and stop() delivers.
  }
  try {
    const result = await main();
    const code = exitCodeOf(result);
    if (code === undefined && result !== undefined) {
      debugTrail()?.(`main returned ${describe(result)}, which is not an exit code: the program's is recorded`);
    }
    recordExit(code ?? host().exitCode() ?? 0);
    return passedOn(result);
  } catch (error) {
    record("failure", 1, reportableClass(error, options.errorClasses ?? []));
    throw error;
  } finally {
    unhookExit();
    // Awaited, so the event has left (handed off, or delivered within the exit budget where the exit delivers in
    // process) before the program goes on: one that exits or rethrows at once would otherwise cut the request, and
    // spool an event that Bun's HTTP thread may still deliver (sent twice), or that a CI machine never sends.
    await handler.stop().catch(() => {});
  }
}

/** Checks the options of {@link trackCommand} (the handler's are checked by the handler). */
function checkOptions(options: TrackCommandOptions): void {
  const fail = (message: string): never => {
    throw new TypeError(`Cannot track command: ${message}`);
  };
  if (!isPlainObject(options)) {
    fail(`options must be an object, got ${describe(options)}`);
  }
  const unknown = unknownOption(options, OPTION_NAMES);
  if (unknown) fail(unknown);
  const { subcommands, nemoSource, errorClasses, askConsent, optOutCommand, handler } = options;
  // What `command` and `subcommand` hold may be a user's (`positionals[0]`, nothing when nothing was typed, a number
  // as minimist and yargs parse `mycli 42`): only what the code decides throws, the key missing, so that it throws on
  // the developer's first run; the rest is reported as "undefined".
  if (!Object.hasOwn(options, "command")) fail(`'command' must be given: the command's fixed name, e.g. "run"`);
  if (subcommands !== undefined && !(Array.isArray(subcommands) && subcommands.every((s) => typeof s === "string"))) {
    fail(`'subcommands' must be an array of strings, got ${describe(subcommands)}`);
  }
  // Names the program fixes that could never be reported: each event would say "undefined", the trail alone why.
  const unreportable = subcommands?.find((name) => !isReportableName(name));
  if (unreportable !== undefined) {
    fail(
      `'subcommands' holds ${describe(unreportable)}, which would be reported as "undefined": a subcommand's name ` +
        "is 1-64 characters, with no flag, path, URL, address, run of 4 digits, token or invisible character",
    );
  }
  const sources: readonly string[] = Object.values(NemoSource);
  if (nemoSource !== undefined && !sources.includes(nemoSource as string)) {
    fail(`'nemoSource' must be one of ${choices(sources)}, got ${describe(nemoSource)}`);
  }
  const classes = Array.isArray(errorClasses) ? errorClasses : isPlainObject(errorClasses) ? errorClasses : undefined;
  const notClass = classes && Object.entries(classes).find(([, c]) => typeof c !== "function");
  if (errorClasses !== undefined && (!classes || notClass)) {
    // The entry that is no class, where there is one: `["ConfigError"]` is an array, of a name rather than a class.
    const got = notClass
      ? `${Array.isArray(classes) ? "an array" : "an object"} holding ${describe(notClass[1])} at ${notClass[0]}`
      : describe(errorClasses);
    fail(`'errorClasses' must be an array of classes or an object naming them, got ${got}`);
  }
  const unnamed = classes && !Array.isArray(classes)
    ? Object.keys(classes).find((name) => !isReportableClassName(name))
    : undefined;
  if (unnamed !== undefined) {
    fail(
      `'errorClasses' names a class ${describe(unnamed)}, which would be reported as "undefined": a class's name is ` +
        "a letter, `_` or `$`, then letters and digits, `.` or `::` between parts",
    );
  }
  if (askConsent !== undefined && typeof askConsent !== "boolean") {
    fail(`'askConsent' must be a boolean, got ${describe(askConsent)}`);
  }
  const optOutWrong = optOutProblem("optOutCommand", optOutCommand);
  if (optOutWrong) fail(optOutWrong);
  if (handler !== undefined && !isPlainObject(handler)) {
    fail(`'handler' must be an object of handler options, got ${describe(handler)}`);
  }
  // A handler made by the program, whose settings (private) would be lost: trackCommand makes its own.
  if (handler !== undefined && typeof (handler as { enqueue?: unknown }).enqueue === "function") {
    fail(
      "'handler' takes a handler's options ({ endpoint, spoolDir, ... }), not a NATTelemetryHandler: trackCommand " +
        "makes its own",
    );
  }
  // Given (a value, or a getter), not only there: `undefined` is not given, as for every option.
  const capture = handler === undefined ? undefined : Object.getOwnPropertyDescriptor(handler, "captureInterrupts");
  if (capture?.get !== undefined || capture?.value !== undefined) {
    fail("'handler.captureInterrupts' is trackCommand's own: it records Ctrl-C and SIGTERM as the command's outcome");
  }
}

/**
 * The status a process ends with when it sets this exit code: POSIX keeps the low 8 bits (256 is 0, -1 is
 * 255); Windows keeps 32 bits, unsigned.
 */
function exitStatus(code: number): number {
  return runtimeInfo().os === "win32" ? code >>> 0 : code & 0xff;
}

/** The error's class name if it may be reported, else `"Error"`. */
function reportableClass(
  error: unknown,
  allowed: readonly ErrorClass[] | Readonly<Record<string, ErrorClass>>,
): string {
  try {
    const constructor = (error as { constructor?: ErrorClass } | null)?.constructor;
    if (!constructor) return "Error";
    if (!Array.isArray(allowed)) {
      const named = Object.entries(allowed).find(([, each]) => each === constructor);
      if (named) return named[0];
    }
    if (BUILT_IN_ERRORS.includes(constructor) || (Array.isArray(allowed) && allowed.includes(constructor))) {
      return constructor.name || "Error";
    }
  } catch {
    // A revoked Proxy or a throwing getter: what `main` threw is rethrown all the same, and recorded as an Error.
  }
  return "Error";
}
