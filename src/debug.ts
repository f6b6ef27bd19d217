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
