import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { NATTelemetryHandler, type NATTelemetryHandlerOptions, setTelemetryEnabled } from "../mod.ts";
import { CliCommandEvent } from "../mod.ts";
import { startCollector } from "../src/collector.ts";
import { AnyEvent, commandEvent, commands } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";

setTelemetryEnabled(true);
process.env.NAT_TELEMETRY_SPOOL_DIR = ""; // these tests keep no spool: nothing reaches the home directory

async function withHandler(
  options: NATTelemetryHandlerOptions,
  fn: (handler: NATTelemetryHandler, server: TestServer) => Promise<void>,
) {
  const server = await TestServer.start();
  const handler = new NATTelemetryHandler({ endpoint: server.url(), backoffInitialSeconds: 0, ...options });
  try {
    await fn(handler, server);
  } finally {
    await handler.stop();
    await server.close();
  }
}

test("enqueue is a silent no-op while telemetry is disabled, read at call time", async () => {
  await withHandler({}, async (handler, server) => {
    setTelemetryEnabled(false);
    try {
      handler.enqueue(commandEvent("hidden"));
    } finally {
      setTelemetryEnabled(true);
    }
    handler.enqueue(commandEvent("seen"));
    await handler.flush();
    assert.deepEqual(commands(server.events()), ["seen"]);
    assert.equal(handler.stats().enqueued, 1);
  });
});

test("anything that is not a TelemetryEvent is a counted drop, never a throw", async () => {
  await withHandler({}, async (handler, server) => {
    for (const junk of [undefined, null, 42, "event", { name: "fake", parameters: () => ({}) }, [], () => {}]) {
      // deno-lint-ignore no-explicit-any
      handler.enqueue(junk as any);
    }
    handler.enqueue(commandEvent("real"));
    await handler.flush();
    assert.deepEqual(handler.stats().dropped, { not_an_event: 7 });
    assert.deepEqual(commands(server.events()), ["real"]);
  });
});

test("circular objects, BigInt, functions, null and throwing getters are counted drops; others still go", async () => {
  await withHandler({}, async (handler, server) => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const bad: (() => unknown)[] = [
      () => ({ circular }),
      () => ({ big: 10n }),
      () => ({ fn: () => 1 }),
      () => ({ nothing: null }),
      () => ({ nan: NaN }),
      () => null,
      () => {
        throw new Error("parameters() exploded");
      },
    ];
    handler.enqueue(commandEvent("before"));
    for (const parameters of bad) handler.enqueue(new AnyEvent(parameters));
    handler.enqueue(commandEvent("after"));
    await handler.flush();
    assert.deepEqual(handler.stats().dropped, { invalid_event: 7 });
    assert.deepEqual(commands(server.events()), ["before", "after"]);
  });
});

test("a drop for parameters that cannot be read says what was thrown, and by which step (parameters(), the object, a parameter)", async () => {
  const logged: string[] = [];
  await withHandler({ logger: (line) => void logged.push(line) }, async (handler) => {
    handler.enqueue(
      new AnyEvent(() => ({
        ok: 1,
        get secret() {
          throw new Error("getter exploded");
        },
      })),
    );
    const trapped = () => {
      throw new Error("trap exploded");
    };
    handler.enqueue(new AnyEvent(() => new Proxy({}, { get: trapped, ownKeys: trapped })));
    handler.enqueue(
      new AnyEvent(() => {
        throw "no parameters"; // a string: the drop still names the event and what failed
      }),
    );
    await handler.flush();
    assert.deepEqual(handler.stats().dropped, { invalid_event: 3 });
  });
  const drops = logged.filter((line) => line.includes("invalid_event"));
  assert.match(drops[0], /Event 'any_event' parameters cannot be read: getter exploded/);
  assert.match(drops[1], /Event 'any_event' parameters\(\) returned an object that cannot be read: trap exploded/);
  assert.match(drops[2], /Event 'any_event' parameters cannot be read: threw string/);
});

class LyingPromise extends Promise<unknown> {
  override get [Symbol.toStringTag]() {
    return "Object";
  }
}

test("parameters() returning a promise, a Map or a Date is a counted drop; a rejection never reaches the program", async () => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  let thenCalls = 0;
  process.on("unhandledRejection", record);
  try {
    await withHandler({}, async (handler, server) => {
      const bad: (() => unknown)[] = [
        // deno-lint-ignore require-await
        async () => {
          throw new Error("async parameters() exploded");
        },
        // deno-lint-ignore require-await
        async () => ({ model: "m" }),
        () => new Map([["model", "m"]]),
        () => new Date(),
        // A promise that calls itself a plain object: still a promise, and its rejection still handled.
        () => LyingPromise.reject(new Error("a lying promise rejected")),
        // Another thenable's `then` is the program's code (a query builder's runs the query): never called.
        () => ({
          then() {
            thenCalls++;
          },
        }),
      ];
      handler.enqueue(commandEvent("before"));
      for (const parameters of bad) handler.enqueue(new AnyEvent(parameters));
      handler.enqueue(commandEvent("after"));
      await handler.flush();
      await new Promise((resolve) => setTimeout(resolve, 50)); // a rejection left unhandled is reported by now
      assert.deepEqual(handler.stats().dropped, { invalid_event: 6 });
      assert.deepEqual(commands(server.events()), ["before", "after"]);
      assert.equal(thenCalls, 0);
    });
  } finally {
    process.off("unhandledRejection", record);
  }
  assert.deepEqual(unhandled, []);
});

test("an event whose schemaVersion getter throws, or a Proxy whose prototype trap throws, is a counted drop", async () => {
  await withHandler({}, async (handler, server) => {
    const throwingVersion = commandEvent("getter");
    Object.defineProperty(throwingVersion, "schemaVersion", {
      get() {
        throw new Error("schemaVersion exploded");
      },
    });
    const hostileProxy = new Proxy(commandEvent("proxy"), {
      getPrototypeOf() {
        throw new Error("getPrototypeOf exploded");
      },
    });
    handler.enqueue(throwingVersion);
    handler.enqueue(hostileProxy);
    handler.enqueue(commandEvent("fine"));
    await handler.flush();
    assert.deepEqual(handler.stats(), {
      enqueued: 3,
      replayed: 0,
      sent: 1,
      dropped: { invalid_event: 1, not_an_event: 1 },
      queued: 0,
      dlq: 0,
      inFlight: 0,
      spooled: 0,
    });
    assert.deepEqual(commands(server.events()), ["fine"]);
  });
});

test("a schemaVersion longer than the room maxBatchBytes keeps for it is a counted drop: no body exceeds the bound", async () => {
  for (const format of ["nat", "otlp"] as const) {
    const maxBatchBytes = 4_000;
    await withHandler({ format, maxBatchBytes, maxEventBytes: 3_000 }, async (handler, server) => {
      const filling = () => ({ text: "x".repeat(2_000) });
      const longest = `1.5${"9".repeat(64)}`; // the slack, to the byte
      handler.enqueue(new AnyEvent(filling, longest));
      handler.enqueue(new AnyEvent(filling, `${longest}9`));
      handler.enqueue(new AnyEvent(filling, `1.5${"\u0001".repeat(11)}`)); // 66 bytes as JSON carries it
      handler.enqueue(new AnyEvent(filling, "x".repeat(600_000)));
      await handler.flush();
      assert.deepEqual(handler.stats().dropped, { invalid_event: 3 }, format);
      assert.equal(handler.stats().sent, 1, format);
      assert.equal(server.requests.length, 1, format);
      for (const { body } of server.requests) {
        assert.ok(body.length <= maxBatchBytes, `${format}: ${body.length} bytes`);
      }
    });
  }
});

test("no body exceeds maxBatchBytes in either format, however an event's records wrap it (OTLP: by the parameter)", async () => {
  for (const format of ["nat", "otlp"] as const) {
    const maxBatchBytes = 1_200;
    await withHandler({ format, maxBatchBytes }, async (handler, server) => {
      let enqueued = 0;
      for (let size = 1; size < maxBatchBytes; size += 7, enqueued++) {
        handler.enqueue(new AnyEvent(() => ({ k: "a".repeat(size) }), size % 2 ? `1.5${"9".repeat(64)}` : undefined));
      }
      // Many small parameters: an OTLP record is several times the event's JSON.
      const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`p${i}`, i]));
      handler.enqueue(new AnyEvent(() => many));
      enqueued++;
      await handler.flush();
      const { sent, dropped } = handler.stats();
      assert.equal(sent + (dropped.event_too_large ?? 0), enqueued, `${format}: every event sent or counted`);
      assert.ok(sent > 30, `${format}: ${sent} sent`);
      const largest = Math.max(...server.requests.map(({ body }) => new TextEncoder().encode(body).length));
      assert.ok(largest <= maxBatchBytes, `${format}: a body of ${largest} bytes`);
    });
  }
});

test("an event larger than maxEventBytes is dropped as event_too_large; others are unaffected", async () => {
  await withHandler({ maxEventBytes: 1024 }, async (handler, server) => {
    handler.enqueue(new AnyEvent(() => ({ text: "é".repeat(400) }))); // 800 bytes of UTF-8: fits
    handler.enqueue(new AnyEvent(() => ({ text: "é".repeat(600) }))); // 1200 bytes: too large
    handler.enqueue(new AnyEvent(() => ({ text: "x".repeat(10_000_000) })));
    await handler.flush();
    assert.deepEqual(handler.stats().dropped, { event_too_large: 2 });
    assert.equal(server.events().length, 1);
  });
});

test("batches are split before sending to stay within maxBatchBytes, never waiting for a 413", async () => {
  await withHandler({ maxBatchBytes: 4_000, maxQueueSize: 100 }, async (handler, server) => {
    for (let i = 0; i < 20; i++) handler.enqueue(new AnyEvent(() => ({ i, text: "x".repeat(500) })));
    await handler.flush();
    assert.ok(server.requests.length > 1);
    for (const request of server.requests) assert.ok(new TextEncoder().encode(request.body).length <= 4_000);
    assert.deepEqual(server.events().map((event) => event.parameters.i), [...Array(20).keys()]);
    assert.equal(handler.stats().sent, 20);
  });
});

test("a batch holds one schema version; mixed events go in separate envelopes", async () => {
  await withHandler({}, async (handler, server) => {
    handler.enqueue(commandEvent("a"));
    handler.enqueue(new AnyEvent(() => ({ v: 2 }), "2.0"));
    handler.enqueue(commandEvent("b"));
    await handler.flush();
    const versions = server.requests.map((request) => JSON.parse(request.body).eventSchemaVer);
    assert.deepEqual(versions, ["1.5", "2.0", "1.5"]);
  });
});

test("memory is bounded: past maxBufferedEvents (queued + DLQ + in flight) events are dropped as buffer_full", async () => {
  await withHandler({ maxBufferedEvents: 5, maxQueueSize: 100, backoffInitialSeconds: 60 }, async (handler, server) => {
    server.reply({ status: 503 });
    for (let i = 0; i < 3; i++) handler.enqueue(commandEvent(`dlq${i}`));
    await handler.flush();
    for (let i = 0; i < 4; i++) handler.enqueue(commandEvent(`new${i}`));
    assert.deepEqual(handler.stats(), {
      enqueued: 7,
      replayed: 0,
      sent: 0,
      dropped: { buffer_full: 2 },
      queued: 2,
      dlq: 3,
      inFlight: 0,
      spooled: 0,
    });
  });
});

test("a full buffer tells the logger of its first drop, then of the rest together at each flush: not a line per event", async () => {
  const heard: string[] = [];
  const logger = (line: string) => heard.push(line);
  await withHandler(
    { maxBufferedEvents: 5, maxQueueSize: 100, backoffInitialSeconds: 60, logger },
    async (handler, server) => {
      server.reply({ status: 503 });
      const full = () => heard.filter((line) => line.includes("buffer_full"));
      for (let i = 0; i < 205; i++) handler.enqueue(commandEvent(`e${i}`));
      assert.deepEqual(full(), [
        "[nat-telemetry] dropped 1 event(s): buffer_full (5 held; those dropped after it are told together at the next flush)",
      ]);
      await handler.flush();
      for (let i = 0; i < 50; i++) handler.enqueue(commandEvent(`f${i}`));
      await handler.stop();
      assert.equal(handler.stats().dropped.buffer_full, 250);
      assert.deepEqual(full().slice(1), [
        "[nat-telemetry] dropped 199 event(s): buffer_full",
        "[nat-telemetry] dropped 1 event(s): buffer_full (5 held; those dropped after it are told together at the next flush)",
        "[nat-telemetry] dropped 49 event(s): buffer_full",
      ]);
    },
  );
});

test("invalid options fail at construction with a clear TypeError or RangeError", () => {
  const cases: [NATTelemetryHandlerOptions, ErrorConstructor, string][] = [
    [{ maxRetries: -1 }, RangeError, "Cannot create handler: 'maxRetries' must be a non-negative integer, got -1"],
    [{ maxQueueSize: 0 }, RangeError, "Cannot create handler: 'maxQueueSize' must be a positive integer, got 0"],
    [{ maxQueueSize: 1.5 }, RangeError, "Cannot create handler: 'maxQueueSize' must be a positive integer, got 1.5"],
    [
      { flushIntervalSeconds: 0 },
      RangeError,
      "Cannot create handler: 'flushIntervalSeconds' must be a positive number, got 0",
    ],
    [
      { requestTimeoutSeconds: Infinity },
      RangeError,
      "'requestTimeoutSeconds' must be a positive number, got Infinity",
    ],
    // deno-lint-ignore no-explicit-any
    [{ requestTimeoutSeconds: "2" as any }, TypeError, "'requestTimeoutSeconds' must be a positive number, got \"2\""],
    [{ exitTimeoutSeconds: -1 }, RangeError, "'exitTimeoutSeconds' must be a non-negative number, got -1"],
    [{ backoffInitialSeconds: 5, backoffMaxSeconds: 1 }, RangeError, "'backoffMaxSeconds' must be at least"],
    [{ maxEventBytes: NaN }, TypeError, "'maxEventBytes' must be a positive integer, got NaN"],
    // deno-lint-ignore no-explicit-any
    [{ endpoint: 7 as any }, TypeError, '\'endpoint\' must be a string (an http(s) URL, "" or "stdout"), got 7'],
    // deno-lint-ignore no-explicit-any
    [{ sessionId: 7 as any }, TypeError, "'sessionId' must be a string, got 7"],
    // deno-lint-ignore no-explicit-any
    [{ fetch: "fetch" as any }, TypeError, "'fetch' must be a function"],
    // deno-lint-ignore no-explicit-any
    [{ logger: {} as any }, TypeError, "'logger' must be a function, got an object"],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(() => new NATTelemetryHandler(options), (error: Error) => {
      assert.ok(error instanceof type, `${JSON.stringify(options)} throws ${type.name}, got ${error}`);
      assert.ok(error.message.includes(message), `${error.message} includes ${message}`);
      return true;
    });
  }
  // deno-lint-ignore no-explicit-any
  assert.throws(() => new NATTelemetryHandler(null as any), /options must be an object/);
});

test("the defaults match the Python handler", async () => {
  const mod = await import("../mod.ts");
  assert.deepEqual(
    [
      mod.DEFAULT_FLUSH_INTERVAL_SECONDS,
      mod.DEFAULT_MAX_QUEUE_SIZE,
      mod.DEFAULT_MAX_RETRIES,
      mod.DEFAULT_REQUEST_TIMEOUT_SECONDS,
      mod.DEFAULT_ENDPOINT,
    ],
    [120, 50, 3, 2, "https://events.telemetry.data.nvidia.com/v1.1/events/json"],
  );
});

test('endpoint "" builds payloads and sends nothing, counted as dry_run', async () => {
  let calls = 0;
  const handler = new NATTelemetryHandler({
    endpoint: "",
    fetch: () => {
      calls++;
      return Promise.resolve(new Response(null));
    },
  });
  handler.enqueue(commandEvent("x"));
  await handler.stop();
  assert.equal(calls, 0);
  assert.deepEqual(handler.stats().dropped, { dry_run: 1 });
});

test("an event the wire cannot carry is dropped at enqueue, never sent to spoil its batch: an empty name, a time outside 1970-9999", async () => {
  const collector = await startCollector();
  try {
    for (const format of ["nat", "otlp"] as const) {
      const url = format === "nat" ? collector.url : collector.otlpUrl;
      const handler = new NATTelemetryHandler({ endpoint: url, format, spoolDir: false });
      const at = (timestamp: number, label = "out of range") =>
        new CliCommandEvent({ command: `${format} at ${label}`, taskStatus: "success", timestamp });
      const unnamed = Object.defineProperty(commandEvent("unnamed"), "name", { value: "" });
      const before = collector.events.length;
      handler.enqueue(commandEvent(`${format} first`));
      for (const event of [unnamed, at(Date.UTC(10000, 0, 1)), at(-1), at(Date.UTC(-1, 0, 1))]) handler.enqueue(event);
      handler.enqueue(at(0, "epoch"));
      handler.enqueue(at(Date.UTC(9999, 11, 31, 23, 59, 59, 999), "the last"));
      await handler.stop();
      assert.deepEqual(handler.stats().dropped, { invalid_event: 4 }, format);
      assert.deepEqual(commands(collector.events.slice(before)), [
        `${format} first`,
        `${format} at epoch`,
        `${format} at the last`,
      ]);
    }
  } finally {
    await collector.close();
  }
});
