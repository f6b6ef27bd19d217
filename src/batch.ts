/**
 * Events waiting to be delivered, already serialized, and how they are cut
 * into request bodies that fit a byte budget.
 *
 * @module
 */
import { describeError } from "./describe.ts";
import { wireEventJson } from "./envelope.ts";
import { DEFAULT_SCHEMA_VERSION, SCHEMA_VERSION_SLACK_BYTES, TelemetryEvent } from "./events.ts";
import { utf8Length } from "./utf8.ts";
import type { ResolvedOptions } from "./options.ts";
import type { SpoolClaim } from "./spool.ts";

/** An event held by a handler: serialized once at enqueue, with its retry state. */
export interface PendingEvent {
  /** `JSON.stringify` of its wire form. */
  readonly json: string;
  /** The UTF-8 length of `json`. */
  readonly bytes: number;
  /** Its schema version; a batch holds one. */
  readonly schemaVersion: string;
  /** The session it was recorded in; a batch holds one, so a replayed event keeps its session. */
  readonly sessionId: string;
  /**
   * The client version the run that recorded it sends (`sourceClientVersion`); a batch holds one, so a replayed event
   * keeps it across an upgrade. Unknown for events an older version spooled: those go with the sender's.
   */
  readonly clientVersion?: string | undefined;
  /** When it happened, in epoch milliseconds. */
  readonly timestamp: number;
  /** Failed deliveries so far. */
  retries: number;
  /**
   * How many times a run ended a request carrying it before the answer (its exit, or its exit budget): the endpoint
   * may have it. A flush that a program's exit may cut again sends fewer of these (see `HELD_FROM`, handler.ts).
   */
  cuts?: number | undefined;
  /** Not to be sent before this time, in epoch milliseconds. */
  notBefore: number;
  /** The spool file it was read from, if it came from an earlier run. */
  readonly claim?: SpoolClaim | undefined;
}

/**
 * The last millisecond of the year 9999. Later years are written `+010000-...`, which the NAT envelope's timestamp
 * (and Python's datetime) cannot carry, as OTLP's unsigned nanoseconds cannot carry a time before 1970.
 *
 * @example
 * ```ts
 * import { LATEST_WIRE_TIME_MS } from "./batch.ts";
 * new Date(LATEST_WIRE_TIME_MS).toISOString(); // "9999-12-31T23:59:59.999Z"
 * ```
 */
export const LATEST_WIRE_TIME_MS = 253_402_300_799_999;

/** Why an event could not be kept: the counter it is dropped under, and what was wrong with it. */
export interface Refusal {
  /** `not_an_event`, `invalid_event` or `event_too_large`. */
  readonly reason: string;
  /** The field at fault, or the size, in words. */
  readonly detail: string;
}

/** The most bytes an event's schema version may take in an envelope (JSON-encoded): the default's, and the slack. */
const MAX_SCHEMA_VERSION_JSON_BYTES = JSON.stringify(DEFAULT_SCHEMA_VERSION).length + SCHEMA_VERSION_SLACK_BYTES;

/**
 * Whether a schema version fits the room `maxBatchBytes` keeps for it beside the envelope. The last one that fits is
 * remembered: an event type's events share theirs, and its JSON, written twice for each event enqueued, was a
 * fifth of a long-lived host's enqueue under Bun.
 */
function schemaVersionFits(schemaVersion: string): boolean {
  if (schemaVersion === lastFitting) return true;
  const fits = utf8Length(JSON.stringify(schemaVersion)) <= MAX_SCHEMA_VERSION_JSON_BYTES;
  if (fits) lastFitting = schemaVersion;
  return fits;
}

/** The schema version {@link schemaVersionFits} found fitting last. */
let lastFitting: string | undefined;

/**
 * Serializes an event once, for a handler to hold, or says why it cannot be
 * kept: `not_an_event`, `invalid_event` (a parameter the wire cannot carry, a
 * getter or proxy that throws, a time outside 1970-9999, a schema version longer than the envelope keeps room for)
 * or `event_too_large`. Never throws.
 *
 * @param event What was enqueued.
 * @param run The handler's session, client version, largest serialized event and body accepted, and wire format.
 * @returns The pending event, or why it is dropped.
 * @example
 * ```ts
 * import { toPending } from "./batch.ts";
 * import { CliCommandEvent } from "./events.ts";
 * import { natFormat } from "./wire_format.ts";
 * const format = natFormat("1.0.0");
 * const run = { sessionId: "s", sourceClientVersion: "1.0.0", maxEventBytes: 32768, maxBatchBytes: 500_000, format };
 * toPending(new CliCommandEvent({ command: "run", taskStatus: "success" }), run); // { json: '{"ts":…', … }
 * toPending({ name: "fake" }, run); // { reason: "not_an_event", detail: "not a TelemetryEvent" }
 * ```
 */
export function toPending(
  event: unknown,
  run: Pick<ResolvedOptions, "sessionId" | "sourceClientVersion" | "maxEventBytes" | "maxBatchBytes" | "format">,
): PendingEvent | Refusal {
  const { sessionId, sourceClientVersion: clientVersion } = run;
  try {
    if (!(event instanceof TelemetryEvent)) return { reason: "not_an_event", detail: "not a TelemetryEvent" };
  } catch {
    return { reason: "not_an_event", detail: "a proxy that cannot be inspected" };
  }
  try {
    const { schemaVersion, timestamp } = event;
    if (typeof schemaVersion !== "string") return { reason: "invalid_event", detail: "schemaVersion is not a string" };
    if (!schemaVersionFits(schemaVersion)) {
      return {
        reason: "invalid_event",
        detail:
          `schemaVersion is longer than the ${SCHEMA_VERSION_SLACK_BYTES} bytes beyond "${DEFAULT_SCHEMA_VERSION}" ` +
          "that maxBatchBytes keeps for it",
      };
    }
    if (!Number.isFinite(timestamp)) return { reason: "invalid_event", detail: "timestamp is not a finite number" };
    if (timestamp < 0 || timestamp > LATEST_WIRE_TIME_MS) {
      return { reason: "invalid_event", detail: "timestamp outside the years 1970-9999 that both wire formats carry" };
    }
    const { json, bytes } = wireEventJson(event);
    const pending = { json, bytes, schemaVersion, sessionId, clientVersion, timestamp, retries: 0, notBefore: 0 };
    const tooLarge = sizeProblem(pending, run);
    return tooLarge === undefined ? pending : { reason: "event_too_large", detail: tooLarge };
  } catch (error) {
    return { reason: "invalid_event", detail: describeError(error) };
  }
}

/**
 * Why an event could never be sent within a handler's bounds (`event_too_large`), or `undefined` where it fits: its
 * JSON past `maxEventBytes`, or, alone in a batch, a body past `maxBatchBytes`, which happens where its record is
 * larger than its JSON (an OTLP log record grows by the parameter) or its envelope is not the handler's own (an event
 * an earlier run or another program spooled: its session, client version and schema version).
 *
 * @param event The event.
 * @param run The handler's bounds, session, client version and wire format.
 * @returns What makes it too large, in words.
 * @example
 * ```ts
 * import { sizeProblem } from "./batch.ts";
 * import { natFormat } from "./wire_format.ts";
 * const format = natFormat("1.0.0");
 * const run = { sessionId: "s", sourceClientVersion: "1.0.0", maxEventBytes: 32768, maxBatchBytes: 500_000, format };
 * const event = { json: "{}", bytes: 2, schemaVersion: "1.5", sessionId: "s", timestamp: 0, retries: 0, notBefore: 0 };
 * sizeProblem(event, run); // undefined
 * ```
 */
export function sizeProblem(
  event: PendingEvent,
  run: Pick<ResolvedOptions, "sessionId" | "sourceClientVersion" | "maxEventBytes" | "maxBatchBytes" | "format">,
): string | undefined {
  const { maxEventBytes, maxBatchBytes, format } = run;
  if (event.bytes > maxEventBytes) {
    return `${event.bytes} bytes serialized, more than ${Math.max(maxEventBytes, 0)} (maxEventBytes, or what ` +
      "maxBatchBytes leaves beside the envelope, which NAT_SESSION_PREFIX, OTEL resource attributes and " +
      "NAT_TELEMETRY_FORMAT make larger)";
  }
  // maxEventBytes keeps room for the handler's own envelope, and a schema version up to the slack: measured only
  // where the event needs more than that.
  const inBatch = format.eventBytes(event);
  const ownEnvelope = event.sessionId === run.sessionId && event.clientVersion === run.sourceClientVersion &&
    schemaVersionFits(event.schemaVersion);
  if ((inBatch > event.bytes || !ownEnvelope) && format.emptyBytes(event) + inBatch > maxBatchBytes) {
    return `${inBatch} bytes as the ${format.name} format carries it, more than maxBatchBytes leaves beside its ` +
      "envelope";
  }
  return undefined;
}

/**
 * Cuts events, in order, into batches of one schema version, session and
 * client version whose envelope stays within `maxBatchBytes`. An event too large for any batch still gets
 * a batch of its own (the handler refuses such events at enqueue).
 *
 * @param events The events, in sending order.
 * @param maxBatchBytes The most bytes of one request body.
 * @param envelopeBytes The bytes of an envelope with no events, for a batch that starts with this event.
 * @param eventBytes The bytes an event adds, without its separator. @default {its serialized size}
 * @returns The batches, in order.
 * @example
 * ```ts
 * import { planBatches } from "./batch.ts";
 * const event = { json: "{}", bytes: 2, schemaVersion: "1.5", sessionId: "s", timestamp: 0, retries: 0, notBefore: 0 };
 * planBatches([event, event, event], 105, () => 100).length; // 2: "{},{}" fits in 5 bytes, a third does not
 * ```
 */
export function planBatches(
  events: readonly PendingEvent[],
  maxBatchBytes: number,
  envelopeBytes: (first: PendingEvent) => number,
  eventBytes: (event: PendingEvent) => number = (event) => event.bytes,
): PendingEvent[][] {
  const batches: PendingEvent[][] = [];
  let current: PendingEvent[] = [];
  let size = 0;
  for (const event of events) {
    const bytes = eventBytes(event);
    const fits = current.length > 0 && event.schemaVersion === current[0].schemaVersion &&
      event.sessionId === current[0].sessionId && event.clientVersion === current[0].clientVersion &&
      size + 1 + bytes <= maxBatchBytes;
    if (!fits) {
      current = [];
      batches.push(current);
      size = envelopeBytes(event) - 1; // the first event needs no comma
    }
    size += 1 + bytes;
    current.push(event);
  }
  return batches;
}
