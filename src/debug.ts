/**
 * The debug trail, for the developer of a CLI: with `NAT_TELEMETRY_DEBUG=1`
 * (as `NEXT_TELEMETRY_DEBUG` and `TURBO_TELEMETRY_DEBUG` do for their tools),
 * every decision and every request is written to standard error, one line
 * each: the consent and what decided it, the endpoint, format and spool, how
 * the exit delivers and why, each request's body as sent, each answer, each
 * drop with its reason. Delivery goes on as usual; nothing is ever written to
 * standard output.
 *
 * @module
 */
import { parseFlag } from "./config.ts";
import { host } from "./runtime/mod.ts";

/**
 * The debug trail's writer, when `NAT_TELEMETRY_DEBUG` is set to a yes value.
 *
 * @returns A function that writes one line to standard error, or `undefined` when the trail is off.
 * @example
 * ```ts
 * import { debugTrail } from "./debug.ts";
 * debugTrail()?.("endpoint: https://example.com/events");
 * ```
 */
export function debugTrail(): ((line: string) => void) | undefined {
  const runtime = host();
  if (!parseFlag(runtime.env("NAT_TELEMETRY_DEBUG"))) return undefined;
  return (line) => runtime.writeStderr(`[nat-telemetry] ${line}\n`);
}

/** The program's loggers being given a line: what one makes the package say meanwhile is not given it again. */
const telling = new Set<unknown>();

/**
 * Gives a line to a program's `logger` option, where it has one: a logger that throws or rejects changes nothing.
 * A line said while that logger runs (it called the package, which said something) is not given to it: a logger that
 * records an event for every line it hears would otherwise make each line say another, without end.
 *
 * @param logger The program's logger, or `undefined`.
 * @param line The line, without the `[nat-telemetry] ` prefix it is given with.
 * @example
 * ```ts
 * import { tellLogger } from "./debug.ts";
 * tellLogger(console.error, "dropped 1 event(s): buffer_full");
 * ```
 */
export function tellLogger(logger: ((line: string) => unknown) | undefined, line: string): void {
  if (logger === undefined || telling.has(logger)) return;
  telling.add(logger);
  try {
    // An async logger's rejection, left unhandled, would end the program (Node.js, Bun): it is caught too, a promise of
    // another realm's (`node:vm`) or a thenable as well.
    Promise.resolve(logger(`[nat-telemetry] ${line}`)).catch(() => {});
  } catch {
    // A broken logger must not break the host program.
  } finally {
    telling.delete(logger);
  }
}
