/**
 * The wire envelope: the JSON document one POST carries, byte-compatible with
 * the Python `nat.utils.telemetry` client.
 *
 * @module
 */
import { describe, describeError, isPlainObject, isThenable } from "./describe.ts";
import { type EventParameters, TelemetryEvent } from "./events.ts";
import { joinBetween } from "./join.ts";
import { jsonLine } from "./json_line.ts";
import { runtimeInfo } from "./runtime/mod.ts";
import { utf8Length } from "./utf8.ts";

/** One event as it goes on the wire. */
export interface WireEvent {
  /** When it happened: UTC, milliseconds, e.g. `2026-01-02T03:04:05.999Z`. */
  ts: string;
  /** Its parameters. */
  parameters: EventParameters;
  /** Its name. */
  name: string;
}

/** The envelope around a batch of events (key order as sent). */
export interface Envelope {
  /** Always `"undefined"`: not a browser. */
  browserType: string;
  /** The ingest service's id for this client family. */
  clientId: string;
  /** Always `"Native"`. */
  clientType: string;
  /** Always `"Release"`. */
  clientVariant: string;
  /** The client's version (`sourceClientVersion`). */
  clientVer: string;
  /** As Python's `platform.machine()` spells it. */
  cpuArchitecture: string;
  /** Always `"None"`. */
  deviceGdprBehOptIn: string;
  /** Always `"None"`. */
  deviceGdprFuncOptIn: string;
  /** Always `"None"`. */
  deviceGdprTechOptIn: string;
  /** Always `"undefined"`: nothing identifying. */
  deviceId: string;
  /** Always `"undefined"`. */
  deviceMake: string;
  /** Always `"undefined"`. */
  deviceModel: string;
  /** Always `"undefined"`. */
  deviceOS: string;
  /** Always `"undefined"`. */
  deviceOSVersion: string;
  /** Always `"undefined"`. */
  deviceType: string;
  /** The protocol version, `"1.6"`. */
  eventProtocol: string;
  /** The events' schema version. */
  eventSchemaVer: string;
  /** `"nat-telemetry/1.0"`. */
  eventSysVer: string;
  /** Always `"undefined"`: nothing identifying. */
  externalUserId: string;
  /** Always `"None"`. */
  gdprBehOptIn: string;
  /** Always `"None"`. */
  gdprFuncOptIn: string;
  /** Always `"None"`. */
  gdprTechOptIn: string;
  /** Always `"undefined"`. */
  idpId: string;
  /** Always `"undefined"`. */
  integrationId: string;
  /** Always `"undefined"`. */
  productName: string;
  /** Always `"undefined"`. */
  productVersion: string;
  /** When the envelope was sent: UTC, milliseconds. */
  sentTs: string;
  /** The session the events were recorded in. */
  sessionId: string;
  /** Always `"undefined"`: nothing identifying. */
  userId: string;
  /** The events. */
  events: WireEvent[];
}

/** The envelope without its events. */
export type EnvelopeHeader = Omit<Envelope, "events">;

/** What an envelope says about its sender. */
export interface EnvelopeOptions {
  /** The client's version (`clientVer`). */
  sourceClientVersion: string;
  /** The session id (`sessionId`). @default {"undefined"}, as the Python client */
  sessionId?: string | undefined;
  /**
   * The CPU architecture, as Python's `platform.machine()` spells it.
   * @default {this machine's, e.g. "x86_64", as the Python client}
   */
  cpuArchitecture?: string | undefined;
  /** When the envelope is sent (`sentTs`). @default {Date.now()} */
  sentAt?: Date | number | undefined;
}

/** The ingest service's id for this client family, the same as the Python client's. */
const CLIENT_ID = "184482118588404";

/**
 * Formats a time the way the wire wants it: UTC, milliseconds truncated.
 *
 * @param epochMs Epoch milliseconds; a fraction is dropped (floored: -0.5 is the millisecond before the epoch), not
 *   rounded.
 * @returns e.g. `2026-01-02T03:04:05.678Z`.
 * @example
 * ```ts
 * import { formatTimestamp } from "@nat/telemetry";
 * formatTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 678.9)); // "2026-01-02T03:04:05.678Z"
 * ```
 */
export function formatTimestamp(epochMs: number): string {
  // By operators alone, no Math or String method a program may have replaced: the text is always a number's digits,
  // signs and the format's own characters (ASCII, nothing JSON escapes).
  const ms = floor(epochMs);
  if (!(ms >= -MAX_TIME_MS && ms <= MAX_TIME_MS)) throw new RangeError("Invalid time value");
  const second = floor(ms / 1_000);
  if (second !== lastSecond.second) {
    const days = floor(second / DAY_SECONDS);
    const inDay = second - days * DAY_SECONDS;
    const time = `${digits(floor(inDay / 3_600), 2)}:${digits(floor(inDay / 60) % 60, 2)}:${digits(inDay % 60, 2)}`;
    lastSecond = { second, text: `${calendarDate(days)}T${time}.` };
  }
  return `${lastSecond.text}${digits(ms - second * 1_000, 3)}Z`;
}

/**
 * The second {@link formatTimestamp} wrote last, up to its milliseconds: the events of a run share it, and a time
 * held in memory (a queue of events waiting for the endpoint) is then two strings, not one per field.
 */
let lastSecond = { second: NaN, text: "" };

/**
 * A day since the epoch as `YYYY-MM-DD` (`±YYYYYY` beyond years 0-9999), as `Date.prototype.toISOString` writes
 * it, by arithmetic (H. Hinnant's civil_from_days): a program's first Date object makes the runtime load its
 * time zone data (~1 MB, ~0.3 ms), which a UTC time never needs.
 */
function calendarDate(days: number): string {
  const era = floor((days + 719_468) / 146_097);
  const dayOfEra = days + 719_468 - era * 146_097;
  const yearOfEra = floor(
    (dayOfEra - floor(dayOfEra / 1_460) + floor(dayOfEra / 36_524) - floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + floor(yearOfEra / 4) - floor(yearOfEra / 100));
  const shiftedMonth = floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yyyy = year >= 0 && year <= 9999
    ? digits(year, 4)
    : `${year < 0 ? "-" : "+"}${digits(year < 0 ? -year : year, 6)}`;
  return `${yyyy}-${digits(month, 2)}-${digits(day, 2)}`;
}

/** 2^52: from there on, doubles are whole numbers. */
const TWO_TO_52 = 4_503_599_627_370_496;

/**
 * `Math.floor`, by operators: a number below 2^52 in size is rounded to a whole one by adding 2^52 to it (or taking it
 * away) and back, where doubles are a whole number apart, then stepped down where it rounded up; from 2^52 on, every
 * double is whole. (`value % 1`, which this replaced, is a library call under V8: a third of the time a handler
 * spent on an event's time, once per event.)
 */
const floor = (value: number) => {
  if (!(value < TWO_TO_52 && value > -TWO_TO_52)) return value;
  const whole = value >= 0 ? value + TWO_TO_52 - TWO_TO_52 : value - TWO_TO_52 + TWO_TO_52;
  return whole > value ? whole - 1 : whole;
};

/** A whole number in at least `width` digits. */
const digits = (value: number, width: number) => {
  let text = `${value}`;
  while (text.length < width) text = `0${text}`;
  return text;
};

/** Seconds in a day. */
const DAY_SECONDS = 86_400;

/**
 * The largest distance from the epoch a time may have (ECMAScript's time value range: 100,000,000 days): what
 * {@link formatTimestamp} can show.
 */
export const MAX_TIME_MS = 8.64e15;

/**
 * Turns an event into its wire form, checking that every parameter is a
 * string, a finite number or a boolean.
 *
 * @param event The event.
 * @returns The wire event.
 * @throws {TypeError} When a parameter value is anything else (null, nested, BigInt, NaN...).
 * @example
 * ```ts
 * import { CliCommandEvent } from "@nat/telemetry";
 * import { toWireEvent } from "./envelope.ts";
 * toWireEvent(new CliCommandEvent({ command: "run", taskStatus: "success" })).name; // "nat_cli_command"
 * ```
 */
export function toWireEvent(event: TelemetryEvent): WireEvent {
  const parameters = checkedParameters(event);
  return { ts: formatTimestamp(event.timestamp), parameters, name: event.name };
}

/**
 * An event's wire form as JSON, `JSON.stringify(toWireEvent(event))`, and its size: written without building the wire
 * object, and sized from its parts (this runs once per event enqueued). Sizing the whole text would first copy its
 * parts into one string: under Bun that copy and the name's JSON, written again for each event, were a tenth of the
 * handler's CPU time in a long-lived host.
 *
 * @param event The event.
 * @returns Its JSON, and the bytes of that JSON in UTF-8.
 * @throws {TypeError} When the name is not a non-empty string, or a parameter value not a string, a finite number or
 *   a boolean.
 * @example
 * ```ts
 * import { CliCommandEvent } from "@nat/telemetry";
 * import { wireEventJson } from "./envelope.ts";
 * const { json, bytes } = wireEventJson(new CliCommandEvent({ command: "run", taskStatus: "success" }));
 * JSON.parse(json).name; // "nat_cli_command"
 * bytes === new TextEncoder().encode(json).length; // true
 * ```
 */
export function wireEventJson(event: TelemetryEvent): { json: string; bytes: number } {
  let name: unknown;
  try {
    name = event.name; // a getter may throw
  } catch (error) {
    throw new TypeError(`Event name cannot be read: ${describeError(error)}`);
  }
  if (typeof name !== "string" || name === "") throw new TypeError("Event name is not a non-empty string");
  const parameters = jsonLine(checkedParameters(event));
  if (name !== lastName.name) {
    const json = jsonLine(name);
    lastName = { name, json, bytes: utf8Length(json) };
  }
  const ts = formatTimestamp(event.timestamp); // ASCII, nothing to escape: its length is its size
  return {
    json: `{"ts":"${ts}","parameters":${parameters},"name":${lastName.json}}`,
    bytes: EVENT_FRAME_BYTES + ts.length + utf8Length(parameters) + lastName.bytes,
  };
}

/** The name {@link wireEventJson} wrote last, as JSON: an event type's events share it. */
let lastName = { name: "", json: "", bytes: 0 };

/** What an event's JSON adds around its time, parameters and name. */
const EVENT_FRAME_BYTES = '{"ts":"","parameters":,"name":}'.length;

/**
 * An event's parameters, checked for the wire: a plain copy, read once and checked, so that what is serialized is
 * what was checked (a getter may answer differently each time; `JSON.stringify` would call an inherited `toJSON`).
 */
function checkedParameters(event: TelemetryEvent): EventParameters {
  const unreadable = (what: string, error: unknown) =>
    new TypeError(`Event '${event.name}' ${what} cannot be read: ${describeError(error)}`);
  let parameters: unknown;
  try {
    parameters = event.parameters();
  } catch (error) {
    throw unreadable("parameters", error);
  }
  try {
    void (parameters as { then?: unknown } | null)?.then; // a Proxy's trap may throw
  } catch (error) {
    throw unreadable("parameters() returned an object that", error);
  }
  if (isThenable(parameters)) {
    // An `async parameters()`: its rejection is the event's problem, never the program's unhandled rejection. Only
    // a promise (of any realm) is handled so: another thenable's `then` is the program's code, never called.
    try {
      Promise.prototype.then.call(parameters, undefined, () => {});
    } catch {
      // Not a promise.
    }
    throw new TypeError(`Event '${event.name}' has no parameters object: parameters() returned a thenable`);
  }
  if (!isPlainObject(parameters)) {
    throw new TypeError(
      `Event '${event.name}' has no parameters object: parameters() returned ${describe(parameters)}`,
    );
  }
  let plain: Record<string, unknown>;
  try {
    // Each own enumerable property read once and defined on the copy, never set (a name the prototype has, such as
    // `__proto__`, is the copy's own), at a seventh of the time a loop over its keys took under Deno, for an event
    // type's objects, which share a shape. Symbol keys come along, which JSON and the checks ignore.
    plain = { ...parameters };
  } catch (error) {
    // Not read again, not even to name the one that failed: a getter may answer otherwise a second time, or do
    // something each time it is read; and which one threw cannot be told without (a symbol's, a Proxy's trap).
    throw unreadable("parameters", error);
  }
  const problem = parametersProblem(plain);
  if (problem) throw new TypeError(`Event '${event.name}' ${problem}`);
  return plain as EventParameters;
}

/**
 * What is wrong with an event's parameters on the wire, if anything: they
 * must be a flat object of strings, finite numbers and booleans. The one
 * rule for events enqueued, read back from the spool, and received by the
 * collector.
 *
 * @param parameters The parameters.
 * @returns The problem, or `undefined` when they are valid.
 * @example
 * ```ts
 * import { parametersProblem } from "./envelope.ts";
 * parametersProblem({ command: "run", exitCode: 0 }); // undefined
 * parametersProblem({ command: null }); // "parameter 'command' is not a string, finite number or boolean"
 * ```
 */
export function parametersProblem(parameters: unknown): string | undefined {
  if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
    return "has no parameters object";
  }
  // Keys, then values: Object.entries() allocates a pair per parameter, slowly under Deno, for every event.
  for (const key of Object.keys(parameters)) {
    const value = (parameters as Record<string, unknown>)[key];
    const ok = typeof value === "string" || typeof value === "boolean" ||
      (typeof value === "number" && Number.isFinite(value));
    if (!ok) return `parameter '${key}' is not a string, finite number or boolean`;
  }
  return undefined;
}

/**
 * Builds the envelope's header (everything but `events`).
 *
 * @param schemaVersion The events' schema version (`eventSchemaVer`).
 * @param options The sender's details.
 * @returns The header, keys in wire order.
 * @example
 * ```ts
 * import { envelopeHeader } from "./envelope.ts";
 * envelopeHeader("1.5", { sourceClientVersion: "1.2.3", sessionId: "s" }).clientType; // "Native"
 * ```
 */
export function envelopeHeader(schemaVersion: string, options: EnvelopeOptions): EnvelopeHeader {
  return {
    browserType: "undefined",
    clientId: CLIENT_ID,
    clientType: "Native",
    clientVariant: "Release",
    clientVer: options.sourceClientVersion,
    cpuArchitecture: options.cpuArchitecture ?? runtimeInfo().machine,
    deviceGdprBehOptIn: "None",
    deviceGdprFuncOptIn: "None",
    deviceGdprTechOptIn: "None",
    deviceId: "undefined",
    deviceMake: "undefined",
    deviceModel: "undefined",
    deviceOS: "undefined",
    deviceOSVersion: "undefined",
    deviceType: "undefined",
    eventProtocol: "1.6",
    eventSchemaVer: schemaVersion,
    eventSysVer: "nat-telemetry/1.0",
    externalUserId: "undefined",
    gdprBehOptIn: "None",
    gdprFuncOptIn: "None",
    gdprTechOptIn: "None",
    idpId: "undefined",
    integrationId: "undefined",
    productName: "undefined",
    productVersion: "undefined",
    sentTs: formatTimestamp(+(options.sentAt ?? Date.now())),
    sessionId: options.sessionId ?? "undefined",
    userId: "undefined",
  };
}

/**
 * Builds the envelope for a batch of events, as the Python client does.
 *
 * @param events The events, all of one schema version (the first one's is used).
 * @param options The sender's details.
 * @returns The envelope.
 * @throws {RangeError} When `events` is empty.
 * @throws {TypeError} When `events` is not an array of events, or an option is not a string.
 * @example
 * ```ts
 * import { buildPayload, CliCommandEvent } from "@nat/telemetry";
 * const envelope = buildPayload([new CliCommandEvent({ command: "run", taskStatus: "success" })], {
 *   sourceClientVersion: "1.2.3",
 *   sessionId: "sess-123",
 * });
 * envelope.events.length; // 1
 * ```
 */
export function buildPayload(events: readonly TelemetryEvent[], options: EnvelopeOptions): Envelope {
  const fail = (message: string): never => {
    throw new TypeError(`Cannot build a payload: ${message}`);
  };
  if (!Array.isArray(events)) fail(`'events' must be an array of events, got ${describe(events)}`);
  const notEvent = events.findIndex((event) => !(event instanceof TelemetryEvent));
  if (notEvent >= 0) {
    fail(`'events' must hold events (TelemetryEvent), got ${describe(events[notEvent])} at ${notEvent}`);
  }
  if (!isPlainObject(options)) fail(`'options' must be an object, got ${describe(options)}`);
  if (typeof options.sourceClientVersion !== "string") {
    fail(`'sourceClientVersion' must be a string, got ${describe(options.sourceClientVersion)}`);
  }
  for (const name of ["sessionId", "cpuArchitecture"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "string") {
      fail(`'${name}' must be a string, got ${describe(options[name])}`);
    }
  }
  if (events.length === 0) throw new RangeError("Cannot build a payload: the event list is empty");
  return { ...envelopeHeader(events[0].schemaVersion, options), events: events.map(toWireEvent) };
}

/**
 * Serializes an envelope from a header and events already serialized with
 * `JSON.stringify(toWireEvent(event))`; equal to `JSON.stringify` of the
 * whole envelope, without serializing any event twice.
 *
 * @param header The header.
 * @param eventJsons The serialized wire events.
 * @returns The envelope's JSON text.
 * @example
 * ```ts
 * import { CliCommandEvent } from "@nat/telemetry";
 * import { encodeEnvelope, envelopeHeader, toWireEvent } from "./envelope.ts";
 * const event = JSON.stringify(toWireEvent(new CliCommandEvent({ command: "run", taskStatus: "success" })));
 * encodeEnvelope(envelopeHeader("1.5", { sourceClientVersion: "1.2.3", sessionId: "s" }), [event]);
 * ```
 */
export function encodeEnvelope(header: EnvelopeHeader, eventJsons: readonly string[]): string {
  return joinBetween(`${jsonLine(header).slice(0, -1)},"events":[`, eventJsons, "]}");
}
