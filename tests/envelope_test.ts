import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { buildPayload, CliCommandEvent, formatTimestamp, TaskStatus } from "../mod.ts";
import { encodeEnvelope, envelopeHeader, toWireEvent, wireEventJson } from "../src/envelope.ts";
import { TelemetryEvent } from "../src/events.ts";
import { joinBetween } from "../src/join.ts";
import { runtimeInfo } from "../src/runtime/mod.ts";
import { runChild } from "./helpers/child.ts";

const encoder = new TextEncoder();

const vectorUrl = new URL("./vectors/envelope-nat_cli_command-1.5.json", import.meta.url);

function vectorEvents() {
  return [
    new CliCommandEvent({
      command: "run",
      taskStatus: TaskStatus.SUCCESS,
      durationMs: 1234,
      exitCode: 0,
      pythonVersion: "3.11.7",
      timestamp: Date.parse("2026-01-02T03:04:05.999Z"),
    }),
    new CliCommandEvent({
      command: "evaluate",
      taskStatus: "failure",
      exitCode: 1,
      errorClass: "ValueError",
      pythonVersion: "3.11.7",
      timestamp: new Date("2026-01-02T03:04:06.001Z"),
    }),
  ];
}

const vectorOptions = {
  sourceClientVersion: "1.2.3",
  sessionId: "sess-123",
  cpuArchitecture: "x86_64",
  sentAt: Date.parse("2026-01-02T03:04:05.678Z"),
};

test("buildPayload reproduces the Python reference envelope exactly (keys, order, values)", () => {
  const expected = readFileSync(vectorUrl, "utf8");
  const actual = buildPayload(vectorEvents(), vectorOptions);
  assert.equal(JSON.stringify(actual, null, 2), JSON.stringify(JSON.parse(expected), null, 2));
});

test("encodeEnvelope of pre-serialized events equals JSON.stringify of buildPayload", () => {
  const events = vectorEvents();
  const header = envelopeHeader("1.5", vectorOptions);
  const jsons = events.map((event) => JSON.stringify(toWireEvent(event)));
  assert.ok(jsons.length > 1);
  assert.equal(encodeEnvelope(header, jsons), JSON.stringify(buildPayload(events, vectorOptions)));
  assert.deepEqual(jsons, events.map((event) => JSON.stringify(toWireEvent(event))), "the events' texts untouched");
  assert.equal(
    encodeEnvelope(header, jsons.slice(0, 1)),
    JSON.stringify(buildPayload(events.slice(0, 1), vectorOptions)),
  );
  assert.equal(encodeEnvelope(header, []), JSON.stringify({ ...header, events: [] }));
});

test("joinBetween is the open text, the items joined with commas, and the close, the items untouched", () => {
  fc.assert(fc.property(fc.string(), fc.array(fc.string()), fc.string(), (open, items, close) => {
    const before = [...items];
    assert.equal(joinBetween(open, items, close), `${open}${items.join(",")}${close}`);
    assert.deepEqual(items, before);
  }));
});

test("buildPayload defaults as the Python client: this machine's architecture, session 'undefined'", () => {
  const envelope = buildPayload([new CliCommandEvent({ command: "run", taskStatus: "success" })], {
    sourceClientVersion: "1.2.3",
  });
  assert.equal(envelope.cpuArchitecture, runtimeInfo().machine);
  assert.notEqual(envelope.cpuArchitecture, "undefined");
  assert.equal(envelope.sessionId, "undefined");
  assert.deepEqual(Object.keys(envelope), Object.keys(JSON.parse(readFileSync(vectorUrl, "utf8"))), "no key dropped");
});

test("buildPayload throws on an empty event list, and says what is wrong with what is not events or options", () => {
  assert.throws(() => buildPayload([], vectorOptions), RangeError);
  const event = new CliCommandEvent({ command: "run", taskStatus: TaskStatus.SUCCESS });
  // deno-lint-ignore no-explicit-any
  const build = (events: any, options: any) => () => buildPayload(events, options);
  assert.throws(build(event, vectorOptions), /^TypeError: Cannot build a payload: 'events' must be an array of events/);
  assert.throws(build([event, {}], vectorOptions), /'events' must hold events \(TelemetryEvent\), got an object at 1$/);
  assert.throws(build([event], { sourceClientVersion: 5 }), /'sourceClientVersion' must be a string, got 5$/);
  assert.throws(build([event], { sourceClientVersion: "1", sessionId: 7 }), /'sessionId' must be a string, got 7$/);
  assert.throws(build([event], null), /'options' must be an object, got null$/);
});

test("timestamps are UTC with milliseconds truncated, not rounded", () => {
  assert.equal(formatTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 999) + 0.9), "2026-01-02T03:04:05.999Z");
  assert.equal(formatTimestamp(1.999), "1970-01-01T00:00:00.001Z");
});

test("timestamps one after another, within a second and across seconds, days and the epoch", () => {
  for (const start of [Date.UTC(2026, 0, 1) - 2_500, -2_500, Date.UTC(1999, 11, 31, 23, 59, 58)]) {
    for (let ms = start; ms < start + 5_000; ms += 7) {
      assert.equal(formatTimestamp(ms), new Date(ms).toISOString(), String(ms));
      assert.equal(formatTimestamp(ms + 0.5), new Date(ms).toISOString(), String(ms + 0.5));
    }
  }
});

test("property: timestamps are what Date.prototype.toISOString writes, over the whole range of times", () => {
  const edges = [
    0,
    -1,
    951_782_400_000,
    253_402_300_799_999,
    253_402_300_800_000,
    -62_167_219_200_000,
    -62_167_219_200_001,
  ];
  for (const ms of [...edges, 8.64e15, -8.64e15]) {
    assert.equal(formatTimestamp(ms), new Date(ms).toISOString(), String(ms));
  }
  fc.assert(
    fc.property(fc.double({ min: -8.64e15, max: 8.64e15, noNaN: true }), (ms) => {
      assert.equal(formatTimestamp(ms), new Date(Math.floor(ms)).toISOString());
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: -5_000_000_000_000, max: 5_000_000_000_000 }), (ms) => {
      assert.equal(formatTimestamp(ms), new Date(ms).toISOString());
    }),
    { numRuns: 5000 },
  );
  for (const bad of [NaN, Infinity, -Infinity, 8.64e15 + 1, -8.64e15 - 1]) {
    assert.throws(() => formatTimestamp(bad), RangeError, String(bad));
  }
});

test("the envelope carries nothing identifying: ids, device and user fields are placeholders", () => {
  const envelope = buildPayload(vectorEvents(), vectorOptions);
  for (const key of ["deviceId", "userId", "externalUserId", "deviceOS", "deviceModel", "idpId"] as const) {
    assert.equal(envelope[key], "undefined");
  }
});

class FlexibleEvent extends TelemetryEvent {
  readonly values: Record<string, unknown>;
  constructor(values: Record<string, unknown>) {
    super("flexible");
    this.values = values;
  }
  parameters() {
    return this.values as Record<string, string>;
  }
}

test("toWireEvent refuses values the wire cannot carry: null, nested, BigInt, NaN, functions", () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  for (const bad of [null, undefined, { a: 1 }, [1], 1n, NaN, Infinity, () => 1, circular]) {
    assert.throws(() => toWireEvent(new FlexibleEvent({ bad })), TypeError, String(bad));
  }
  assert.deepEqual(toWireEvent(new FlexibleEvent({ s: "x", n: 1.5, b: false })).parameters, {
    s: "x",
    n: 1.5,
    b: false,
  });
});

test("an event's JSON carries what was checked: each parameter read once, no inherited toJSON; a name not a string is refused", () => {
  let reads = 0;
  const changing = Object.defineProperty({}, "mood", {
    enumerable: true,
    get: () => reads++ === 0 ? "calm" : { nested: true }, // valid when checked, not after
  });
  assert.deepEqual(JSON.parse(wireEventJson(new FlexibleEvent(changing)).json).parameters, { mood: "calm" });
  assert.equal(reads, 1);
  const withToJson = Object.assign(Object.create({ toJSON: () => ({ nested: { x: 1 } }) }), { command: "run" });
  assert.deepEqual(JSON.parse(wireEventJson(new FlexibleEvent(withToJson)).json).parameters, { command: "run" });
  const withSymbol = { command: "run", [Symbol("internal")]: { nested: true } }; // no key on the wire: not checked
  assert.deepEqual(JSON.parse(wireEventJson(new FlexibleEvent(withSymbol)).json).parameters, { command: "run" });
  for (const name of [undefined, Symbol("s"), { toJSON: () => "x" }, 7]) {
    // The constructor checks the name; an instance can still be changed after it (it is not frozen).
    const event = Object.defineProperty(new FlexibleEvent({ command: "run" }), "name", { value: name });
    assert.throws(() => wireEventJson(event), TypeError, String(typeof name));
  }
});

test("a parameter that cannot be read refuses the event, read once: never read again for a second answer", () => {
  let reads = 0;
  const once = Object.defineProperty({ command: "run" }, "mood", {
    enumerable: true,
    get: () => {
      if (reads++ === 0) throw new Error("not yet");
      return "calm";
    },
  });
  assert.throws(() => wireEventJson(new FlexibleEvent(once)), /'flexible' parameters cannot be read: not yet$/);
  assert.equal(reads, 1);
  // What threw is told by what it threw, never pinned on another parameter (here, a symbol's getter).
  const symbolThrows = Object.defineProperty({ a: "fine" }, Symbol("internal"), {
    enumerable: true,
    get: () => {
      throw new Error("symbol exploded");
    },
  });
  assert.throws(
    () => wireEventJson(new FlexibleEvent(symbolThrows)),
    /'flexible' parameters cannot be read: symbol exploded$/,
  );
});

test("parameters named as Object.prototype's members are the event's own: __proto__, toString, constructor", () => {
  const parameters = JSON.parse('{"__proto__":"a","toString":"b","constructor":1,"hasOwnProperty":true,"command":"x"}');
  const wire = toWireEvent(new FlexibleEvent(parameters)).parameters;
  const own = Object.entries(wire);
  assert.deepEqual(own, [["__proto__", "a"], ["toString", "b"], ["constructor", 1], ["hasOwnProperty", true], [
    "command",
    "x",
  ]]);
  assert.equal(Object.getPrototypeOf(wire), Object.prototype, "a plain object still");
  // One event for both: two made a millisecond apart have different times.
  const event = new FlexibleEvent(parameters);
  assert.equal(wireEventJson(event).json, JSON.stringify(toWireEvent(event)));
  assert.deepEqual(Object.entries(JSON.parse(wireEventJson(event).json).parameters), own);
});

test("under a frozen Object.prototype, parameters named as its members are copied all the same", async () => {
  const run = await runChild("frozen_prototype_child.ts", { env: { NAT_TELEMETRY_ENABLED: "0" } });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { parameters: { toString: "b", constructor: 1, command: "x" }, code: 3 });
});

test("property: an event's JSON is JSON.stringify of its wire form, whatever its parameters and name", () => {
  const value = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
  );
  fc.assert(
    fc.property(
      fc.dictionary(fc.string({ unit: "binary" }), value),
      fc.string({ unit: "binary", minLength: 1 }),
      fc.integer({ min: -8.64e15, max: 8.64e15 }),
      (parameters, name, timestamp) => {
        const event = new (class extends TelemetryEvent {
          constructor() {
            super(name, { timestamp });
          }
          override parameters() {
            return parameters;
          }
        })();
        const { json, bytes } = wireEventJson(event);
        assert.equal(json, JSON.stringify(toWireEvent(event)));
        assert.equal(bytes, encoder.encode(json).length);
      },
    ),
    { numRuns: 2000 },
  );
});

test("an event's time is the same, and its JSON valid and sized, whatever a program made of Math, String and padStart", () => {
  const times = [Date.UTC(1987, 5, 4, 3, 2, 1, 1), Date.UTC(1987, 5, 4, 3, 2, 1, 999), -1, 253_402_300_799_999];
  const expected = times.map((time) => new Date(time).toISOString());
  const events = times.map((timestamp) => new CliCommandEvent({ command: "run", taskStatus: "success", timestamp }));
  const saved = { padStart: String.prototype.padStart, floor: Math.floor, abs: Math.abs, String: globalThis.String };
  // A second no other test writes, then another time in it (the second's text is kept), and the years' edges.
  String.prototype.padStart = function (this: string, width: number, fill?: string) {
    return `"é${saved.padStart.call(this, width, fill)}`;
  };
  Math.floor = ((value: number) => `"${saved.floor(value)}`) as unknown as typeof Math.floor;
  Math.abs = ((value: number) => `"${saved.abs(value)}`) as unknown as typeof Math.abs;
  globalThis.String = ((value: unknown) => `"é${value}`) as unknown as StringConstructor;
  try {
    for (const [i, timestamp] of times.entries()) {
      assert.equal(formatTimestamp(timestamp), expected[i]);
      const { json, bytes } = wireEventJson(events[i]);
      assert.equal(JSON.parse(json).ts, expected[i]);
      assert.equal(bytes, encoder.encode(json).length, json);
    }
  } finally {
    globalThis.String = saved.String;
    [String.prototype.padStart, Math.floor, Math.abs] = [saved.padStart, saved.floor, saved.abs];
  }
});

test("an event's size is its JSON's UTF-8 length, event after event, as names change and come back", () => {
  const named = (name: string, parameters: Record<string, unknown>) =>
    new (class extends TelemetryEvent {
      constructor() {
        super(name, { timestamp: Date.UTC(2026, 0, 2, 3, 4, 5, 6) });
      }
      override parameters() {
        return parameters as Record<string, string>;
      }
    })();
  for (
    const event of [
      named("a", { command: "run" }),
      named("a", { command: "café" }),
      named("événement", { command: "run", "clé": "😀" }),
      named("a", {}),
      named("événement", { n: -1.5e-7, b: true }),
      new CliCommandEvent({ command: "run", taskStatus: "success", timestamp: -8.64e15 }),
    ]
  ) {
    const { json, bytes } = wireEventJson(event);
    assert.equal(bytes, encoder.encode(json).length, json);
  }
});
