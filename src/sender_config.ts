/**
 * What a program hands its sender process: the handler options that decide
 * how the spooled events are delivered. It travels in the sender's
 * environment (never its command line, which other users can read), under
 * {@link SENDER_CONFIG_ENV}; only the sender's own script reads it, so the
 * variable in a program's environment changes nothing the program does.
 *
 * @module
 */
import type { NATTelemetryHandlerOptions } from "./options.ts";

/** The environment variable that carries a sender's configuration. */
export const SENDER_CONFIG_ENV = "NAT_TELEMETRY_SENDER";

/** The handler options a sender takes from its program: plain data, no function. */
export type SenderConfig =
  & Required<
    Pick<
      NATTelemetryHandlerOptions,
      | "endpoint"
      | "format"
      | "maxRetries"
      | "requestTimeoutSeconds"
      | "backoffInitialSeconds"
      | "backoffMaxSeconds"
      | "maxBatchBytes"
      | "maxEventBytes"
      | "spoolMaxEvents"
      | "spoolMaxBytes"
      | "spoolMaxAgeDays"
      | "sourceClientVersion"
      | "headers"
      | "resource"
    >
  >
  & {
    readonly spoolDir: string;
    /**
     * How the sender was started, but for this configuration: how it starts its successor when its life ends
     * with work left (see `sender.ts`).
     */
    readonly successor?: { readonly argv: readonly string[]; readonly env: Readonly<Record<string, string>> };
  };

/**
 * Reads a sender's configuration from its environment variable.
 *
 * @param text The variable's value.
 * @returns The configuration, or `undefined` when there is none or it is not an object with a spool and an
 *   endpoint (the handler checks every option when the sender builds it).
 * @example
 * ```ts
 * import { parseSenderConfig } from "./sender_config.ts";
 * parseSenderConfig("not json"); // undefined
 * ```
 */
export function parseSenderConfig(text: string | undefined): SenderConfig | undefined {
  if (!text) return undefined;
  try {
    const config = JSON.parse(text);
    const valid = typeof config === "object" && config !== null && typeof config.spoolDir === "string" &&
      typeof config.endpoint === "string";
    return valid ? config : undefined;
  } catch {
    return undefined;
  }
}
