/**
 * {@link trackCommand}: one call that records how a CLI command ended.
 *
 * @module
 */
import { randomHex } from "./atomic.ts";
import { isTelemetryEnabled } from "./consent.ts";
import { describe } from "./describe.ts";
import { CliCommandEvent, type NemoSource, type TaskStatus } from "./events.ts";
import { NATTelemetryHandler } from "./handler.ts";
import type { NATTelemetryHandlerOptions } from "./options.ts";
import { askForConsent } from "./prompt.ts";
import { SIGNAL_EXIT_STATUS } from "./runtime/mod.ts";

/** An error class a caller allows to be reported by name. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => unknown;

/** What {@link trackCommand} records, and how. */
export interface TrackCommandOptions {
  /** The command, e.g. `run`: a fixed name from the program, never user text. */
  command: string;
  /** The subcommand; reported only if it is one of `subcommands`, else `"undefined"`. */
  subcommand?: string;
  /** The subcommands that may be reported. @default {[]} */
  subcommands?: readonly string[];
  /** The product. @default {"agent_toolkit"} */
  nemoSource?: NemoSource;
  /**
   * Error classes of the program that may be reported by name. The runtime's
   * built-in classes always may; any other error is reported as `"Error"`.
   * @default {[]}
   */
  errorClasses?: readonly ErrorClass[];
  /** Ask for consent first, on the first interactive run. @default {true} */
  askConsent?: boolean;
  /** Options of the handler trackCommand creates (the session id is a random 32-hex one). */
  handler?: NATTelemetryHandlerOptions;
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
 * Runs a CLI's main function and records how it ended as a `nat_cli_command`
 * event: a returned exit code 0 (or nothing) is `success`; a non-zero code is
 * `failure` with that code; a thrown error is `failure`, exit code 1, with its
 * class if it is built in (or listed); Ctrl-C or SIGTERM is `interrupted`
 * (130 or 143), spooled before the process dies of the signal. The event goes
 * to a fresh handler whose exit hooks deliver it or spool it for a later run.
 * It returns or rethrows exactly what `main` did and prints nothing (except,
 * once, the consent question on an interactive terminal).
 *
 * @param options The command and what may be reported about it.
 * @param main The command's work; may return an exit code.
 * @returns What `main` returned.
 * @throws What `main` threw; a `TypeError` when `options.command` is not a non-empty string.
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
export async function trackCommand<T>(options: TrackCommandOptions, main: () => T | Promise<T>): Promise<T> {
  if (typeof options?.command !== "string" || options.command === "") {
    throw new TypeError(
      `Cannot track command: 'command' must be a non-empty string, got ${describe(options?.command)}`,
    );
  }
  if (options.askConsent ?? true) await askForConsent();
  if (!isTelemetryEnabled()) return await main();
  const started = performance.now();
  const subcommand = options.subcommands?.includes(options.subcommand ?? "") ? options.subcommand : "undefined";
  const record = (taskStatus: TaskStatus, exitCode: number, errorClass = "undefined") => {
    try {
      handler.enqueue(
        new CliCommandEvent({
          nemoSource: options.nemoSource,
          command: options.command,
          subcommand,
          taskStatus,
          durationMs: performance.now() - started,
          exitCode,
          errorClass,
        }),
      );
    } catch {
      // Recording must never change what the command does.
    }
  };
  const handler = new NATTelemetryHandler({
    sessionId: randomHex(32),
    ...options.handler,
    captureInterrupts: (signal) => record("interrupted", SIGNAL_EXIT_STATUS[signal]),
  });
  handler.start();
  let result: T;
  try {
    result = await main();
  } catch (error) {
    record("failure", 1, reportableClass(error, options.errorClasses ?? []));
    throw error;
  }
  const exitCode = typeof result === "number" && Number.isInteger(result) ? result : 0;
  record(exitCode === 0 ? "success" : "failure", exitCode);
  return result;
}

/** The error's class name if it may be reported, else `"Error"`. */
function reportableClass(error: unknown, allowed: readonly ErrorClass[]): string {
  const constructor = (error as { constructor?: ErrorClass } | null)?.constructor;
  if (constructor && (BUILT_IN_ERRORS.includes(constructor) || allowed.includes(constructor))) {
    return constructor.name || "Error";
  }
  return "Error";
}
