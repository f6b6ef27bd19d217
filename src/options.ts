/**
 * The handler's options: their defaults, their validation, and where its
 * events go (the sink), from the options and the environment.
 *
 * @module
 */
import {
  DEFAULT_ENDPOINT,
  endpointProblem,
  type EnvironmentSettings,
  environmentSettings,
  formatNamed,
  isEndpoint,
  type ReplacingOption,
} from "./config.ts";
import { randomFraction } from "./atomic.ts";
import { MAX_TIMER_MS } from "./deadline.ts";
import { DEFAULT_SCHEMA_VERSION, SCHEMA_VERSION_SLACK_BYTES } from "./events.ts";
import { headerValueOf, isFramingHeader, isHeaderName, isHeaderValue } from "./http_fields.ts";
import { DEFAULT_SERVICE_NAME } from "./otlp.ts";
import { natFormat, otlpFormat, type WireFormat, type WireFormatName } from "./wire_format.ts";
import { describe, describeError, isPlainObject, redact, unknownOption } from "./describe.ts";
import { type Fetch, host, type InterruptSignal, type RuntimeInfo, runtimeInfo } from "./runtime/mod.ts";
import { isAbsolutePath } from "./runtime/guarded_files.ts";
import { DEFAULT_SPOOL_LIMITS, type SpoolLimits, spoolLineBytes } from "./spool.ts";
import { utf8Length } from "./utf8.ts";
import { CLIENT_VERSION } from "./version.ts";

/** Where OTLP logs go when no endpoint is set: a collector on this machine, as the OpenTelemetry specification says. */
export const DEFAULT_OTLP_ENDPOINT = "http://localhost:4318/v1/logs";

/** Seconds between periodic flushes. */
export const DEFAULT_FLUSH_INTERVAL_SECONDS = 120;
/** Queued events that trigger an early flush. */
export const DEFAULT_MAX_QUEUE_SIZE = 50;
/** Times an event is retried before it is dropped. */
export const DEFAULT_MAX_RETRIES = 3;
/** Seconds one request may take. */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 2;

/**
 * Options of {@link NATTelemetryHandler}. Every one is optional, and every one is checked when the handler is
 * created, whether telemetry is on or off: a wrong type or a key that is not an option (a typo) is a
 * `TypeError`, a number out of range a `RangeError`. Durations are at most {@link MAX_TIMER_MS} / 1000 seconds
 * (what a timer can wait, about 24.8 days). What a string holds, which the program may have taken from its user's
 * environment (`process.env.KEY`), never throws: an `endpoint` that is no endpoint, a header value that cannot be
 * sent or a relative `spoolDir` turns off what it is for, a `format` that names none sends `"nat"`, and each says
 * why (`nat-telemetry status`; where telemetry is on, the debug trail and the logger, once).
 */
export interface NATTelemetryHandlerOptions {
  /** Seconds between periodic flushes once started; more than 0, at most 2147483.647. @default {120} */
  flushIntervalSeconds?: number | undefined;
  /** Queued events that trigger an early flush. @default {50} */
  maxQueueSize?: number | undefined;
  /** Retries of an event before it is dropped as `retries_exhausted`. @default {3} */
  maxRetries?: number | undefined;
  /** Seconds one delivery may take, redirects included; more than 0, at most 2147483.647. @default {2} */
  requestTimeoutSeconds?: number | undefined;
  /** The envelope's `clientVer`. @default {CLIENT_VERSION} */
  sourceClientVersion?: string | undefined;
  /** The envelope's `sessionId`, after `NAT_SESSION_PREFIX`. @default {"undefined"} */
  sessionId?: string | undefined;
  /**
   * Where to POST; wins over `NAT_TELEMETRY_ENDPOINT`. `""` builds payloads
   * and sends nothing; `"stdout"` writes each batch to stderr as the line Python's `json.dumps` would print
   * (even with `NAT_TELEMETRY_DRY_RUN`, as the Python tool does). Another string (`localhost:4318`, without a
   * scheme) sends nothing: each event is dropped as `invalid_endpoint`, and the reason told.
   * @default {"https://events.telemetry.data.nvidia.com/v1.1/events/json"}
   */
  endpoint?: string | undefined;
  /** The most seconds `stop()` may take in total; at most 2147483.647. @default {requestTimeoutSeconds} */
  exitTimeoutSeconds?: number | undefined;
  /**
   * The fetch to deliver with: a {@link Fetch}, `globalThis.fetch` or any client answering with a status and
   * `headers.get`. A `globalThis.fetch` the program puts in place (one that adds its own credentials) is not used
   * unless given here; under Deno, only one put in place after the package loaded.
   * @default {Bun.fetch; Deno's fetch as it was when the package loaded; under Node.js a lighter client on node:http, which loads ~40 ms faster}
   */
  fetch?: Fetch | undefined;
  /**
   * Seconds before the first retry; doubles with each retry, with jitter. 0 retries at the next flush. At most
   * 2147483.647.
   * @default {1}
   */
  backoffInitialSeconds?: number | undefined;
  /** The longest backoff, in seconds; at least `backoffInitialSeconds`, at most 2147483.647. @default {60} */
  backoffMaxSeconds?: number | undefined;
  /** Events held in memory at most (queued, retrying and in flight); more are dropped as `buffer_full`. @default {1000} */
  maxBufferedEvents?: number | undefined;
  /**
   * Serialized bytes of one event at most; a larger one is dropped as `event_too_large`. At least the size of
   * the smallest event (about 60 bytes; under `trackCommand`, the smallest it records: 247).
   * @default {32768}
   */
  maxEventBytes?: number | undefined;
  /**
   * Bytes of one request body at most; larger batches are split before sending. At least one envelope of the
   * chosen format holding the smallest event (about 900 bytes; under `trackCommand`, 1,100 or more).
   * @default {500000}
   */
  maxBatchBytes?: number | undefined;
  /**
   * Where undelivered events wait for a later run; `false` keeps no spool. An absolute path: a relative or empty
   * one means no spool, as a relative `NAT_TELEMETRY_SPOOL_DIR` does (it would move with the working directory, and
   * later runs, started elsewhere, would never find what this one spooled), and `nat-telemetry status` says so.
   * @default {NAT_TELEMETRY_SPOOL_DIR, else $XDG_STATE_HOME/nat/telemetry, else ~/.local/state/nat/telemetry}
   */
  spoolDir?: string | false | undefined;
  /** Events the spool keeps at most; the oldest go first (`spool_full`). @default {1000} */
  spoolMaxEvents?: number | undefined;
  /** Bytes the spool keeps at most; the oldest go first (`spool_full`). @default {1048576} */
  spoolMaxBytes?: number | undefined;
  /** Days a spooled event is kept; older ones are dropped (`spool_expired`). @default {7} */
  spoolMaxAgeDays?: number | undefined;
  /**
   * Opt in to recording Ctrl-C: on SIGINT or SIGTERM, spool pending events
   * synchronously, then let the process die as it would have without us. A
   * function is called first, so it can enqueue a last event. Without it, no
   * signal listener is installed.
   * @default {false}
   */
  captureInterrupts?: boolean | ((signal: InterruptSignal) => void) | undefined;
  /**
   * At the end (`stop()`, the natural exit, `process.exit()`, Ctrl-C), hand pending events to a short-lived
   * detached sender process instead of delivering them in process, so the exit waits for a spool write and a
   * spawn, not the network. `true` hands off even in CI; `false` never. See the README, "At exit".
   * @default {NAT_TELEMETRY_HANDOFF if set, else true unless the CI variable is set}
   */
  handOff?: boolean | undefined;
  /**
   * The wire format: `"nat"`, the Python tool's envelope, or `"otlp"`, OTLP/HTTP logs (JSON) for an
   * OpenTelemetry Collector. With `"otlp"` the endpoint defaults to `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/logs`, else `http://localhost:4318/v1/logs`. Read as
   * `NAT_TELEMETRY_FORMAT` is (any case, spaces around; an empty one is none); another string sends `"nat"`, and
   * says so. Typed to take a string from the environment (`process.env.MYCLI_FORMAT`) as it is.
   * @default {NAT_TELEMETRY_FORMAT, else "nat"}
   */
  format?: "nat" | "otlp" | (string & Record<never, never>) | undefined;
  /**
   * More request headers (e.g. a collector's API key), sent to the endpoint's origin only, never through a
   * redirect to another. With `"otlp"` and no `endpoint` given (the environment names it), `OTEL_EXPORTER_OTLP_HEADERS`
   * and `OTEL_EXPORTER_OTLP_LOGS_HEADERS` add to them (the option wins). Each name must be an RFC 9110 token (any other
   * is a `TypeError`). A value is sent without the spaces, tabs and line ends around it, as `fetch` does
   * (`readFileSync("key.txt", "utf8")` ends with one); one that still holds a control character or a character past
   * ASCII, or values past 8 KiB in all, cannot be sent: nothing is, each event dropped as `invalid_headers`. (A bad
   * entry of `OTEL_EXPORTER_OTLP_HEADERS` is skipped, not sent.) An entry whose value is `undefined` is none:
   * `{ "x-api-key": process.env.KEY }` where `KEY` is unset.
   * @default {{}}
   */
  headers?: Record<string, string | undefined> | undefined;
  /**
   * OTLP resource attributes; they win over `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` (taken only where no
   * `endpoint` is given: the environment names the endpoint).
   * `service.name` defaults to `"nat-cli"`. An entry whose value is `undefined` is none.
   * @default {{}}
   */
  resource?: Record<string, string | undefined> | undefined;
  /**
   * Receives one line per drop or retry decision (not one per event), and once each problem of the options (what a
   * string option holds that cannot be used). Its errors are ignored.
   */
  logger?: ((message: string) => void) | undefined;
  /** The clock, in epoch milliseconds; for tests. @default {Date.now} */
  clock?: (() => number) | undefined;
  /** Numbers in `[0, 1)` for backoff jitter; for tests. @default {Math.random, as the package found it} */
  random?: (() => number) | undefined;
}

/** Where a handler's batches go. */
export type Sink =
  | { readonly kind: "http"; readonly url: string }
  | { readonly kind: "stderr" }
  | {
    readonly kind: "none";
    readonly reason: "dry_run" | "invalid_endpoint" | "invalid_headers" | "endpoint_hidden";
    /** What made it none, where the program's options did. */
    readonly detail?: string | undefined;
  };

/** The options with defaults applied and times in milliseconds. */
export interface ResolvedOptions {
  readonly flushIntervalMs: number;
  readonly maxQueueSize: number;
  readonly maxRetries: number;
  readonly requestTimeoutMs: number;
  readonly exitTimeoutMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly maxBufferedEvents: number;
  /**
   * The largest event accepted: the option, or less where an envelope of `maxBatchBytes` could not hold it (0 or
   * less where the user's environment leaves no room).
   */
  readonly maxEventBytes: number;
  /** The `maxEventBytes` option as given (a sender is configured with it, and resolves its own room). */
  readonly maxEventBytesOption: number;
  readonly maxBatchBytes: number;
  readonly sourceClientVersion: string;
  readonly sessionId: string;
  readonly sink: Sink;
  readonly spoolDir: string | undefined;
  /** Why there is no `spoolDir`, when there is none (`spoolDir: false`, or what the environment says). */
  readonly noSpool: string | undefined;
  /**
   * What the program's options hold that cannot be used, each with what is done instead: a string's content, which
   * may be its user's (an `endpoint`, a header value, a `spoolDir` or a `format` taken from a variable of its own).
   */
  readonly problems: readonly string[];
  /**
   * What the environment holds that cannot be used as it is, each with what is done instead
   * (`environmentSettings().problems`, as `nat-telemetry status` lists them), but for the variables the options take
   * the place of: for the debug trail.
   */
  readonly environmentProblems: readonly string[];
  /** Whether `spoolDir` is the default place, which runs may trade for the fallback (`fallbackSpoolDir`). */
  readonly spoolFallback: boolean;
  readonly spoolLimits: SpoolLimits;
  readonly captureInterrupts: false | ((signal: InterruptSignal) => void);
  /** Whether to hand off at the end, and what decided it. */
  readonly handOff: {
    readonly enabled: boolean;
    readonly source: "handOff option" | "NAT_TELEMETRY_HANDOFF" | "CI" | "default";
  };
  /** Whether the program gave its own fetch. */
  readonly customFetch: boolean;
  /** The wire format. */
  readonly format: WireFormat;
  /** What decided the format. */
  readonly formatSetBy: "the program's options" | "NAT_TELEMETRY_FORMAT" | "the default";
  /** More request headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: Fetch;
  /** The program's logger; `undefined` for none. */
  readonly logger: ((message: string) => void) | undefined;
  readonly clock: () => number;
  /**
   * What a handler's own waits (retries, probes, a server's `Retry-After`) are read on: the host's monotonic clock,
   * which a wall clock stepped back or ahead does not move; the `clock` option where one is given (a test's).
   */
  readonly waitClock: () => number;
  readonly random: () => number;
}

/**
 * The smallest event there can be: what a handler must be able to hold, whatever its options. Written out, not
 * serialized at load: a program that broke `JSON.stringify` before loading the package could not import it.
 */
const SMALLEST_EVENT_JSON = '{"ts":"2026-01-01T00:00:00.000Z","parameters":{},"name":"x"}';

/**
 * The smallest event `trackCommand` records (the shortest source and command, the shortest values, the longest
 * runtime's label), written out as {@link SMALLEST_EVENT_JSON} is: its handler must hold it, not only any event, lest
 * size options that pass lose every command's event on every user's machine.
 */
const SMALLEST_COMMAND_EVENT_JSON = '{"ts":"2026-01-01T00:00:00.000Z","parameters":{"nemoSource":"auditor",' +
  '"command":"x","subcommand":"undefined","taskStatus":"success","durationMs":0,"exitCode":0,' +
  '"errorClass":"undefined","pythonVersion":"node/xxxxxxxxxxxx"},"name":"nat_cli_command"}';

/**
 * The handler options of `trackCommand`, whose size options are checked against the smallest event it records
 * ({@link resolveOptions} reads them so): a mark on the object, not an option a program could set.
 *
 * @example
 * ```ts
 * import { commandHandlerOptions, resolveOptions } from "./options.ts";
 * const options = { maxEventBytes: 100 };
 * commandHandlerOptions.add(options);
 * try {
 *   resolveOptions(options);
 * } catch (error) {
 *   (error as Error).message; // "... 'maxEventBytes' must be at least 247 (the smallest event trackCommand records) ..."
 * }
 * ```
 */
export const commandHandlerOptions: WeakSet<NATTelemetryHandlerOptions> = new WeakSet();

/** Every option of {@link NATTelemetryHandlerOptions}: a key not here is a typo. */
const OPTION_NAMES: Record<keyof NATTelemetryHandlerOptions, true> = {
  flushIntervalSeconds: true,
  maxQueueSize: true,
  maxRetries: true,
  requestTimeoutSeconds: true,
  sourceClientVersion: true,
  sessionId: true,
  endpoint: true,
  exitTimeoutSeconds: true,
  fetch: true,
  backoffInitialSeconds: true,
  backoffMaxSeconds: true,
  maxBufferedEvents: true,
  maxEventBytes: true,
  maxBatchBytes: true,
  spoolDir: true,
  spoolMaxEvents: true,
  spoolMaxBytes: true,
  spoolMaxAgeDays: true,
  captureInterrupts: true,
  handOff: true,
  format: true,
  headers: true,
  resource: true,
  logger: true,
  clock: true,
  random: true,
};

/** How a number option is checked. */
interface NumberRule {
  /** `positive` excludes 0. */
  readonly sign: "positive" | "non-negative";
  /** A whole number (a count or a size), else any finite number. */
  readonly integer?: boolean | undefined;
  /** A number of seconds a timer waits: at most {@link MAX_TIMER_MS}. */
  readonly timer?: boolean | undefined;
}

/**
 * Validates the options, applies the defaults and reads the environment
 * (`NAT_TELEMETRY_ENDPOINT`, `NAT_TELEMETRY_DRY_RUN`, `NAT_SESSION_PREFIX`...).
 * Every option is checked, whatever the consent: its type (`undefined` is
 * the default, `null` is not), its range (each duration within a timer's
 * range, each size able to hold one event), header names (RFC 9110), and
 * the keys themselves (a misspelt one is named, with the nearest option). A value of the environment this library does not
 * understand is never an error here (see `environmentSettings().problems`),
 * nor is what a string option holds, which may be the user's (`problems`).
 *
 * @param options What the caller passed.
 * @returns The resolved options.
 * @throws {TypeError} When an option has the wrong type, is not an option, or is a bad header name.
 * @throws {RangeError} When a number is out of range.
 * @example
 * ```ts
 * import { resolveOptions } from "./options.ts";
 * resolveOptions({ maxRetries: 5 }).maxRetries; // 5
 * ```
 */
export function resolveOptions(options: NATTelemetryHandlerOptions = {}): ResolvedOptions {
  if (!isPlainObject(options)) {
    throw new TypeError(`Cannot create handler: options must be an object, got ${describe(options)}`);
  }
  const unknown = unknownOption(options, OPTION_NAMES);
  if (unknown) throw new TypeError(`Cannot create handler: ${unknown}`);
  const number = (name: keyof NATTelemetryHandlerOptions, fallback: number, rule: NumberRule): number => {
    const value = options[name] === undefined ? fallback : options[name];
    const kind = rule.integer ? `${rule.sign} integer` : `${rule.sign} number`;
    const expected = `Cannot create handler: '${name}' must be a ${kind}`;
    if (typeof value !== "number" || Number.isNaN(value)) throw new TypeError(`${expected}, got ${describe(value)}`);
    const ok = (rule.sign === "positive" ? value > 0 : value >= 0) &&
      (rule.integer ? Number.isSafeInteger(value) : Number.isFinite(value));
    if (!ok) throw new RangeError(`${expected}, got ${value}`);
    if (rule.timer && value * 1000 > MAX_TIMER_MS) {
      throw new RangeError(
        `Cannot create handler: '${name}' must be at most ${MAX_TIMER_MS / 1000} seconds ` +
          `(the longest a timer can wait), got ${value}`,
      );
    }
    return value;
  };
  const optional = <T>(
    name: keyof NATTelemetryHandlerOptions,
    type: "string" | "function" | "boolean",
    fallback: T,
  ): T => {
    const value = options[name];
    if (value === undefined) return fallback;
    // deno-lint-ignore valid-typeof
    if (typeof value !== type) {
      throw new TypeError(`Cannot create handler: '${name}' must be a ${type}, got ${describe(value)}`);
    }
    return value as T;
  };
  const seconds = { sign: "positive", timer: true } as const;
  const secondsOrZero = { sign: "non-negative", timer: true } as const;
  const count = { sign: "positive", integer: true } as const;
  const requestTimeoutSeconds = number("requestTimeoutSeconds", DEFAULT_REQUEST_TIMEOUT_SECONDS, seconds);
  const backoffInitialSeconds = number("backoffInitialSeconds", 1, secondsOrZero);
  const backoffMaxSeconds = number("backoffMaxSeconds", 60, secondsOrZero);
  if (backoffMaxSeconds < backoffInitialSeconds) {
    throw new RangeError(
      `Cannot create handler: 'backoffMaxSeconds' must be at least 'backoffInitialSeconds' (${backoffInitialSeconds}), got ${backoffMaxSeconds}`,
    );
  }
  const settings = environmentSettings();
  const sourceClientVersion = optional("sourceClientVersion", "string", CLIENT_VERSION);
  const ownResource = stringRecord("resource", options.resource);
  const ownSessionId = optional("sessionId", "string", "undefined");
  const problems: string[] = [];
  // An empty string is none, as an empty NAT_TELEMETRY_FORMAT is (`process.env.MYCLI_FORMAT` set to nothing).
  const formatOption = typeof options.format === "string" && options.format.trim() === "" ? undefined : options.format;
  const ownFormat = resolveFormat(formatOption, problems);
  // A value the user set that names no format: the envelope the Python tool sends, rather than a failure.
  const envFormat = formatNamed(settings.format ?? "");
  const format = formatOption !== undefined ? ownFormat : envFormat ?? "nat";
  // The user's OTEL_* headers (a key) and service describe the user's own pipeline: they go with an endpoint the
  // environment names (or OTLP's default, the user's collector), never to one the program names itself.
  const users = options.endpoint === undefined
    ? { headers: settings.otlpHeaders, resource: settings.otlpResource }
    : { headers: {}, resource: {} };
  const wireFormat = wireFormatFor(format, sourceClientVersion, { ...users.resource, ...ownResource });
  const [leastJson, leastEvent] = commandHandlerOptions.has(options)
    ? [
      SMALLEST_COMMAND_EVENT_JSON,
      "the smallest event trackCommand records; a command's own are larger by its name, source and duration",
    ]
    : [SMALLEST_EVENT_JSON, "the smallest event"];
  const smallest = smallestEvent(wireFormat, settings.sessionPrefix + ownSessionId);
  // The least sizes are the program's alone to meet: checked against its options, not the user's environment (a
  // session prefix, OTLP resource attributes, the format) or runtime, so that what passes on its author's machine
  // passes on every user's. What the environment adds can leave an event no room in a batch: it is dropped, counted as
  // event_too_large.
  const least = smallestEvent(
    wireFormatFor(ownFormat, sourceClientVersion, ownResource, LONGEST_RUNTIME),
    ownSessionId,
    leastJson,
  );
  const maxEventBytes = number("maxEventBytes", 32_768, count);
  if (maxEventBytes < least.eventBytes) {
    throw new RangeError(
      `Cannot create handler: 'maxEventBytes' must be at least ${least.eventBytes} (${leastEvent}), ` +
        `got ${maxEventBytes}`,
    );
  }
  const maxBatchBytes = number("maxBatchBytes", 500_000, count);
  if (maxBatchBytes < least.batchBytes) {
    const envelope = `one ${ownFormat} envelope holding ${leastEvent}`;
    // Not set: what the program set that goes in every envelope is what does not fit.
    throw new RangeError(
      options.maxBatchBytes === undefined
        ? `Cannot create handler: 'sourceClientVersion', 'sessionId' or 'resource' make ${envelope} ` +
          `${least.batchBytes} bytes, more than 'maxBatchBytes' (${maxBatchBytes} by default)`
        : `Cannot create handler: 'maxBatchBytes' must be at least ${least.batchBytes} (${envelope}), ` +
          `got ${maxBatchBytes}`,
    );
  }
  const headers = requestHeaders(options.headers);
  if (headers.problem) problems.push(headers.problem);
  const sink = resolveSink(
    options.endpoint,
    settings.endpointHidden
      ? HIDDEN
      : settings.endpoint ?? (format === "otlp"
        ? settings.otlpEndpointHidden ? HIDDEN : settings.otlpEndpoint ?? DEFAULT_OTLP_ENDPOINT
        : undefined),
    settings.dryRun,
    problems,
  );
  const spoolDir = resolveSpoolDir(options.spoolDir, settings, problems);
  const clock = checkedSource("clock", optional("clock", "function", Date.now), Date.now, {
    valid: isClockTime,
    expected: "epoch milliseconds",
    hint: " (a method needs its object: () => performance.timeOrigin + performance.now())",
  });
  return {
    flushIntervalMs: number("flushIntervalSeconds", DEFAULT_FLUSH_INTERVAL_SECONDS, seconds) * 1000,
    maxQueueSize: number("maxQueueSize", DEFAULT_MAX_QUEUE_SIZE, count),
    maxRetries: number("maxRetries", DEFAULT_MAX_RETRIES, { sign: "non-negative", integer: true }),
    requestTimeoutMs: requestTimeoutSeconds * 1000,
    exitTimeoutMs: number("exitTimeoutSeconds", requestTimeoutSeconds, secondsOrZero) * 1000,
    backoff: { initialMs: backoffInitialSeconds * 1000, maxMs: backoffMaxSeconds * 1000 },
    maxBufferedEvents: number("maxBufferedEvents", 1000, count),
    maxEventBytes: Math.min(maxEventBytes, maxBatchBytes - smallest.envelopeBytes - SCHEMA_VERSION_SLACK_BYTES),
    maxEventBytesOption: maxEventBytes,
    maxBatchBytes,
    sourceClientVersion,
    sessionId: settings.sessionPrefix + ownSessionId,
    sink: sink.kind === "http" && headers.problem
      ? { kind: "none", reason: "invalid_headers", detail: headers.problem }
      : sink,
    spoolDir: spoolDir.path,
    noSpool: spoolDir.none,
    problems,
    environmentProblems: problemsInForce(settings, {
      endpoint: options.endpoint !== undefined,
      spoolDir: options.spoolDir !== undefined,
      format: formatOption !== undefined,
      handOff: options.handOff !== undefined,
    }),
    spoolFallback: options.spoolDir === undefined && settings.spoolFallback,
    spoolLimits: {
      maxEvents: number("spoolMaxEvents", DEFAULT_SPOOL_LIMITS.maxEvents, count),
      maxBytes: spoolMaxBytes(number("spoolMaxBytes", DEFAULT_SPOOL_LIMITS.maxBytes, count), leastJson, leastEvent),
      maxAgeMs: number("spoolMaxAgeDays", DEFAULT_SPOOL_LIMITS.maxAgeMs / 86_400_000, { sign: "positive" }) *
        86_400_000,
    },
    captureInterrupts: resolveInterrupts(options.captureInterrupts),
    handOff: resolveHandOff(optional<boolean | undefined>("handOff", "boolean", undefined), settings),
    customFetch: options.fetch !== undefined,
    format: wireFormat,
    formatSetBy: formatOption !== undefined
      ? "the program's options"
      : envFormat !== undefined
      ? "NAT_TELEMETRY_FORMAT"
      : "the default",
    headers: { ...(format === "otlp" ? users.headers : {}), ...headers.record },
    // Where the host has none (no runtime known), globalThis.fetch is looked up at delivery time.
    fetch: optional<Fetch>("fetch", "function", host().fetch ?? ((url, init) => globalThis.fetch(url, init))),
    logger: optional<ResolvedOptions["logger"]>("logger", "function", undefined),
    clock,
    waitClock: options.clock === undefined ? () => host().monotonicMs() : clock,
    random: checkedSource("random", optional("random", "function", randomFraction), randomFraction, {
      valid: (value) => typeof value === "number" && value >= 0 && value < 1,
      expected: "a number in [0, 1)",
    }),
  };
}

/**
 * The `clock` or `random` option, called once to check it: the clock names spool files and times retries, and random
 * numbers space them, so a value it cannot use (`Date`, which returns a string; `performance.now` unbound, which throws;
 * a raw 32-bit integer for a fraction, which put a retry years away) would lose events far from the mistake. One it
 * cannot use later (a fake clock run past its range, one that throws) gives way to the package's own.
 */
function checkedSource(
  name: "clock" | "random",
  source: () => number,
  own: () => number,
  { valid, expected, hint = "" }: { valid: (value: unknown) => boolean; expected: string; hint?: string },
): () => number {
  if (source === own) return source; // the package's own: nothing to check, nothing called at start
  let first: unknown;
  try {
    first = source();
  } catch (error) {
    throw new TypeError(`Cannot create handler: '${name}' failed: ${describeError(error)}${hint}`);
  }
  if (!valid(first)) {
    throw new RangeError(`Cannot create handler: '${name}' must return ${expected}, got ${describe(first)}`);
  }
  return () => {
    try {
      const value = source();
      return valid(value) ? value : own();
    } catch {
      return own();
    }
  };
}

/** Epoch milliseconds a spool file's name can carry: from 1970 to the year 2286 (13 digits). */
const isClockTime = (time: unknown): time is number => typeof time === "number" && time >= 0 && time < 1e13;

/**
 * What the smallest event takes: on its own (as `maxEventBytes` counts it), and in a batch of its own; and what
 * an envelope with no event takes.
 */
function smallestEvent(
  format: WireFormat,
  sessionId: string,
  json = SMALLEST_EVENT_JSON,
): { eventBytes: number; batchBytes: number; envelopeBytes: number } {
  const event = {
    json,
    bytes: utf8Length(json),
    schemaVersion: DEFAULT_SCHEMA_VERSION,
    sessionId,
    timestamp: 0,
    retries: 0,
    notBefore: 0,
  };
  // In a batch, an event may take more than its own JSON (an OTLP log record wraps it).
  const inBatch = Math.max(event.bytes, format.eventBytes(event));
  const envelopeBytes = format.emptyBytes(event);
  return { eventBytes: event.bytes, batchBytes: envelopeBytes + SCHEMA_VERSION_SLACK_BYTES + inBatch, envelopeBytes };
}

/**
 * The `spoolMaxBytes` option, which must hold one spooled event (the smallest, in no session, of no client version):
 * below it, every event a run hands off or spools would be dropped as `spool_full`, whatever its endpoint, where a CI
 * run (delivering in process) shows nothing wrong. The default holds far more: only a smaller bound is measured.
 */
function spoolMaxBytes(maxBytes: number, leastJson: string, leastEvent: string): number {
  if (maxBytes >= DEFAULT_SPOOL_LIMITS.maxBytes) return maxBytes;
  const least = spoolLineBytes({
    json: leastJson,
    schemaVersion: DEFAULT_SCHEMA_VERSION,
    sessionId: "",
    retries: 0,
    timestamp: 1e12,
  });
  if (maxBytes < least) {
    throw new RangeError(
      `Cannot create handler: 'spoolMaxBytes' must be at least ${least} (one spooled event, ${leastEvent}), got ` +
        `${maxBytes}`,
    );
  }
  return maxBytes;
}

/** The wire format by its name: OTLP with the resource it describes the sender with. */
function wireFormatFor(
  format: WireFormatName,
  sourceClientVersion: string,
  resource: Record<string, string>,
  runtime?: RuntimeInfo,
) {
  return format === "otlp"
    ? otlpFormat({
      serviceName: resource["service.name"] ?? DEFAULT_SERVICE_NAME,
      serviceVersion: sourceClientVersion,
      resourceAttributes: resource,
    }, runtime)
    : natFormat(sourceClientVersion, runtime);
}

/**
 * A runtime and machine whose names are as long as a user's are (Node.js's names, the longer; a version of 12
 * characters, as `24.10.0-rc.1`; a machine of 11, as `loongarch64`, the longest `uname -m` among Node.js's
 * platforms): the least sizes are the same on every machine, where the runtime's own differ by a few bytes (a Linux
 * x86_64 Node.js's envelope is a byte larger than a macOS arm64 one's). A longer name takes from the 64 bytes of
 * slack an envelope keeps.
 */
const LONGEST_RUNTIME: RuntimeInfo = { name: "node", version: "x".repeat(12), machine: "x".repeat(11), os: "linux" };

/**
 * The sizes a sender is configured with: the options as given, raised to the least the sender's own options allow,
 * which are the format and resource the program's environment gave it (a sender has a clean environment): it would
 * refuse less, and end with its events waiting. An event too large for a batch goes alone, as in the program.
 *
 * @param options The program's resolved options.
 * @returns `maxBatchBytes` and `maxEventBytes` for the sender.
 * @example
 * ```ts
 * import { resolveOptions, senderSizes } from "./options.ts";
 * senderSizes(resolveOptions({ maxBatchBytes: 4096 })).maxBatchBytes; // 4096
 * ```
 */
export function senderSizes(options: ResolvedOptions): { maxBatchBytes: number; maxEventBytes: number } {
  const { format, sourceClientVersion } = options;
  const resource = format.resource ?? {};
  const least = smallestEvent(wireFormatFor(format.name, sourceClientVersion, resource, LONGEST_RUNTIME), "undefined");
  return {
    maxBatchBytes: Math.max(options.maxBatchBytes, least.batchBytes),
    maxEventBytes: Math.max(options.maxEventBytesOption, least.eventBytes),
  };
}

/** The environment's endpoint, where the program may not read it. */
const HIDDEN = Symbol("hidden");

/**
 * Decides where batches go. The `endpoint` option wins over the environment;
 * one that is no string is a programming error and throws; a string that is
 * no endpoint may be the user's (a variable of the program's own), as a bad
 * environment value is, and turns delivery off (every event counted as
 * `invalid_endpoint`, the option's in `problems`), and so does one the program
 * may not read (`endpoint_hidden`): the user's endpoint, not the default.
 */
function resolveSink(
  option: unknown,
  fromEnv: string | undefined | typeof HIDDEN,
  dryRun: boolean,
  problems: string[],
): Sink {
  if (option !== undefined && typeof option !== "string") {
    throw new TypeError(
      `Cannot create handler: 'endpoint' must be a string (an http(s) URL, "" or "stdout"), got ${describe(option)}`,
    );
  }
  const wrong = option === undefined ? undefined : endpointProblem(option);
  if (wrong) {
    const problem = `the program's 'endpoint' ${describe(redact(option!))} ${wrong}: nothing is sent`;
    problems.push(problem);
    return { kind: "none", reason: "invalid_endpoint", detail: problem };
  }
  if (option === undefined && fromEnv === HIDDEN) return { kind: "none", reason: "endpoint_hidden" };
  const endpoint = option ?? (fromEnv as string | undefined) ?? DEFAULT_ENDPOINT;
  // The option is checked above; the environment's value (or the default) is not.
  if (option === undefined && !isEndpoint(endpoint)) return { kind: "none", reason: "invalid_endpoint" };
  // As in the Python tool, "stdout" prints even in a dry run: printing sends nothing.
  if (endpoint === "stdout") return { kind: "stderr" };
  if (dryRun || endpoint === "") return { kind: "none", reason: "dry_run" };
  return { kind: "http", url: endpoint };
}

/**
 * The environment's problems (`environmentSettings().problems`) but for those about the variables an option the
 * program gave takes the place of (`given`: a blank `format` is none): the debug trail's, which tells what the run does.
 */
function problemsInForce(settings: EnvironmentSettings, given: Record<ReplacingOption, boolean>): string[] {
  const moot: string[] = [];
  for (const [option, problems] of Object.entries(settings.problemsAbout)) {
    if (given[option as ReplacingOption]) { for (const problem of problems) moot.push(problem); }
  }
  const inForce: string[] = []; // a loop, not filter(): a program may have broken Array's methods
  for (const problem of settings.problems) if (!moot.includes(problem)) inForce.push(problem);
  return inForce;
}

/**
 * The spool directory, or why there is none: `false` keeps none; a path must be absolute (a relative one would move
 * with the working directory, so later runs, started elsewhere, would never find what this one spooled): one that is
 * not, empty included, may be the user's (a variable of the program's own) and means none, as a relative
 * `NAT_TELEMETRY_SPOOL_DIR` does.
 */
function resolveSpoolDir(
  option: unknown,
  settings: EnvironmentSettings,
  problems: string[],
): { path: string | undefined; none: string | undefined } {
  if (option === false) return { path: undefined, none: "the program's options keep none (spoolDir: false)" };
  if (option === undefined) return { path: settings.spoolDir, none: settings.noSpool };
  if (typeof option !== "string") {
    throw new TypeError(
      `Cannot create handler: 'spoolDir' must be a string (an absolute path) or false, got ${describe(option)}`,
    );
  }
  if (isAbsolutePath(option, runtimeInfo().os)) return { path: option, none: undefined };
  problems.push(`the program's 'spoolDir' ${describe(option)} is not an absolute path: no spool is kept`);
  return { path: undefined, none: "the program's 'spoolDir' is not an absolute path" };
}

/**
 * The `format` option: a string is read as `NAT_TELEMETRY_FORMAT` is (any case, spaces around); one that names no
 * format may be the user's (a variable of the program's own) and sends the envelope the Python tool sends, "nat".
 */
function resolveFormat(option: unknown, problems: string[]): WireFormatName {
  if (option === undefined) return "nat";
  if (typeof option !== "string") {
    throw new TypeError(`Cannot create handler: 'format' must be a string ("nat" or "otlp"), got ${describe(option)}`);
  }
  const named = formatNamed(option);
  if (named) return named;
  problems.push(`the program's 'format' ${describe(option)} is not a format (nat, otlp): the nat envelope is sent`);
  return "nat";
}

/**
 * An option that maps names to strings (`headers`, `resource`): an entry whose value is `undefined` is none (what an
 * unset variable gives, `{ "x-api-key": process.env.KEY }`, on a machine without it); another that is no string is
 * named, its value not echoed (it may be a key).
 */
function stringRecord(name: string, option: unknown): Record<string, string> {
  if (option === undefined) return {};
  if (!isPlainObject(option)) {
    throw new TypeError(`Cannot create handler: '${name}' must be an object of strings, got ${describe(option)}`);
  }
  const record: Record<string, string> = {};
  for (const [key, value] of Object.entries(option)) {
    if (value === undefined) continue;
    if (typeof value !== "string") {
      throw new TypeError(
        `Cannot create handler: '${name}' must be an object of strings, got ${
          typeof value === "object" || typeof value === "function" ? describe(value) : `a ${typeof value}`
        } for ${describe(key)}`,
      );
    }
    record[key] = value;
  }
  return record;
}

/**
 * The most the `headers` option may add to a request's head, as `name: value` lines: servers refuse a larger head
 * (nginx's buffers hold 8 KiB a line, Node.js's server 16 KiB in all: 431), so every delivery would fail.
 */
const MAX_HEADERS_BYTES = 8192;

/**
 * The `headers` option: each name an RFC 9110 token (a `TypeError` if not: names are the program's), each value
 * without the whitespace around it, as `fetch` sends it. A value that is still no field value, or values past
 * {@link MAX_HEADERS_BYTES}, may be the user's (`process.env.KEY`): the `problem` (the value never echoed: it may be a
 * key), for which nothing is sent.
 */
function requestHeaders(option: unknown): { record: Record<string, string>; problem?: string } {
  const headers = stringRecord("headers", option);
  for (const [name, value] of Object.entries(headers)) {
    if (!isHeaderName(name)) {
      throw new TypeError(
        `Cannot create handler: 'headers' must have header names (RFC 9110 tokens), got ${describe(name)}`,
      );
    }
    if (isFramingHeader(name)) {
      throw new TypeError(
        `Cannot create handler: 'headers' must not set ${describe(name)}: the HTTP client frames the request itself`,
      );
    }
    headers[name] = headerValueOf(value);
  }
  const bad = Object.keys(headers).find((name) => !isHeaderValue(headers[name]));
  const bytes = Object.entries(headers).reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0);
  const problem = bad !== undefined
    ? `the program's 'headers' has a value for ${
      describe(bad)
    } that cannot be sent (a control character or a character past ASCII): nothing is sent`
    : bytes > MAX_HEADERS_BYTES
    ? `the program's 'headers' add ${bytes} bytes to a request, more than ${MAX_HEADERS_BYTES} (servers refuse a ` +
      "larger head): nothing is sent"
    : undefined;
  return problem ? { record: {}, problem } : { record: headers };
}

function resolveHandOff(option: boolean | undefined, settings: EnvironmentSettings): ResolvedOptions["handOff"] {
  if (option !== undefined) return { enabled: option, source: "handOff option" };
  if (settings.handOff !== "auto") return { enabled: settings.handOff, source: "NAT_TELEMETRY_HANDOFF" };
  return settings.ci ? { enabled: false, source: "CI" } : { enabled: true, source: "default" };
}

function resolveInterrupts(option: unknown): false | ((signal: InterruptSignal) => void) {
  if (option === undefined || option === false) return false;
  if (option === true) return () => {};
  if (typeof option === "function") return option as (signal: InterruptSignal) => void;
  throw new TypeError(
    `Cannot create handler: 'captureInterrupts' must be a boolean or a function, got ${describe(option)}`,
  );
}
