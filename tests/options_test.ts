/**
 * Every option of the handler, checked at construction: types, ranges with
 * upper bounds, sizes that can hold one event, header names and values, and
 * keys that are not options. The same whether telemetry is on or off.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import process from "node:process";
import { pathToFileURL } from "node:url";
import {
  type EventParameters,
  type Fetch,
  NATTelemetryHandler,
  type NATTelemetryHandlerOptions,
  setTelemetryEnabled,
  TelemetryEvent,
  trackCommand,
  type TrackCommandOptions,
} from "../mod.ts";
import { Backlog } from "../src/backlog.ts";
import { MAX_TIMER_MS } from "../src/deadline.ts";
import { exitDecision } from "../src/exit_strategy.ts";
import { resolveOptions } from "../src/options.ts";
import { parseSenderConfig, SENDER_CONFIG_ENV } from "../src/sender_config.ts";
import { commandEvent } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { spooled, tempDir } from "./helpers/spool_dir.ts";

process.env.NAT_TELEMETRY_SPOOL_DIR = ""; // no spool unless a test gives one: nothing reaches the home directory

/** Expects `new NATTelemetryHandler(options)` to throw `type` with a message matching `message`, telemetry on and off. */
function refused(options: unknown, type: ErrorConstructor, message: RegExp): void {
  try {
    for (const enabled of [false, true]) {
      setTelemetryEnabled(enabled);
      assert.throws(
        () => new NATTelemetryHandler(options as NATTelemetryHandlerOptions),
        (error: Error) => {
          assert.ok(error instanceof type, `${describeOptions(options)}: ${type.name} expected, got ${error}`);
          assert.match(error.message, message, describeOptions(options));
          return true;
        },
      );
    }
  } finally {
    setTelemetryEnabled(false);
  }
}

function describeOptions(options: unknown): string {
  return JSON.stringify(
    options,
    (_, value) => typeof value === "number" && !Number.isFinite(value) ? `${value}` : value,
  );
}

test("every duration must fit a timer: at most 2^31 - 1 ms, so 3e6 seconds is a RangeError", () => {
  assert.equal(MAX_TIMER_MS, 2 ** 31 - 1);
  for (const name of ["flushIntervalSeconds", "requestTimeoutSeconds", "exitTimeoutSeconds"]) {
    refused(
      { [name]: 3e6 },
      RangeError,
      new RegExp(`^Cannot create handler: '${name}' must be at most 2147483\\.647 seconds .*, got 3000000$`),
    );
  }
  refused(
    { backoffInitialSeconds: 3e6, backoffMaxSeconds: 3e6 },
    RangeError,
    /'backoffInitialSeconds' must be at most/,
  );
  refused({ backoffMaxSeconds: 3e6 }, RangeError, /'backoffMaxSeconds' must be at most 2147483\.647 seconds/);
  // The longest a timer can wait is accepted.
  const longest = new NATTelemetryHandler({
    flushIntervalSeconds: MAX_TIMER_MS / 1000,
    requestTimeoutSeconds: MAX_TIMER_MS / 1000,
    backoffMaxSeconds: MAX_TIMER_MS / 1000,
    endpoint: "",
  });
  longest.start();
  void longest.stop();
});

test("random: called once, it must return a number in [0, 1): a raw 32-bit integer would put a retry years away", () => {
  const notFraction = /^Cannot create handler: 'random' must return a number in \[0, 1\), got /;
  for (const random of [() => 4294967295, () => 1, () => -0.5, () => NaN, () => "0.5", () => crypto.getRandomValues]) {
    refused({ random: random as () => number }, RangeError, notFraction);
  }
  refused(
    {
      random: () => {
        throw new Error("no entropy");
      },
    },
    TypeError,
    /^Cannot create handler: 'random' failed: no entropy$/,
  );
  for (const random of [() => 0, () => 0.999, Math.random]) new NATTelemetryHandler({ random, endpoint: "" });
});

test("clock: called once, it must return epoch milliseconds a spool file's name can carry; what throws is named", () => {
  const notTime = /^Cannot create handler: 'clock' must return epoch milliseconds, got /;
  for (const clock of [Date, () => NaN, () => -1, () => 1e13, () => "0", () => 1n]) {
    refused({ clock }, RangeError, notTime);
  }
  // An unbound method (Node.js's performance.now throws without its object; the others return a number).
  const unbound = () => {
    throw new TypeError('Value of "this" must be of type Performance');
  };
  refused({ clock: unbound }, TypeError, /^Cannot create handler: 'clock' failed: Value of "this" must be .*\(\) =>/);
  refused(
    {
      clock: () => {
        throw "no time";
      },
    },
    TypeError,
    /'clock' failed: threw string/,
  );
  for (const clock of [() => 0, () => 1e13 - 1, () => Date.now() + 0.5]) {
    new NATTelemetryHandler({ clock, endpoint: "" });
  }
  // One that goes bad later is taken as the system's time there: spool files keep names a later run reads.
  for (const bad of [NaN, 2e13, "later", undefined]) {
    let calls = 0;
    const { clock } = resolveOptions({ clock: () => (calls++ === 0 ? 1_000 : bad) as number, endpoint: "" });
    const before = Date.now();
    assert.ok(clock() >= before, String(bad));
  }
  let called = false;
  const { clock } = resolveOptions({
    clock: () => {
      if (called) throw new Error("stopped");
      called = true;
      return 1_000;
    },
    endpoint: "",
  });
  assert.ok(clock() >= Date.now() - 1_000, "one that throws later");
});

test("types: numbers, strings, booleans and functions; undefined is the default, null is not", () => {
  refused(
    { maxRetries: -1 },
    RangeError,
    /^Cannot create handler: 'maxRetries' must be a non-negative integer, got -1$/,
  );
  refused({ maxRetries: null }, TypeError, /'maxRetries' must be a non-negative integer, got null/);
  refused({ maxQueueSize: "5" }, TypeError, /'maxQueueSize' must be a positive integer, got "5"/);
  refused({ spoolMaxAgeDays: Infinity }, RangeError, /'spoolMaxAgeDays' must be a positive number, got Infinity/);
  refused({ sessionId: null }, TypeError, /'sessionId' must be a string, got null/);
  refused({ handOff: "yes" }, TypeError, /'handOff' must be a boolean, got "yes"/);
  refused({ spoolDir: null }, TypeError, /'spoolDir' must be a string \(an absolute path\) or false, got null/);
  refused({ format: 7 }, TypeError, /'format' must be a string \("nat" or "otlp"\), got 7/);
  refused({ headers: ["x: y"] }, TypeError, /'headers' must be an object of strings, got an array/);
  refused({ random: 4 }, TypeError, /'random' must be a function, got 4/);
  refused([], TypeError, /options must be an object, got an array/);
  // Kinds whose contents are not their own properties: taken as plain objects, they would be read as empty.
  refused(Promise.resolve({}), TypeError, /options must be an object, got a Promise/);
  refused(new Map([["endpoint", ""]]), TypeError, /options must be an object, got a Map/);
  refused({ headers: new Headers({ authorization: "Bearer K" }) }, TypeError, /'headers' .*, got a Headers$/);
  refused({ headers: new Map([["authorization", "Bearer K"]]) }, TypeError, /'headers' .*, got a Map$/);
  refused({ headers: new Request("http://localhost/") }, TypeError, /'headers' .*, got a Request$/);
  refused({ format: "otlp", resource: new Map() }, TypeError, /'resource' must be an object of strings, got a Map$/);
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  assert.throws(
    () => new NATTelemetryHandler(revoked.proxy),
    /options must be an object, got an object that cannot be read$/,
  );
  const defaults = new NATTelemetryHandler({ maxRetries: undefined, endpoint: undefined, spoolDir: undefined });
  void defaults.stop();
});

test("options from a module's namespace, a class of the program's or no prototype; not one that names itself", async () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/config.mjs`, 'export const endpoint = "";\nexport const spoolDir = false;\n');
  const namespace = await import(pathToFileURL(`${dir.path}/config.mjs`).href);
  class Config {
    endpoint = "";
  }
  const bare = Object.assign(Object.create(null), { endpoint: "" });
  for (const options of [namespace, new Config(), bare]) void new NATTelemetryHandler(options).stop();
  class NamedConfig extends Config {
    get [Symbol.toStringTag]() {
      return "TelemetryConfig";
    }
  }
  refused(new NamedConfig(), TypeError, /options must be an object, got a TelemetryConfig$/);
  // A `then` is a key like any other here: not an option.
  refused({ endpoint: "", then() {} }, TypeError, /'then' is not an option/);
});

test("a key that is not an option is a TypeError naming it and the nearest option", () => {
  refused(
    { endpiont: "https://example.com/events" },
    TypeError,
    /^Cannot create handler: 'endpiont' is not an option \(did you mean 'endpoint'\?\)$/,
  );
  refused({ maxRetry: 2 }, TypeError, /'maxRetry' is not an option \(did you mean 'maxRetries'\?\)/);
  refused({ spool_dir: "/tmp/x" }, TypeError, /'spool_dir' is not an option \(did you mean 'spoolDir'\?\)/);
  refused({ ENDPOINT: "https://x" }, TypeError, /'ENDPOINT' is not an option \(did you mean 'endpoint'\?\)/);
  refused({ max_queue_size: 5 }, TypeError, /'max_queue_size' is not an option \(did you mean 'maxQueueSize'\?\)/);
  // The name without its unit.
  for (const [given, meant] of [["flushInterval", "flushIntervalSeconds"], ["exitTimeout", "exitTimeoutSeconds"]]) {
    refused({ [given]: 5 }, TypeError, new RegExp(`'${given}' is not an option \\(did you mean '${meant}'\\?\\)`));
  }
  // Nothing is near: the options are listed rather than a guess that misleads.
  refused(
    { batchSize: 5 },
    TypeError,
    /'batchSize' is not an option \(the options: flushIntervalSeconds, .*, random\)$/,
  );
});

test("header names must be RFC 9110 tokens, not framing headers, or construction fails", () => {
  refused({ headers: { "bad header": "x" } }, TypeError, /'headers' must have header names .*, got "bad header"/);
  refused({ headers: { "x-key:": "x" } }, TypeError, /'headers' must have header names/);
  refused({ headers: { "": "x" } }, TypeError, /'headers' must have header names/);
  // How the request is framed is the HTTP client's: Node.js's sent both framings, and servers answered 400.
  for (const name of ["Transfer-Encoding", "content-length", "Host", "connection", "upgrade"]) {
    refused({ headers: { [name]: "x" } }, TypeError, /'headers' must not set .*: the HTTP client frames the request/);
  }
  // What is refused is never echoed: a header value may be a key.
  assert.throws(() => new NATTelemetryHandler({ headers: { "bad name": "secret" } }), (error: Error) => {
    assert.doesNotMatch(error.message, /secret/);
    return true;
  });
  const fine = new NATTelemetryHandler({
    endpoint: "",
    headers: { "x-api-key": "abc def", "X_Odd~Name!": "", Authorization: "Bearer a/b=c\tz" },
  });
  void fine.stop();
  // A value from a variable the user's machine does not set is no header, not a crash before the command runs; one
  // that is no string is named, its value not echoed.
  assert.deepEqual(resolveOptions({ headers: { "x-api-key": undefined, accept: "x" } }).headers, { accept: "x" });
  refused(
    { headers: { "x-api-key": 12345 } },
    TypeError,
    /'headers' must be an object of strings, got a number for "x-api-key"$/,
  );
  refused({ format: "otlp", resource: { "host.name": null } }, TypeError, /'resource' .*, got null for "host.name"$/);
});

/** The least `maxBatchBytes` a handler with `options` accepts, read from the error of a value below it. */
function least(options: NATTelemetryHandlerOptions): number {
  try {
    new NATTelemetryHandler({ ...options, maxBatchBytes: 10 });
  } catch (error) {
    return Number(/at least (\d+)/.exec((error as Error).message)![1]);
  }
  throw new Error("not refused");
}

/** The smallest event there can be: a one-letter name, no parameters. */
class Smallest extends TelemetryEvent {
  constructor() {
    super("x");
  }
  parameters(): EventParameters {
    return {};
  }
}

test("sizes must hold one event: maxBatchBytes below one envelope with the smallest event is a RangeError", async () => {
  refused({ maxBatchBytes: 10 }, RangeError, /^Cannot create handler: 'maxBatchBytes' must be at least \d+ \(one nat/);
  refused({ maxBatchBytes: 10, format: "otlp" }, RangeError, /'maxBatchBytes' must be at least \d+ \(one otlp/);
  // Left at its default: what the program put in every envelope is named, not an option it never set.
  refused(
    { sourceClientVersion: "1".repeat(600_000) },
    RangeError,
    /^Cannot create handler: 'sourceClientVersion', 'sessionId' or 'resource' make one nat envelope .* more than 'maxBatchBytes' \(500000 by default\)$/,
  );
  refused(
    { maxEventBytes: 10 },
    RangeError,
    /^Cannot create handler: 'maxEventBytes' must be at least \d+ \(the smallest/,
  );
  // A spool too small for one event (`spoolMaxBytes: 100`, thought of in kilobytes) would drop every event a run hands
  // off, where CI, delivering in process, shows nothing wrong.
  refused({ spoolMaxBytes: 100 }, RangeError, /^Cannot create handler: 'spoolMaxBytes' must be at least 146 \(one/);
  assert.equal(resolveOptions({ spoolMaxBytes: 146 }).spoolLimits.maxBytes, 146);
  // The least accepted value is enough: the smallest event is delivered in a batch of that size.
  const server = await TestServer.start();
  setTelemetryEnabled(true);
  try {
    for (const format of ["nat", "otlp"] as const) {
      const options = { endpoint: server.url(), format, sessionId: "0123456789abcdef0123456789abcdef" };
      const maxBatchBytes = least(options);
      assert.throws(() => new NATTelemetryHandler({ ...options, maxBatchBytes: maxBatchBytes - 1 }), RangeError);
      const handler = new NATTelemetryHandler({ ...options, maxBatchBytes, backoffInitialSeconds: 0 });
      handler.enqueue(new Smallest());
      await handler.stop();
      assert.equal(handler.stats().sent, 1, `${format}: the smallest event fits maxBatchBytes ${maxBatchBytes}`);
      assert.ok(server.requests.at(-1)!.body.length <= maxBatchBytes);
    }
  } finally {
    setTelemetryEnabled(false);
    await server.close();
  }
});

test("what the user's environment adds to envelopes never makes a program's sizes throw: what no longer fits is counted", async () => {
  const server = await TestServer.start();
  const endpoint = server.url();
  const own = { nat: least({ endpoint }), otlp: least({ endpoint, format: "otlp" }) };
  // A long session prefix, a long resource attribute, and the user choosing OTLP: each makes envelopes larger. The
  // endpoint the user's (the resource goes only to one the environment names).
  const environments = [
    { NAT_SESSION_PREFIX: "p".repeat(1200), NAT_TELEMETRY_ENDPOINT: endpoint },
    {
      OTEL_RESOURCE_ATTRIBUTES: `service.namespace=${"x".repeat(600)}`,
      NAT_TELEMETRY_FORMAT: "otlp",
      NAT_TELEMETRY_ENDPOINT: endpoint,
    },
  ];
  setTelemetryEnabled(true);
  try {
    for (const vars of environments) {
      Object.assign(process.env, vars);
      try {
        for (const format of ["nat", "otlp"] as const) {
          const chosen = format === "otlp" ? { format } : {}; // nat: the default, which the environment may change
          const handler = new NATTelemetryHandler({ maxBatchBytes: own[format], ...chosen });
          handler.enqueue(new Smallest());
          await handler.stop();
          assert.deepEqual(handler.stats().dropped, { event_too_large: 1 }, `${JSON.stringify(vars)}, ${format}`);
        }
      } finally {
        for (const name of Object.keys(vars)) delete process.env[name];
      }
    }
    assert.equal(server.requests.length, 0);
  } finally {
    setTelemetryEnabled(false);
    await server.close();
  }
});

test("a sender takes the sizes it is configured with, whatever the user's environment gave its program", () => {
  using dir = tempDir();
  const endpoint = "http://127.0.0.1:9/events";
  // A prefix the sender does not get (it leaves the program no room); a format and resource it gets as options (the
  // endpoint the user's: the resource goes only to one the environment names).
  const environments = [
    { NAT_SESSION_PREFIX: "p".repeat(1200), NAT_TELEMETRY_ENDPOINT: endpoint },
    {
      NAT_TELEMETRY_FORMAT: "otlp",
      OTEL_RESOURCE_ATTRIBUTES: `service.namespace=${"x".repeat(600)}`,
      NAT_TELEMETRY_ENDPOINT: endpoint,
    },
  ];
  for (const vars of environments) {
    Object.assign(process.env, vars);
    try {
      const maxBatchBytes = least({ endpoint });
      const options = resolveOptions({ spoolDir: dir.path, maxBatchBytes, handOff: true });
      const plan = exitDecision(options, Backlog.open(options), true);
      assert.ok(plan.handOff && plan.command, JSON.stringify(plan));
      const config = parseSenderConfig(plan.command.env[SENDER_CONFIG_ENV])!;
      assert.ok(config.maxBatchBytes >= maxBatchBytes && config.maxEventBytes >= 32_768, JSON.stringify(vars));
      const { successor: _, onByConsentFile: __, ...senderOptions } = config;
      for (const name of Object.keys(vars)) delete process.env[name]; // a sender's environment is clean
      resolveOptions(senderOptions); // as the sender does: a throw there ended it, its events left waiting
    } finally {
      for (const name of Object.keys(vars)) delete process.env[name];
    }
  }
});

test("a header value the user's environment may have made: sent without the whitespace around it, as fetch sends it", () => {
  const { headers, sink, problems } = resolveOptions({
    endpoint: "http://127.0.0.1:9/e",
    headers: { "x-key": "k \n", authorization: "\t Bearer a b", empty: " " },
  });
  assert.deepEqual(headers, { "x-key": "k", authorization: "Bearer a b", empty: "" });
  assert.deepEqual([sink.kind, problems], ["http", []]);
  // Scanned, not matched: a value of a million spaces with a character after them is trimmed at once.
  assert.equal(
    resolveOptions({ headers: { "x-key": `${" ".repeat(1_000_000)}x${" ".repeat(1_000_000)}` } })
      .headers["x-key"],
    "x",
  );
});

test("a header value that cannot be sent, or values too large, never throw: nothing is sent, and the reason is told", () => {
  // Past ASCII too: Node.js's client sent "clé" as UTF-8, Deno's and Bun's fetch as Latin-1, two values for one.
  for (const value of ["a\r\nInjected: 1", "a\nb", "a\0b", "a\x7fb", "ü€", "clé", "\xa0x", "secret\u0001"]) {
    const { sink, headers, problems } = resolveOptions({
      endpoint: "http://127.0.0.1:9/e",
      headers: { "x-key": value, accept: "x" },
    });
    assert.deepEqual(sink.kind === "none" && [sink.reason, sink.detail], ["invalid_headers", problems[0]]);
    assert.deepEqual(headers, {}, "no header is kept where none is sent");
    assert.match(problems[0], /^the program's 'headers' has a value for "x-key" that cannot be sent .*: nothing/);
    assert.doesNotMatch(problems[0], /secret|Injected/, "a header value is never echoed: it may be a key");
  }
  const large = resolveOptions({ endpoint: "http://127.0.0.1:9/e", headers: { "x-key": "k".repeat(10_000_000) } });
  assert.deepEqual(large.sink.kind === "none" && large.sink.reason, "invalid_headers");
  assert.match(large.problems[0], /'headers' add 10000009 bytes to a request, more than 8192 .*: nothing is sent$/);
  assert.deepEqual(resolveOptions({ headers: { "x-key": "k".repeat(8000) } }).problems, []);
  // Where nothing would be sent anyway, the sink says why that is, not the headers.
  const dry = resolveOptions({ endpoint: "", headers: { "x-key": "a\nb" } });
  assert.deepEqual(dry.sink.kind === "none" && dry.sink.reason, "dry_run");
});

test("an endpoint that is a string but no endpoint never throws: nothing is sent, the reason told, never its credentials", () => {
  for (
    const endpoint of [
      "localhost:4318",
      "ftp://x",
      "not a url",
      "https://ingest:S3CRET@example.com:99999/e",
      // No URL with a host, whose password the parser cannot tell: a `/` or `?` in it (a base64 key), no scheme.
      "https://ada:S3CRET/x+y==@collector.example/v1",
      "https://ada:S3CRET?PW@collector.example",
      "ada:S3CRET@collector.example:4318",
      // A URL all the same, but not the one meant: a key with a `/` or `#`, not percent-encoded, ends the credentials
      // early, and a part of it is the host (looked up, sent to), the rest its path or fragment.
      "https://S3CRETa+B9/cD4=@collector.example/v1",
      "http://ada:8/S3CRETb64==@collector.example/v1",
      "http://ada:/S3CRET@collector.example/v1",
      "http://ada:2024#S3CRET@collector.example/v1",
    ]
  ) {
    const { sink, problems } = resolveOptions({ endpoint });
    assert.deepEqual(sink.kind === "none" && [sink.reason, sink.detail], ["invalid_endpoint", problems[0]]);
    // A URL with an '@' past its host is told so (percent-encode the key), any other text as no URL.
    let parsed: URL | undefined;
    try {
      parsed = new URL(endpoint);
    } catch {
      // No URL.
    }
    const cutShort = parsed !== undefined && parsed.protocol.startsWith("http") &&
      `${parsed.pathname}${parsed.search}${parsed.hash}`.includes("@");
    assert.match(
      problems[0],
      cutShort
        ? /^the program's 'endpoint' "http[^"]*" has an '@' past its host: a key with a '\/', '\?' or '#' in it, not/
        : /^the program's 'endpoint' ".*" is not an http\(s\) URL, "" or "stdout": nothing is sent$/,
      endpoint,
    );
    assert.doesNotMatch(problems[0], /S3CRET/);
  }
  refused({ endpoint: 7 }, TypeError, /'endpoint' must be a string \(an http\(s\) URL, "" or "stdout"\), got 7/);
});

test("a format read as NAT_TELEMETRY_FORMAT is: any case, spaces around, empty is none; another string sends nat, and says so", () => {
  for (const [format, name] of [["OTLP ", "otlp"], ["\tNat\n", "nat"], ["otlp", "otlp"]]) {
    const options = resolveOptions({ format });
    assert.deepEqual([options.format.name, options.formatSetBy, options.problems], [name, "the program's options", []]);
  }
  for (const format of ["json", "otel"]) {
    const options = resolveOptions({ format });
    assert.deepEqual(
      [options.format.name, options.problems],
      ["nat", [`the program's 'format' "${format}" is not a format (nat, otlp): the nat envelope is sent`]],
    );
  }
  // Empty (a variable of the program's set to nothing) is none, as an empty NAT_TELEMETRY_FORMAT is: the user's decides.
  const saved = process.env.NAT_TELEMETRY_FORMAT;
  try {
    for (const [variable, name, setBy] of [["otlp", "otlp", "NAT_TELEMETRY_FORMAT"], ["", "nat", "the default"]]) {
      process.env.NAT_TELEMETRY_FORMAT = variable;
      for (const format of ["", " "]) {
        const options = resolveOptions({ format });
        assert.deepEqual([options.format.name, options.formatSetBy, options.problems], [name, setBy, []]);
      }
    }
  } finally {
    if (saved === undefined) delete process.env.NAT_TELEMETRY_FORMAT;
    else process.env.NAT_TELEMETRY_FORMAT = saved;
  }
});

test("the logger hears each problem of the options once, the first time the handler is used", async () => {
  const lines: string[] = [];
  setTelemetryEnabled(true);
  try {
    const handler = new NATTelemetryHandler({ format: "json", endpoint: "", logger: (line) => lines.push(line) });
    handler.enqueue(commandEvent("one"));
    handler.enqueue(commandEvent("two"));
    await handler.stop();
    assert.deepEqual(
      lines.filter((line) => line.includes("problem")),
      [`[nat-telemetry] problem: the program's 'format' "json" is not a format (nat, otlp): the nat envelope is sent`],
    );
  } finally {
    setTelemetryEnabled(false);
  }
});

test("the string options take what the environment gives (string | undefined) as it is, without a cast", () => {
  const env = (name: string): string | undefined => process.env[name];
  // A type check (`deno task check`): `format` takes any string. (Each is typed to take `undefined` as set, too, for
  // programs compiled with exactOptionalPropertyTypes, which tells an absent key from an undefined one.)
  const options: NATTelemetryHandlerOptions = {
    endpoint: env("MYCLI_TELEMETRY_URL"),
    format: env("MYCLI_TELEMETRY_FORMAT"),
    spoolDir: env("MYCLI_STATE_DIR"),
    sessionId: env("MYCLI_SESSION"),
    sourceClientVersion: env("MYCLI_VERSION"),
    headers: { "x-api-key": env("MYCLI_KEY") },
    resource: { "service.name": env("MYCLI_NAME") },
  };
  assert.deepEqual(resolveOptions(options).problems, []);
});

test("every option, trackCommand's too, takes undefined as not given; fetch, any client answering a status and headers", async () => {
  // A type check first (`deno task check`, with exactOptionalPropertyTypes on as a strict program has it): what a
  // parser or a configuration gives (`T | undefined`) is taken as it is. Then what the types take, at run time.
  const given = <T>(value: T): T | undefined => process.env.NAT_TEST_NEVER_SET === undefined ? undefined : value;
  const options: Required<NATTelemetryHandlerOptions> = {
    flushIntervalSeconds: given(1),
    maxQueueSize: given(1),
    maxRetries: given(1),
    requestTimeoutSeconds: given(1),
    sourceClientVersion: given("1"),
    sessionId: given("s"),
    endpoint: given(""),
    exitTimeoutSeconds: given(1),
    fetch: given(fetch),
    backoffInitialSeconds: given(1),
    backoffMaxSeconds: given(1),
    maxBufferedEvents: given(1),
    maxEventBytes: given(1),
    maxBatchBytes: given(1),
    spoolDir: given(false),
    spoolMaxEvents: given(1),
    spoolMaxBytes: given(1),
    spoolMaxAgeDays: given(1),
    captureInterrupts: given(true),
    handOff: given(true),
    format: given("nat"),
    headers: given({}),
    resource: given({}),
    logger: given(() => {}),
    clock: given(Date.now),
    random: given(Math.random),
  };
  await new NATTelemetryHandler(options).stop();
  // The same options as trackCommand's handler's: an undefined captureInterrupts is not given either.
  const asHandler = { ...options, endpoint: "", spoolDir: false } as const;
  assert.equal(await trackCommand({ command: "run", askConsent: false, handler: asHandler }, () => 0), 0);
  const positionals: string[] = [];
  const yargs: (string | number)[] = [42];
  const command: TrackCommandOptions = { command: positionals[0], subcommand: given("x"), optOutCommand: given("") };
  const handler = { endpoint: "", spoolDir: false } as const;
  assert.equal(await trackCommand({ ...command, askConsent: false, handler }, () => 0), 0);
  assert.equal(await trackCommand({ command: yargs[0], subcommand: yargs[0], askConsent: false, handler }, () => 0), 0);
  // A client on another HTTP library answers with less than a Response: the type takes it, and it delivers.
  const server = await TestServer.start();
  setTelemetryEnabled(true);
  try {
    const statusOnly: Fetch = async (url, init) => {
      const answer = await fetch(url, init);
      await answer.body?.cancel();
      return { status: answer.status, headers: { get: (name) => answer.headers.get(name) } };
    };
    const telemetry = new NATTelemetryHandler({ endpoint: server.url(), fetch: statusOnly, handOff: false });
    telemetry.enqueue(commandEvent("run"));
    await telemetry.stop();
    assert.equal(telemetry.stats().sent, 1);
    assert.equal(server.requests.length, 1);
  } finally {
    setTelemetryEnabled(false);
    await server.close();
  }
});

test("spoolDir must be absolute: a relative or empty one means no spool (it would move with the working directory)", () => {
  for (const spoolDir of ["relative/spool", "./spool", "~/spool", ""]) {
    const options = resolveOptions({ spoolDir });
    assert.deepEqual(
      [options.spoolDir, options.noSpool, options.problems],
      [
        undefined,
        "the program's 'spoolDir' is not an absolute path",
        [`the program's 'spoolDir' ${JSON.stringify(spoolDir)} is not an absolute path: no spool is kept`],
      ],
    );
  }
  const absolute = new NATTelemetryHandler({ spoolDir: "/tmp/nat-telemetry-absolute", endpoint: "" });
  void absolute.stop();
});

test("a relative spoolDir: the logger hears why what could not be delivered is not kept", async () => {
  const down = await TestServer.start();
  await down.close();
  const lines: string[] = [];
  setTelemetryEnabled(true);
  try {
    const handler = new NATTelemetryHandler({
      spoolDir: "relative/spool",
      endpoint: down.url(),
      handOff: false,
      backoffInitialSeconds: 60,
      logger: (line) => lines.push(line),
    });
    handler.enqueue(commandEvent("kept-nowhere"));
    await handler.stop();
    assert.match(lines.join("\n"), /kept in memory only, .*: no spool \(the program's 'spoolDir' is not an absolute/);
    assert.equal(existsSync("relative"), false, "nothing made in the working directory");
  } finally {
    setTelemetryEnabled(false);
  }
});

test("only the spool's default place may be traded for the temporary directory, not one the program or user named", () => {
  const saved = process.env.NAT_TELEMETRY_SPOOL_DIR;
  try {
    assert.equal(resolveOptions({}).spoolFallback, false, "NAT_TELEMETRY_SPOOL_DIR set, even empty");
    delete process.env.NAT_TELEMETRY_SPOOL_DIR;
    assert.equal(resolveOptions({}).spoolFallback, true);
    assert.equal(resolveOptions({ spoolDir: "/srv/spool" }).spoolFallback, false);
    assert.equal(resolveOptions({ spoolDir: false }).spoolFallback, false);
  } finally {
    process.env.NAT_TELEMETRY_SPOOL_DIR = saved;
  }
});

test("exitTimeoutSeconds: 0 against a healthy endpoint spools the event and never marks the endpoint down", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  setTelemetryEnabled(true);
  try {
    const handler = new NATTelemetryHandler({
      endpoint: server.url(),
      spoolDir: dir.path,
      exitTimeoutSeconds: 0,
      handOff: false,
    });
    handler.enqueue(commandEvent("no-budget"));
    await handler.stop();
    const { sent, spooled: kept } = handler.stats();
    assert.equal(sent + kept, 1, "delivered or spooled, never lost");
    assert.deepEqual(
      existsSync(dir.path) ? readdirSync(dir.path).filter((name) => name.startsWith("health-")) : [],
      [],
      "no health file: the run's own budget is not the endpoint's failure",
    );
    if (kept === 1) assert.equal(spooled(dir.path).length, 1);
  } finally {
    setTelemetryEnabled(false);
    await server.close();
  }
});
