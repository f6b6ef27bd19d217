/**
 * The wire formats a handler speaks, side by side behind one interface: the
 * NAT envelope of the Python tool, and OTLP/HTTP logs. Each is a pure mapping
 * from a batch of pending events to a request body, with the rules for sizing
 * batches and for reading the answer; the handler and the delivery do not
 * know which one they carry.
 *
 * @module
 */
import type { PendingEvent } from "./batch.ts";
import type { DeliveryOutcome } from "./delivery.ts";
import { encodeEnvelope, envelopeHeader } from "./envelope.ts";
import { jsonLine } from "./json_line.ts";
import { classifyOtlp, encodeOtlpLogs, otlpRecord, type OtlpSender } from "./otlp.ts";
import { type RuntimeInfo, runtimeInfo } from "./runtime/mod.ts";
import { utf8Length } from "./utf8.ts";

/** The names of the wire formats. */
export type WireFormatName = "nat" | "otlp";

/** A wire format. Every batch holds events of one session and one schema version. */
export interface WireFormat {
  /** Its name, as `format` and `NAT_TELEMETRY_FORMAT` spell it. */
  readonly name: WireFormatName;
  /**
   * The request body of a batch.
   *
   * @param events The batch.
   * @param sentAt When it is sent, in epoch milliseconds.
   */
  encode(events: readonly PendingEvent[], sentAt: number): string;
  /**
   * The bytes of a body with no events, for a batch that starts with `first`.
   *
   * @param first The batch's first event.
   */
  emptyBytes(first: PendingEvent): number;
  /**
   * The bytes one event adds to a body, without its separator.
   *
   * @param event The event.
   */
  eventBytes(event: PendingEvent): number;
  /** Whether the body of a 2xx answer says something (and so is read). */
  readonly readsAnswer: boolean;
  /** The resource attributes it sends (OTLP), `service.name` included. */
  readonly resource?: Readonly<Record<string, string>> | undefined;
  /**
   * What an answer means for a batch, where it differs from plain HTTP (`classifyStatus` in `delivery.ts`).
   *
   * @param status The HTTP status.
   * @param retryAfterMs The parsed `Retry-After`.
   * @param body The body of a 2xx answer, when {@link WireFormat.readsAnswer}.
   * @param count The events in the batch.
   */
  readonly classify?: (
    status: number,
    retryAfterMs: number | undefined,
    body: string | undefined,
    count: number,
  ) => DeliveryOutcome;
}

/**
 * The NAT envelope of the Python tool.
 *
 * @param sourceClientVersion The envelope's `clientVer`, but for events recorded under another (replayed after an
 *   upgrade), which keep theirs.
 * @param runtime The runtime and machine the envelope names. @default {runtimeInfo()}
 * @returns The format.
 * @example
 * ```ts
 * import { natFormat } from "./wire_format.ts";
 * natFormat("1.2.3").name; // "nat"
 * ```
 */
export function natFormat(sourceClientVersion: string, runtime: RuntimeInfo = runtimeInfo()): WireFormat {
  const header = ({ schemaVersion, sessionId, clientVersion = sourceClientVersion }: PendingEvent, sentAt: number) =>
    envelopeHeader(schemaVersion, {
      sourceClientVersion: clientVersion,
      sessionId,
      cpuArchitecture: runtime.machine,
      sentAt,
    });
  return {
    name: "nat",
    encode: (events, sentAt) => encodeEnvelope(header(events[0], sentAt), events.map((event) => event.json)),
    emptyBytes: measuredOnce(
      ({ schemaVersion, sessionId, clientVersion }) => [schemaVersion, sessionId, clientVersion],
      (first) => utf8Length(encodeEnvelope(header(first, 0), [])),
    ),
    eventBytes: (event) => event.bytes,
    readsAnswer: false,
  };
}

/**
 * OTLP/HTTP logs, JSON encoding.
 *
 * @param sender What the resource says about the sender (its `service.version`, but for events recorded under another
 *   client version, replayed after an upgrade, which keep theirs).
 * @param runtime The runtime and machine the resource names. @default {runtimeInfo()}
 * @returns The format.
 * @example
 * ```ts
 * import { otlpFormat } from "./wire_format.ts";
 * otlpFormat({ serviceName: "my-cli", serviceVersion: "1.2.3", resourceAttributes: {} }).readsAnswer; // true
 * ```
 */
export function otlpFormat(sender: OtlpSender, runtime: RuntimeInfo = runtimeInfo()): WireFormat {
  /** The sender as the run that recorded a batch's events would have described itself. */
  const recordedBy = ({ clientVersion = sender.serviceVersion }: PendingEvent) =>
    clientVersion === sender.serviceVersion ? sender : { ...sender, serviceVersion: clientVersion };
  // A record depends on its event alone: encoded and sized once, whether it is sized, sent or resent.
  const encoded = new WeakMap<PendingEvent, { json: string; bytes: number }>();
  const record = (event: PendingEvent) => {
    let made = encoded.get(event);
    if (made === undefined) {
      const json = jsonLine(otlpRecord(event));
      encoded.set(event, made = { json, bytes: utf8Length(json) });
    }
    return made;
  };
  return {
    name: "otlp",
    encode: (events) =>
      encodeOtlpLogs(events.map((event) => record(event).json), events[0].sessionId, recordedBy(events[0]), runtime),
    emptyBytes: measuredOnce(
      ({ sessionId, clientVersion }) => [sessionId, clientVersion],
      (first) => utf8Length(encodeOtlpLogs([], first.sessionId, recordedBy(first), runtime)),
    ),
    eventBytes: (event) => record(event).bytes,
    readsAnswer: true,
    resource: { ...sender.resourceAttributes, "service.name": sender.serviceName },
    classify: classifyOtlp,
  };
}

/**
 * An envelope's size, measured again only when the fields it depends on differ from the last event's: a run's events
 * share theirs, which was otherwise encoded for each OTLP event enqueued (two fifths of its enqueue) and for each
 * batch planned, and so do an earlier run's events that a sender replays.
 *
 * @param fields What of the batch's first event its envelope depends on.
 * @param measure The envelope's size.
 */
function measuredOnce(
  fields: (first: PendingEvent) => readonly (string | undefined)[],
  measure: (first: PendingEvent) => number,
): (first: PendingEvent) => number {
  let last: { fields: readonly (string | undefined)[]; bytes: number } | undefined;
  return (first) => {
    const now = fields(first);
    if (last === undefined || now.length !== last.fields.length || now.some((field, i) => field !== last!.fields[i])) {
      last = { fields: now, bytes: measure(first) };
    }
    return last.bytes;
  };
}
