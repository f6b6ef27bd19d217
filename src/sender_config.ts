/**
 * What a program hands its sender process: the handler options that decide
 * how the spooled events are delivered. It travels in the sender's
 * environment (never its command line, which other users can read), under
 * {@link SENDER_CONFIG_ENV}; only the sender's own script reads it, so the
 * variable in a program's environment changes nothing the program does.
 *
 * @module
 */
import type { Filled } from "./filled.ts";
import { jsonLine } from "./json_line.ts";
import type { NATTelemetryHandlerOptions } from "./options.ts";
import type { SpawnCommand } from "./runtime/host.ts";

/** A sender's script in the spool directory, of any version (its name is a hash of its text). */
export const SENDER_SCRIPT_FILE = /^sender-[0-9a-f]{8}\.mjs$/;

/** The environment variable that carries a sender's configuration. */
export const SENDER_CONFIG_ENV = "NAT_TELEMETRY_SENDER";

/** The handler options a sender takes from its program: plain data, no function. */
export type SenderConfig =
  & Filled<
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
    readonly successor?: Omit<SpawnCommand, "cwd"> | undefined;
    /**
     * The program was on because the consent file said yes: the sender stops once it no longer does, though no
     * "no" is written there (a file emptied or rewritten by hand).
     */
    readonly onByConsentFile?: boolean | undefined;
  };

/**
 * A sender's environment: `env`, and its configuration in {@link SENDER_CONFIG_ENV} (what
 * {@link parseSenderConfig} reads back).
 *
 * @param env The rest of its environment.
 * @param config Its configuration.
 * @returns The environment to start it with.
 * @example
 * ```ts
 * import { parseSenderConfig, SENDER_CONFIG_ENV, withSenderConfig } from "./sender_config.ts";
 * const env = withSenderConfig({ PATH: "/usr/bin" }, { endpoint: "https://example.com/events", spoolDir: "/tmp/spool" } as never);
 * parseSenderConfig(env[SENDER_CONFIG_ENV])?.endpoint; // "https://example.com/events"
 * ```
 */
export function withSenderConfig(
  env: Readonly<Record<string, string>>,
  config: SenderConfig,
): Record<string, string> {
  // Written in ASCII, every other character as its escape: a value with U+FFFD in it (read from bytes that are not
  // UTF-8) would make the whole variable one the sender takes for unreadable, and it would find no configuration.
  const ascii = jsonLine(config).replace(
    /[\u007f-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return { ...env, [SENDER_CONFIG_ENV]: ascii };
}

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
