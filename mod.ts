/**
 * A telemetry client for command-line programs that runs unmodified under
 * Deno, Node.js and Bun: the TypeScript counterpart of the Python
 * `nat.utils.telemetry` handler of the NeMo Agent Toolkit, with the same
 * options, defaults, wire envelope and consent file.
 *
 * It batches events, retries with jittered backoff, accounts for every event
 * in {@link NATTelemetryHandler.stats}, never throws into the host program,
 * and never keeps it alive. At exit it does not wait on the network: pending
 * events are spooled to disk and a short-lived detached sender process
 * delivers them (in CI, or where no process may be started, the final flush
 * happens in process, within the exit budget). What cannot be delivered is
 * kept for a later run; while the endpoint is known to be down, runs spool at
 * once instead of waiting. Besides the Python tool's envelope it can send
 * OTLP/HTTP logs to an OpenTelemetry Collector (`format: "otlp"`).
 *
 * Telemetry is off until the user agrees ({@link askForConsent}, asked once on
 * an interactive terminal, shared with the Python tool), unless
 * `NAT_TELEMETRY_ENABLED` or `DO_NOT_TRACK` decide.
 *
 * @example Record how a command ended.
 * ```ts
 * import process from "node:process";
 * import { trackCommand } from "@nat/telemetry";
 *
 * process.exitCode = await trackCommand({ command: "run" }, () => {
 *   // ... the command's work ...
 *   return 0;
 * });
 * ```
 *
 * @example Use the handler directly (telemetry is off until the user agrees: ask first).
 * ```ts
 * import { askForConsent, CliCommandEvent, NATTelemetryHandler } from "@nat/telemetry";
 *
 * await askForConsent({ optOut: "mycli telemetry disable" }); // once, on an interactive terminal
 * await using telemetry = new NATTelemetryHandler();
 * telemetry.enqueue(new CliCommandEvent({ command: "run", taskStatus: "success", durationMs: 12, exitCode: 0 }));
 * // Leaving the block hands the event to the sender (or, in CI, flushes within the 2 s exit budget).
 * ```
 *
 * @module
 */
export { NATTelemetryHandler, type TelemetryStats } from "./src/handler.ts";
export {
  DEFAULT_FLUSH_INTERVAL_SECONDS,
  DEFAULT_MAX_QUEUE_SIZE,
  DEFAULT_MAX_RETRIES,
  DEFAULT_REQUEST_TIMEOUT_SECONDS,
  type NATTelemetryHandlerOptions,
} from "./src/options.ts";
export { CLIENT_VERSION } from "./src/version.ts";
export type { Fetch, FetchResponse, InterruptSignal } from "./src/runtime/mod.ts";
export {
  CliCommandEvent,
  type CliCommandEventInit,
  DEFAULT_SCHEMA_VERSION,
  type EventParameters,
  NemoSource,
  type ParameterValue,
  TaskStatus,
  TelemetryEvent,
  type TelemetryEventOptions,
} from "./src/events.ts";
export { buildPayload, type Envelope, type EnvelopeOptions, formatTimestamp, type WireEvent } from "./src/envelope.ts";
export { DEFAULT_ENDPOINT } from "./src/config.ts";
export {
  consentFilePath,
  type ConsentSource,
  type ConsentState,
  type EffectiveConsent,
  effectiveConsent,
  isTelemetryEnabled,
  PROMPT_VERSION,
  recordConsent,
  setTelemetryEnabled,
} from "./src/consent.ts";
export { askForConsent } from "./src/prompt.ts";
export { type CommandResult, type ErrorClass, trackCommand, type TrackCommandOptions } from "./src/command.ts";
