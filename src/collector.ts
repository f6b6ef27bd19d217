/**
 * A local ingest server for development, demos and tests: it accepts wire
 * envelopes (and, at `POST /v1/logs`, OTLP/HTTP logs in the JSON encoding) on loopback, checks them against the wire format (400 for what is
 * not JSON, 422 with a reason for what is not an envelope), drops repeated
 * events, prints one line per event, and can append them to a JSON Lines
 * file. It can also misbehave on purpose: a fixed status, a `Retry-After`, a
 * delay, or silence.
 *
 * @example
 * ```ts
 * import { startCollector } from "@nat/telemetry/collector";
 *
 * const collector = await startCollector({ log: console.log });
 * console.log(`NAT_TELEMETRY_ENDPOINT=${collector.url}`);
 * ```
 *
 * @module
 */
import { LATEST_WIRE_TIME_MS } from "./batch.ts";
import { isLoopback } from "./clear_text.ts";
import { describe, describeError, unknownOption } from "./describe.ts";
import { formatTimestamp, parametersProblem } from "./envelope.ts";
import { NemoSource, TaskStatus } from "./events.ts";
import { host, type ServedAnswer, type ServedRequest } from "./runtime/mod.ts";
import { utf8Length } from "./utf8.ts";

/** How the collector behaves. */
export interface CollectorOptions {
  /** The port; 0 lets the OS choose. @default {0} */
  port?: number | undefined;
  /** The address to listen on: a loopback address unless `allowRemote`. @default {"127.0.0.1"} */
  hostname?: string | undefined;
  /** Allow a `hostname` that is not a loopback address (anyone who can reach it can then post). @default {false} */
  allowRemote?: boolean | undefined;
  /** The largest request body accepted; a larger one is answered 413 without being read. @default {1048576} */
  maxBodyBytes?: number | undefined;
  /** Requests handled at once at most. @default {64} */
  maxConnections?: number | undefined;
  /**
   * Milliseconds in which a request must arrive whole, else it is answered 408 and its connection closed: a client
   * that sends a byte a second holds a slot no longer. @default {10000}
   */
  requestTimeoutMs?: number | undefined;
  /** Answer every valid envelope with this status instead of 200 (events are accepted only on 2xx). */
  status?: number | undefined;
  /** Send this `Retry-After` (seconds) with every answer. */
  retryAfterSeconds?: number | undefined;
  /** Wait this long before answering, in milliseconds. */
  delayMs?: number | undefined;
  /** Never answer: an endpoint that accepts connections and then says nothing. */
  silent?: boolean | undefined;
  /**
   * Append each accepted event to this JSON Lines file, created owner-only (0600). A symlink, or a file that is
   * not a regular file of the current user, is refused. Each event is appended as one whole line.
   */
  jsonlPath?: string | undefined;
  /** Receives one line per accepted event, and per rejected envelope. */
  log?: ((line: string) => void) | undefined;
}

/** An event the collector accepted. */
export interface CollectedEvent {
  /** When it arrived, ISO 8601. */
  receivedAt: string;
  /** The envelope's session id. */
  sessionId: string;
  /** The envelope's client version. */
  clientVer: string;
  /** The event's name. */
  name: string;
  /** When the event happened, as sent. */
  ts: string;
  /** Its parameters. */
  parameters: Record<string, string | number | boolean>;
}

/** A running collector. */
export interface Collector {
  /** The URL to set as `NAT_TELEMETRY_ENDPOINT`. */
  readonly url: string;
  /** The URL of its OTLP/HTTP logs endpoint (JSON), for a handler with `format: "otlp"`. */
  readonly otlpUrl: string;
  /** The port it listens on. */
  readonly port: number;
  /** Accepted events, in order, without repeats. */
  readonly events: readonly CollectedEvent[];
  /** Counters: envelopes (or OTLP requests) received, events accepted, repeats dropped, envelopes rejected. */
  readonly stats: { envelopes: number; accepted: number; duplicates: number; rejected: number };
  /** The bytes of the request bodies received so far. */
  readonly bytesReceived: number;
  /** Stops it. */
  close(): Promise<void>;
}

/** The largest request body the collector reads by default: 1 MiB, twice the largest batch a handler sends. */
const DEFAULT_MAX_BODY_BYTES = 1_048_576;
/** Requests the collector handles at once by default. */
const DEFAULT_MAX_CONNECTIONS = 64;
/** How long a request may take to arrive by default: a handler's request times out in 2 s. */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

// Where it listens is judged as the handler judges an endpoint; exported here as before.
export { isLoopback };

const HEADER_KEYS = [
  "browserType",
  "clientId",
  "clientType",
  "clientVariant",
  "clientVer",
  "cpuArchitecture",
  "deviceGdprBehOptIn",
  "deviceGdprFuncOptIn",
  "deviceGdprTechOptIn",
  "deviceId",
  "deviceMake",
  "deviceModel",
  "deviceOS",
  "deviceOSVersion",
  "deviceType",
  "eventProtocol",
  "eventSchemaVer",
  "eventSysVer",
  "externalUserId",
  "gdprBehOptIn",
  "gdprFuncOptIn",
  "gdprTechOptIn",
  "idpId",
  "integrationId",
  "productName",
  "productVersion",
  "sentTs",
  "sessionId",
  "userId",
] as const;

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The schema-1.5 `nat_cli_command` parameters and what each must be. */
const CLI_COMMAND_PARAMETERS: Record<string, (value: unknown) => boolean> = {
  nemoSource: (value) => (Object.values(NemoSource) as unknown[]).includes(value),
  command: (value) => typeof value === "string",
  subcommand: (value) => typeof value === "string",
  taskStatus: (value) => (Object.values(TaskStatus) as unknown[]).includes(value),
  durationMs: (value) => Number.isInteger(value) && (value as number) >= -1,
  exitCode: (value) => Number.isInteger(value),
  errorClass: (value) => typeof value === "string",
  pythonVersion: (value) => typeof value === "string",
};

/**
 * Checks a request body against the wire format.
 *
 * @param body The request body.
 * @returns The envelope, or the status and reason to reject it with.
 * @example
 * ```ts
 * import { validateEnvelope } from "./collector.ts";
 * validateEnvelope("{").status; // 400
 * ```
 */
export function validateEnvelope(
  body: string,
): { status: 200; envelope: Record<string, unknown> & { events: Record<string, unknown>[] } } | {
  status: 400 | 422;
  reason: string;
} {
  let envelope: unknown;
  try {
    envelope = JSON.parse(body);
  } catch {
    return { status: 400, reason: "the body is not JSON" };
  }
  if (typeof envelope !== "object" || envelope === null || Array.isArray(envelope)) {
    return { status: 422, reason: "the envelope is not an object" };
  }
  const record = envelope as Record<string, unknown>;
  for (const key of HEADER_KEYS) {
    if (typeof record[key] !== "string") return { status: 422, reason: `'${key}' is missing or not a string` };
  }
  if (!TIMESTAMP.test(record.sentTs as string)) return { status: 422, reason: "'sentTs' is not a UTC timestamp" };
  const events = record.events;
  if (!Array.isArray(events) || events.length === 0) return { status: 422, reason: "'events' is not a non-empty list" };
  for (const [i, event] of events.entries()) {
    const problem = eventProblem(event, record.eventSchemaVer as string);
    if (problem) return { status: 422, reason: `event ${i}: ${problem}` };
  }
  return { status: 200, envelope: record as Record<string, unknown> & { events: Record<string, unknown>[] } };
}

/** An event as a request carried it, before the collector notes when it arrived. */
export type ReceivedEvent = Omit<CollectedEvent, "receivedAt">;

/** The events of a NAT envelope, or why it is rejected. */
function readEnvelope(body: string): { status: 200; events: ReceivedEvent[] } | { status: 400 | 422; reason: string } {
  const checked = validateEnvelope(body);
  if (checked.status !== 200) return checked;
  const { envelope } = checked;
  return {
    status: 200,
    events: envelope.events.map((raw) => ({
      sessionId: envelope.sessionId as string,
      clientVer: envelope.clientVer as string,
      name: raw.name as string,
      ts: raw.ts as string,
      parameters: raw.parameters as CollectedEvent["parameters"],
    })),
  };
}

/**
 * Checks an OTLP/HTTP logs request (JSON encoding) as the collector reads it: an `ExportLogsServiceRequest`
 * whose records each have an `eventName`, a `timeUnixNano` and attributes of scalar values; records of
 * `nat_cli_command` must carry the schema's parameters, as in the NAT envelope.
 *
 * @param body The request body.
 * @returns The events (the session and client version from the resource), or the status and reason to reject it.
 * @example
 * ```ts
 * import { readOtlpLogs } from "./collector.ts";
 * readOtlpLogs('{"resourceLogs":[]}').status; // 422: no log record
 * ```
 */
export function readOtlpLogs(body: string): { status: 200; events: ReceivedEvent[] } | {
  status: 400 | 422;
  reason: string;
} {
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    return { status: 400, reason: "the body is not JSON" };
  }
  const resourceLogs = (request as { resourceLogs?: unknown } | null)?.resourceLogs;
  if (!Array.isArray(resourceLogs)) return { status: 422, reason: "'resourceLogs' is not a list" };
  const events: ReceivedEvent[] = [];
  for (const [i, resourceLog] of resourceLogs.entries()) {
    const resource = attributeMap(resourceLog?.resource?.attributes);
    if (!resource) return { status: 422, reason: `resourceLogs ${i}: the resource's attributes are malformed` };
    if (!Array.isArray(resourceLog?.scopeLogs)) return { status: 422, reason: `resourceLogs ${i}: no 'scopeLogs'` };
    for (const scopeLog of resourceLog.scopeLogs) {
      if (!Array.isArray(scopeLog?.logRecords)) return { status: 422, reason: `resourceLogs ${i}: no 'logRecords'` };
      for (const [j, record] of scopeLog.logRecords.entries()) {
        const where = `resourceLogs ${i}, record ${j}`;
        const nanos = record?.timeUnixNano;
        if (typeof nanos !== "string" && typeof nanos !== "number" || !/^\d+$/.test(String(nanos))) {
          return { status: 422, reason: `${where}: 'timeUnixNano' is not a decimal integer` };
        }
        const ms = Number(BigInt(String(nanos)) / 1_000_000n);
        if (ms > LATEST_WIRE_TIME_MS) return { status: 422, reason: `${where}: 'timeUnixNano' is past the year 9999` };
        const parameters = attributeMap(record.attributes);
        if (!parameters) return { status: 422, reason: `${where}: its attributes are malformed` };
        const { "nat.event.schema_version": schemaVersion = "1.5", ...rest } = parameters;
        const event = {
          ts: formatTimestamp(ms),
          name: record.eventName,
          parameters: rest,
        };
        const problem = eventProblem(event, String(schemaVersion));
        if (problem) return { status: 422, reason: `${where}: ${problem}` };
        events.push({
          sessionId: String(resource["session.id"] ?? "undefined"),
          clientVer: String(resource["service.version"] ?? "undefined"),
          name: event.name,
          ts: event.ts,
          parameters: rest,
        });
      }
    }
  }
  if (events.length === 0) return { status: 422, reason: "there is no log record" };
  return { status: 200, events };
}

/** OTLP `KeyValue`s as a plain record of scalars (an `intValue` as a number), or `undefined` when malformed. */
function attributeMap(list: unknown): Record<string, string | number | boolean> | undefined {
  if (list === undefined) return {};
  if (!Array.isArray(list)) return undefined;
  const map: Record<string, string | number | boolean> = {};
  for (const item of list) {
    const { key, value } = (typeof item === "object" && item !== null ? item : {}) as {
      key?: unknown;
      value?: unknown;
    };
    if (typeof key !== "string" || typeof value !== "object" || value === null) return undefined;
    const [kind, raw] = Object.entries(value)[0] ?? [];
    let parsed: string | number | boolean;
    if (kind === "stringValue" && typeof raw === "string") parsed = raw;
    else if (kind === "boolValue" && typeof raw === "boolean") parsed = raw;
    else if (kind === "doubleValue" && typeof raw === "number") parsed = raw;
    else if (kind === "intValue" && /^-?\d+$/.test(String(raw))) parsed = Number(raw);
    else return undefined;
    // Defined, not assigned: a key named "__proto__" is a parameter like any other, not the object's prototype.
    Object.defineProperty(map, key, { value: parsed, enumerable: true, writable: true, configurable: true });
  }
  return map;
}

function eventProblem(event: unknown, schemaVersion: string): string | undefined {
  if (typeof event !== "object" || event === null) return "not an object";
  const { ts, name, parameters } = event as Record<string, unknown>;
  if (typeof ts !== "string" || !TIMESTAMP.test(ts)) return "'ts' is not a UTC timestamp with milliseconds";
  if (typeof name !== "string" || name === "") return "'name' is missing";
  const problem = parametersProblem(parameters);
  if (problem) return problem;
  if (name !== "nat_cli_command") return undefined;
  if (schemaVersion !== "1.5") return `nat_cli_command needs schema 1.5, got ${schemaVersion}`;
  const keys = Object.keys(parameters as object);
  const expected = Object.keys(CLI_COMMAND_PARAMETERS);
  if (keys.join() !== expected.join()) return `nat_cli_command parameters must be ${expected.join(", ")}`;
  for (const [key, valid] of Object.entries(CLI_COMMAND_PARAMETERS)) {
    if (!valid((parameters as Record<string, unknown>)[key])) return `parameter '${key}' has an invalid value`;
  }
  return undefined;
}

/**
 * Formats the one-line summary of an event.
 *
 * @param event The event.
 * @returns e.g. `04:06:19 nat_cli_command greet success exit=0 12ms deno/2.9.6 session=8f3a…`.
 * @example
 * ```ts
 * import { summarize } from "./collector.ts";
 * summarize({ receivedAt: "2026-11-28T04:06:19.000Z", sessionId: "s", clientVer: "0.1.0", name: "x", ts: "", parameters: {} });
 * ```
 */
export function summarize(event: CollectedEvent): string {
  const p = event.parameters;
  const time = event.receivedAt.slice(11, 19);
  const session = `session=${event.sessionId.slice(0, 8)}`;
  if (event.name !== "nat_cli_command") return `${time} ${event.name} ${JSON.stringify(p)} ${session}`;
  const sub = p.subcommand === "undefined" ? "" : ` ${p.subcommand}`;
  const error = p.errorClass === "undefined" ? "" : ` ${p.errorClass}`;
  return `${time} ${event.name} ${p.command}${sub} ${p.taskStatus} exit=${p.exitCode}${error} ${p.durationMs}ms ${p.pythonVersion} ${session}`;
}

/** Every option of {@link CollectorOptions}: a key not here is a typo. */
const COLLECTOR_OPTIONS: Record<keyof CollectorOptions, true> = {
  port: true,
  hostname: true,
  allowRemote: true,
  maxBodyBytes: true,
  maxConnections: true,
  requestTimeoutMs: true,
  status: true,
  retryAfterSeconds: true,
  delayMs: true,
  silent: true,
  jsonlPath: true,
  log: true,
};

/** The whole numbers each numeric option takes, inclusive. */
const COLLECTOR_RANGES: Partial<Record<keyof CollectorOptions, readonly [number, number]>> = {
  port: [0, 65_535],
  maxBodyBytes: [1, Number.MAX_SAFE_INTEGER],
  maxConnections: [1, Number.MAX_SAFE_INTEGER],
  requestTimeoutMs: [1, 2_147_483_647],
  status: [200, 599],
  retryAfterSeconds: [0, Number.MAX_SAFE_INTEGER],
  delayMs: [0, 2_147_483_647],
};

/**
 * Checks a collector's options: a mistake is told at its start (a status no server may send, a port that is not one,
 * a misspelt option), never at its first request.
 *
 * @throws {TypeError} For an option that is not one, or of the wrong type.
 * @throws {RangeError} For a number out of its range.
 */
function checkCollectorOptions(options: CollectorOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot start collector: the options must be an object, got ${describe(options)}`);
  }
  const unknown = unknownOption(options, COLLECTOR_OPTIONS);
  if (unknown) throw new TypeError(`Cannot start collector: ${unknown}`);
  for (const [name, [least, most]] of Object.entries(COLLECTOR_RANGES)) {
    const value = options[name as keyof CollectorOptions];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= least && (value as number) <= most)) {
      throw new RangeError(
        `Cannot start collector: '${name}' must be a whole number from ${least} to ${most}, got ${describe(value)}`,
      );
    }
  }
  const kinds = { hostname: "string", jsonlPath: "string", allowRemote: "boolean", silent: "boolean", log: "function" };
  for (const [name, kind] of Object.entries(kinds)) {
    const value = options[name as keyof CollectorOptions];
    if (value !== undefined && typeof value !== kind) {
      throw new TypeError(`Cannot start collector: '${name}' must be a ${kind}, got ${describe(value)}`);
    }
  }
}

/**
 * Starts a collector on loopback.
 *
 * @param options Port, fault injection, JSONL file and log.
 * @returns The running collector.
 * @throws {TypeError} For an option that is not one, or of the wrong type.
 * @throws {RangeError} For a number out of its range (a status from 200 to 599), or an address not loopback.
 * @throws When the JSON Lines file cannot be written, or the port cannot be listened on.
 * @example
 * ```ts
 * import { startCollector } from "@nat/telemetry/collector";
 * const collector = await startCollector({ status: 503, retryAfterSeconds: 30 });
 * ```
 */
export async function startCollector(options: CollectorOptions = {}): Promise<Collector> {
  checkCollectorOptions(options);
  const hostname = options.hostname ?? "127.0.0.1";
  if (!options.allowRemote && !isLoopback(hostname)) {
    throw new RangeError(
      `Cannot start collector: '${hostname}' is not a loopback address; pass allowRemote (--allow-remote) to listen on it`,
    );
  }
  if (options.jsonlPath !== undefined) {
    // Made (0600) and checked now: a file it may not write would lose every event it answers 200 for.
    try {
      const files = host().files;
      if (!files) throw new Error("the runtime gives no access to files");
      files.append(options.jsonlPath, "", Infinity);
    } catch (error) {
      throw new Error(`Cannot start collector: cannot write ${options.jsonlPath}: ${describeError(error)}`);
    }
  }
  const events: CollectedEvent[] = [];
  const seen = new Set<string>();
  const stats = { envelopes: 0, accepted: 0, duplicates: 0, rejected: 0 };
  let bytesReceived = 0;
  const log = options.log ?? (() => {});
  const answer = async (request: ServedRequest): Promise<ServedAnswer | undefined> => {
    if (options.silent) return undefined;
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.retryAfterSeconds !== undefined) headers["retry-after"] = String(options.retryAfterSeconds);
    if (request.method !== "POST") return { status: 405, headers, body: '{"error":"POST an envelope"}' };
    stats.envelopes++;
    bytesReceived += utf8Length(request.body);
    const otlp = request.path.split("?")[0] === "/v1/logs";
    const checked = otlp ? readOtlpLogs(request.body) : readEnvelope(request.body);
    if (checked.status !== 200) {
      stats.rejected++;
      log(`rejected ${otlp ? "an OTLP request" : "an envelope"} (${checked.status}): ${checked.reason}`);
      return { status: checked.status, headers, body: JSON.stringify({ error: checked.reason }) };
    }
    const status = options.status ?? 200;
    if (status < 200 || status >= 300) return { status, headers, body: "{}" };
    for (const received of checked.events) {
      const event: CollectedEvent = { receivedAt: formatTimestamp(Date.now()), ...received };
      const key = JSON.stringify([event.sessionId, event.name, event.ts, event.parameters]);
      if (seen.has(key)) {
        stats.duplicates++;
        continue;
      }
      seen.add(key);
      events.push(event);
      stats.accepted++;
      log(summarize(event));
      if (options.jsonlPath) {
        try {
          host().files?.append(options.jsonlPath, `${JSON.stringify(event)}\n`, Infinity);
        } catch (error) {
          log(`could not append to ${options.jsonlPath}: ${error}`);
        }
      }
    }
    const accepted = otlp ? { partialSuccess: {} } : { accepted: checked.events.length };
    return { status, headers, body: JSON.stringify(accepted) };
  };
  const server = await host().serve(hostname, options.port ?? 0, answer, {
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  });
  const address = hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
  const base = `http://${address}:${server.port}`;
  return {
    url: `${base}/v1.1/events/json`,
    otlpUrl: `${base}/v1/logs`,
    port: server.port,
    events,
    stats,
    get bytesReceived() {
      return bytesReceived;
    },
    close: () => server.close(),
  };
}
