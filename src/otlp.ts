/**
 * The OTLP/HTTP logs wire format (JSON encoding), so the handler can feed an
 * OpenTelemetry Collector: one `ExportLogsServiceRequest` per batch, one
 * `LogRecord` per event, the resource describing the sender as the NAT
 * envelope does (service, version, session, architecture, runtime), and the
 * answer read as the OTLP specification says (partial success, and only 429,
 * 502, 503 and 504 retried). It carries what the NAT envelope carries, nothing
 * more. The environment's `OTEL_*` variables are read as the specification
 * defines them.
 *
 * @module
 */
import type { PendingEvent } from "./batch.ts";
import type { DeliveryOutcome } from "./delivery.ts";
import { joinBetween } from "./join.ts";
import { jsonLine } from "./json_line.ts";
import { type RuntimeInfo, runtimeInfo } from "./runtime/mod.ts";
import { CLIENT_VERSION } from "./version.ts";

/** The `service.name` of the resource when `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) does not name one. */
export const DEFAULT_SERVICE_NAME = "nat-cli";

/** This package as an instrumentation scope. */
const SCOPE = { name: "@nat/telemetry", version: CLIENT_VERSION };

/** An OTLP `AnyValue`, as the JSON encoding spells it (64-bit integers as decimal strings). */
export type OtlpValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | {
  boolValue: boolean;
};

/** An OTLP `KeyValue`. */
export interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}

/** What the resource of a batch describes, besides its session. */
export interface OtlpSender {
  /** `service.name`. */
  readonly serviceName: string;
  /** `service.version`: the client version (`sourceClientVersion`). */
  readonly serviceVersion: string;
  /** More resource attributes (`OTEL_RESOURCE_ATTRIBUTES`); the ones above win. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
}

/**
 * An attribute value in the OTLP JSON encoding: strings, booleans, integers
 * (as decimal strings) and other numbers.
 *
 * @param value A parameter value of an event.
 * @returns The value.
 * @example
 * ```ts
 * import { otlpValue } from "./otlp.ts";
 * otlpValue(130); // { intValue: "130" }
 * ```
 */
export function otlpValue(value: string | number | boolean): OtlpValue {
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value };
}

const attributes = (record: Readonly<Record<string, string | number | boolean>>): OtlpAttribute[] =>
  Object.entries(record).map(([key, value]) => ({ key, value: otlpValue(value) }));

/** Epoch milliseconds as OTLP's `fixed64` nanoseconds, a decimal string (exact: no float rounding). */
function nanos(epochMs: number): string {
  const ms = Math.floor(epochMs);
  return ms === 0 ? "0" : `${ms}000000`;
}

/** The OpenTelemetry spelling (`host.arch` semantic conventions) of Python's `platform.machine()` names. */
function hostArch(machine: string): string {
  const known: Record<string, string> = {
    x86_64: "amd64",
    AMD64: "amd64",
    amd64: "amd64",
    aarch64: "arm64",
    arm64: "arm64",
    ARM64: "arm64",
    i686: "x86",
    x86: "x86",
    armv7l: "arm32",
    ppc64le: "ppc64",
    s390x: "s390x",
  };
  return known[machine] ?? machine;
}

/**
 * The log record of one event. It was observed when the program recorded it,
 * so both its times are the event's: a record depends on its event alone.
 *
 * @param event The pending event (its wire JSON, timestamp and schema version).
 * @returns The `LogRecord`.
 * @example
 * ```ts ignore
 * otlpRecord(pending).eventName; // "nat_cli_command"
 * ```
 */
export function otlpRecord(event: PendingEvent): Record<string, unknown> {
  const { name, parameters } = JSON.parse(event.json) as {
    name: string;
    parameters: Record<string, string | number | boolean>;
  };
  return {
    timeUnixNano: nanos(event.timestamp),
    observedTimeUnixNano: nanos(event.timestamp),
    eventName: name,
    attributes: [...attributes(parameters), { key: "nat.event.schema_version", value: otlpValue(event.schemaVersion) }],
  };
}

/**
 * The `ExportLogsServiceRequest` of one batch (one session).
 *
 * @param records The batch's log records, already encoded as JSON text (see {@link otlpRecord}).
 * @param sessionId The batch's session.
 * @param sender What the resource says about the sender.
 * @param runtime The runtime and machine it names. @default {runtimeInfo()}
 * @returns The request body.
 * @example
 * ```ts
 * import { encodeOtlpLogs } from "./otlp.ts";
 * const body = encodeOtlpLogs([], "sess-1", { serviceName: "my-cli", serviceVersion: "1.2.3", resourceAttributes: {} });
 * JSON.parse(body).resourceLogs[0].scopeLogs[0].scope.name; // "@nat/telemetry"
 * ```
 */
export function encodeOtlpLogs(
  records: readonly string[],
  sessionId: string,
  sender: OtlpSender,
  runtime: RuntimeInfo = runtimeInfo(),
): string {
  const resource = attributes({
    ...sender.resourceAttributes,
    "service.name": sender.serviceName,
    "service.version": sender.serviceVersion,
    "session.id": sessionId,
    "host.arch": hostArch(runtime.machine),
    "process.runtime.name": runtime.name,
    "process.runtime.version": runtime.version,
    "telemetry.sdk.name": SCOPE.name,
    "telemetry.sdk.language": runtime.name === "deno" ? "deno" : "nodejs",
    "telemetry.sdk.version": SCOPE.version,
  });
  const head = jsonLine({ resource: { attributes: resource }, scopeLogs: [{ scope: SCOPE, logRecords: [] }] });
  // The records are spliced in, already serialized: `...,"logRecords":[]}]}` → `...,"logRecords":[r1,r2]}]}`.
  return joinBetween(`{"resourceLogs":[${head.slice(0, -4)}`, records, "]}]}]}");
}

/**
 * What an OTLP/HTTP answer means for a batch of `count` log records: 2xx is
 * delivered, less the records a `partialSuccess` says were rejected (never
 * retried); 413 is split; 429, 502, 503 and 504 are retried, not before
 * `Retry-After`, and a proxy's 407 (the collector never saw the request); every other status is dropped with its reason.
 *
 * @param status The HTTP status.
 * @param retryAfterMs The parsed `Retry-After`.
 * @param body The answer's body (2xx only), if it was read.
 * @param count The records in the batch.
 * @returns The outcome.
 * @example
 * ```ts
 * import { classifyOtlp } from "./otlp.ts";
 * classifyOtlp(200, undefined, '{"partialSuccess":{"rejectedLogRecords":"2"}}', 5); // { kind: "delivered", rejected: 2 }
 * classifyOtlp(500, undefined, undefined, 5); // { kind: "rejected", reason: "http_500" }
 * ```
 */
export function classifyOtlp(
  status: number,
  retryAfterMs: number | undefined,
  body: string | undefined,
  count: number,
): DeliveryOutcome {
  if (status >= 200 && status < 300) {
    const rejected = Math.min(count, rejectedRecords(body));
    return rejected > 0 ? { kind: "delivered", rejected } : { kind: "delivered" };
  }
  if (status === 413) return { kind: "too_large" };
  if ([407, 429, 502, 503, 504].includes(status)) {
    return retryAfterMs === undefined
      ? { kind: "retry", reason: `http_${status}` }
      : { kind: "retry", reason: `http_${status}`, retryAfterMs };
  }
  return { kind: "rejected", reason: `http_${status}` };
}

/** `partialSuccess.rejectedLogRecords` of an answer (an int64: a string or a number), 0 when absent or unreadable. */
function rejectedRecords(body: string | undefined): number {
  try {
    const rejected = Number(JSON.parse(body ?? "{}")?.partialSuccess?.rejectedLogRecords ?? 0);
    return Number.isSafeInteger(rejected) && rejected > 0 ? rejected : 0;
  } catch {
    return 0;
  }
}

/**
 * Reads an `OTEL_EXPORTER_OTLP_HEADERS`-style list (`key=value,key2=value2`,
 * percent-encoded, as the specification defines it; also
 * `OTEL_RESOURCE_ATTRIBUTES`). Entries that cannot be read are skipped; blank ones (`a=1,,b=2`) are ignored.
 *
 * @param text The variable's value.
 * @param onSkip Told about each entry skipped, by position (never its value, which may be a secret).
 * @returns The pairs.
 * @example
 * ```ts
 * import { parseOtelList } from "./otlp.ts";
 * parseOtelList("api-key=a%20b, x=1,bad"); // { "api-key": "a b", x: "1" }
 * ```
 */
export function parseOtelList(text: string | undefined, onSkip?: (entry: string) => void): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const [index, entry] of (text ?? "").split(",").entries()) {
    if (entry.trim() === "") continue;
    const equals = entry.indexOf("=");
    const skip = (why: string) => onSkip?.(`entry ${index + 1} ${why}`);
    if (equals < 0 || entry.slice(0, equals).trim() === "") {
      skip("is not key=value");
      continue;
    }
    try {
      const key = decodeURIComponent(entry.slice(0, equals).trim());
      const value = decodeURIComponent(entry.slice(equals + 1).trim());
      if (key !== "") pairs[key] = value;
      else skip("has an empty key");
    } catch {
      skip("has a bad percent-encoding");
    }
  }
  return pairs;
}

/** The keys of `OTEL_RESOURCE_ATTRIBUTES` that are sent: those that name the service and its deployment's environment. */
const SERVICE_ATTRIBUTE = /^(?:service\.(?:name|namespace|version)|deployment\.environment(?:\.name)?)$/;

/**
 * The attributes of `OTEL_RESOURCE_ATTRIBUTES` that say which service sends, and those that are not sent. The variable
 * is the machine's, set for its own services (Kubernetes' OpenTelemetry operator sets it in every pod): its other
 * entries (`host.name`, `user.name`, `k8s.pod.name`, `service.instance.id`...) would tell the endpoint who or which
 * machine sends, which the consent question promises it never learns. The program's `resource` option is its own.
 *
 * @param attributes The variable's pairs ({@link parseOtelList}).
 * @returns Those sent, and the keys of the others.
 * @example
 * ```ts
 * import { serviceAttributes } from "./otlp.ts";
 * serviceAttributes({ "service.namespace": "tools", "host.name": "ada-laptop" });
 * // { sent: { "service.namespace": "tools" }, skipped: ["host.name"] }
 * ```
 */
export function serviceAttributes(attributes: Record<string, string>): {
  sent: Record<string, string>;
  skipped: string[];
} {
  const sent: Record<string, string> = {};
  const skipped: string[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    if (SERVICE_ATTRIBUTE.test(key)) sent[key] = value;
    else skipped.push(key);
  }
  return { sent, skipped };
}

/** The variables that may name the OTLP logs endpoint, in order: the first one set decides. */
export const OTLP_ENDPOINT_VARIABLES = ["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"] as const;

/**
 * The logs endpoint from the OpenTelemetry environment:
 * `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT`
 * with `v1/logs` appended to its path, as the specification says. Where the
 * variable that would decide may not be read (Deno's `--allow-env`), the
 * endpoint is hidden: it could have named another collector.
 *
 * @param env Reads an environment variable.
 * @param isHidden Whether the program may not read a variable.
 * @returns The URL (`undefined` when neither is set), and whether it is hidden.
 * @example
 * ```ts
 * import { otlpEndpointFromEnv } from "./otlp.ts";
 * otlpEndpointFromEnv((name) => name === "OTEL_EXPORTER_OTLP_ENDPOINT" ? "http://collector:4318" : undefined);
 * // { endpoint: "http://collector:4318/v1/logs", hidden: false }
 * ```
 */
export function otlpEndpointFromEnv(
  env: (name: string) => string | undefined,
  isHidden: (name: string) => boolean = () => false,
): { endpoint?: string; hidden: boolean } {
  for (const name of OTLP_ENDPOINT_VARIABLES) {
    if (isHidden(name)) return { hidden: true };
    // Blanks around it (a `.env` file's, a YAML value's) are none of the URL's, as a URL's parser reads it: kept, they
    // came before the path added (`/base%20/v1/logs`).
    const value = env(name)?.trim();
    if (!value) continue;
    const endpoint = name === "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT" ? value : withLogsPath(value);
    return { endpoint, hidden: false };
  }
  return { hidden: false };
}

/** A base URL with the logs signal's path added to its path: before its query, where it has one (`?tenant=a`). */
function withLogsPath(base: string): string {
  const [, path, rest] = /^([^?#]*)(.*)$/s.exec(base)!;
  return `${path.replace(/\/+$/, "")}/v1/logs${rest}`;
}
