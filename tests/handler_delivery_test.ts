import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { CLIENT_VERSION, NATTelemetryHandler, type NATTelemetryHandlerOptions, setTelemetryEnabled } from "../mod.ts";
import { commandEvent, commands } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { waitFor } from "./helpers/wait.ts";
import { runChild } from "./helpers/child.ts";
import { runtimeInfo } from "../src/runtime/mod.ts";

setTelemetryEnabled(true);
process.env.NAT_TELEMETRY_SPOOL_DIR = ""; // these tests keep no spool: nothing reaches the home directory

/** A handler pointed at a fresh test server, with a clock the test moves. */
async function setup(options: NATTelemetryHandlerOptions = {}) {
  const server = await TestServer.start();
  const clock = { now: Date.parse("2026-11-28T12:00:00Z") };
  const handler = new NATTelemetryHandler({
    endpoint: server.url(),
    backoffInitialSeconds: 0,
    clock: () => clock.now,
    random: () => 0.5,
    ...options,
  });
  return {
    server,
    handler,
    clock,
    [Symbol.asyncDispose]: async () => {
      await handler.stop();
      await server.close();
    },
  };
}

test("flush() delivers queued events in one envelope with the handler's version and session", async () => {
  await using t = await setup({ sessionId: "s-1" });
  t.handler.enqueue(commandEvent("a"));
  t.handler.enqueue(commandEvent("b"));
  await t.handler.flush();
  assert.equal(t.server.requests.length, 1);
  const envelope = JSON.parse(t.server.requests[0].body);
  assert.equal(envelope.clientVer, CLIENT_VERSION);
  assert.equal(envelope.sessionId, "s-1");
  assert.equal(envelope.sentTs, "2026-11-28T12:00:00.000Z");
  assert.deepEqual(commands(envelope.events), ["a", "b"]);
  assert.deepEqual(t.handler.stats(), {
    enqueued: 2,
    replayed: 0,
    sent: 2,
    dropped: {},
    queued: 0,
    dlq: 0,
    inFlight: 0,
    spooled: 0,
  });
});

test("a program that replaces globalThis.fetch later (an interceptor with its credentials) does not carry telemetry", async () => {
  const original = globalThis.fetch;
  let intercepted = 0;
  globalThis.fetch = (input, init) => {
    intercepted++;
    return original(input, { ...init, headers: { ...init?.headers, authorization: "Bearer program-secret" } });
  };
  try {
    await using t = await setup();
    t.handler.enqueue(commandEvent("a"));
    await t.handler.flush();
    assert.equal(t.handler.stats().sent, 1);
    assert.equal(t.server.requests[0].headers.authorization, undefined);
    assert.equal(intercepted, 0);
  } finally {
    globalThis.fetch = original;
  }
});

test("a fetch the program replaced before loading the package does not carry telemetry either (but under Deno)", {
  skip: runtimeInfo().name === "deno" && "Deno has no fetch but the global one: documented (api.md, `fetch`)",
}, async () => {
  const server = await TestServer.start();
  try {
    const run = await runChild("intercepted_child.ts", {
      env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url(), NAT_TELEMETRY_SPOOL_DIR: "" },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { intercepted: 0 });
    assert.deepEqual(commands(server.events()), ["intercepted"]);
    assert.equal(server.requests[0].headers.authorization, undefined);
  } finally {
    await server.close();
  }
});

test("a program that broke globalThis.fetch before the package loaded still runs its command; the package does not throw", async () => {
  const server = await TestServer.start();
  try {
    for (const broken of ["number", "getter"]) {
      const run = await runChild("broken_fetch_child.ts", {
        env: {
          NAT_TELEMETRY_ENABLED: "1",
          NAT_TELEMETRY_ENDPOINT: server.url(),
          NAT_TELEMETRY_SPOOL_DIR: "",
          NAT_TEST_BROKEN_FETCH: broken,
        },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), { code: 7 }, broken);
    }
    // Node.js and Bun deliver with their own clients; Deno's fetch is the global, which the program broke.
    assert.deepEqual(commands(server.events()), "Deno" in globalThis ? [] : ["unfetched", "unfetched"]);
  } finally {
    await server.close();
  }
});

test("flush() with nothing queued sends nothing", async () => {
  await using t = await setup();
  await t.handler.flush();
  assert.equal(t.server.requests.length, 0);
});

test("flush() sends the DLQ before new events", async () => {
  await using t = await setup();
  t.server.reply({ status: 500 });
  t.handler.enqueue(commandEvent("old"));
  await t.handler.flush();
  assert.equal(t.handler.stats().dlq, 1);
  t.handler.enqueue(commandEvent("new"));
  await t.handler.flush();
  assert.deepEqual(commands(t.server.events()), ["old", "old", "new"]);
  assert.equal(t.handler.stats().sent, 2);
});

test("408, 5xx and network errors keep events for retry with their count incremented", async () => {
  await using t = await setup({ maxRetries: 10 });
  t.server.reply({ status: 408 }, { status: 502 }, { destroy: "before" }, { status: 504 });
  t.handler.enqueue(commandEvent("x"));
  for (let i = 0; i < 4; i++) {
    await t.handler.flush();
    assert.deepEqual(t.handler.stats().dlq, 1, `after failure ${i + 1}`);
  }
  await t.handler.flush();
  assert.equal(t.handler.stats().sent, 1);
  assert.equal(t.server.requests.length, 5);
});

test("an event is dropped once its retry count exceeds maxRetries", async () => {
  await using t = await setup({ maxRetries: 2 });
  t.server.respond(() => ({ status: 503 }));
  t.handler.enqueue(commandEvent("x"));
  for (let i = 0; i < 5; i++) await t.handler.flush();
  assert.equal(t.server.requests.length, 3, "first try plus two retries");
  assert.deepEqual(t.handler.stats().dropped, { retries_exhausted: 1 });
  assert.equal(t.handler.stats().dlq, 0);
});

test("maxRetries 0 drops an event after its first failure", async () => {
  await using t = await setup({ maxRetries: 0 });
  t.server.reply({ status: 500 });
  t.handler.enqueue(commandEvent("x"));
  await t.handler.flush();
  assert.deepEqual(t.handler.stats().dropped, { retries_exhausted: 1 });
});

test("400 and 422 drop the batch, counted by status", async () => {
  await using t = await setup();
  t.server.reply({ status: 400 }, { status: 422 });
  t.handler.enqueue(commandEvent("a"));
  t.handler.enqueue(commandEvent("b"));
  await t.handler.flush();
  t.handler.enqueue(commandEvent("c"));
  await t.handler.flush();
  assert.deepEqual(t.handler.stats().dropped, { http_400: 2, http_422: 1 });
  await t.handler.flush();
  assert.equal(t.server.requests.length, 2, "dropped events are not retried");
});

test("413 splits the batch in halves recursively; a single event too large is dropped", async () => {
  await using t = await setup();
  // The server takes at most two events per request, and never the event named "huge".
  t.server.respond((request) => {
    const events = JSON.parse(request.body).events;
    return { status: events.length > 2 || commands(events).includes("huge") ? 413 : 200 };
  });
  for (const name of ["a", "b", "c", "huge", "e"]) t.handler.enqueue(commandEvent(name));
  await t.handler.flush();
  const sizes = t.server.requests.map((request) => JSON.parse(request.body).events.length);
  assert.deepEqual(sizes, [5, 2, 3, 1, 2, 1, 1], "halves as the Python handler cuts them: floor(n/2) first");
  assert.deepEqual(t.handler.stats(), {
    enqueued: 5,
    replayed: 0,
    sent: 4,
    dropped: { http_413: 1 },
    queued: 0,
    dlq: 0,
    inFlight: 0,
    spooled: 0,
  });
});

test("401, 403, 404, 410, 501 and 505 are dropped and counted by reason", async () => {
  await using t = await setup();
  const statuses = [401, 403, 404, 410, 501, 505];
  t.server.reply(...statuses.map((status) => ({ status })));
  for (const _ of statuses) {
    t.handler.enqueue(commandEvent("x"));
    await t.handler.flush();
  }
  assert.deepEqual(t.handler.stats().dropped, Object.fromEntries(statuses.map((s) => [`http_${s}`, 1])));
});

test("a 302 is counted as unsafe_redirect, never followed into a GET that looks like success", async () => {
  await using t = await setup();
  t.server.reply({ status: 302, headers: { location: "/login" } });
  t.handler.enqueue(commandEvent("x"));
  await t.handler.flush();
  assert.deepEqual(t.handler.stats().dropped, { unsafe_redirect: 1 });
  assert.deepEqual(t.server.requests.map((r) => r.method + " " + r.path), ["POST /events"]);
});

test("a DLQ event is not resent before its backoff has passed", async () => {
  await using t = await setup({ backoffInitialSeconds: 10, backoffMaxSeconds: 60 });
  t.server.reply({ status: 500 }, { status: 500 });
  t.handler.enqueue(commandEvent("x"));
  await t.handler.flush(); // failure 1: backoff 10 s with jitter 0.5 → 7.5 s
  t.clock.now += 7_000;
  await t.handler.flush();
  assert.equal(t.server.requests.length, 1, "not yet due");
  t.clock.now += 500;
  await t.handler.flush(); // failure 2: backoff 20 s with jitter → 15 s
  assert.equal(t.server.requests.length, 2);
  t.clock.now += 14_999;
  await t.handler.flush();
  assert.equal(t.server.requests.length, 2, "the second backoff is longer");
  t.clock.now += 1;
  await t.handler.flush();
  assert.equal(t.handler.stats().sent, 1);
});

test("new events are sent while a DLQ event waits for its backoff", async () => {
  await using t = await setup({ backoffInitialSeconds: 10 });
  t.server.reply({ status: 503 });
  t.handler.enqueue(commandEvent("waiting"));
  await t.handler.flush();
  t.handler.enqueue(commandEvent("fresh"));
  await t.handler.flush();
  assert.deepEqual(commands(t.server.events()), ["waiting", "fresh"]);
  assert.deepEqual(t.handler.stats().dlq, 1);
});

test("a wall clock stepped back after a failure (NTP): the event waits its backoff, not the step", async () => {
  const wall = Date.now;
  let step = 0;
  Date.now = () => wall() + step; // the program's wall clock, which the handler reads for its default clock
  const server = await TestServer.start();
  const handler = new NATTelemetryHandler({
    endpoint: server.url(),
    backoffInitialSeconds: 0.05,
    backoffMaxSeconds: 0.05,
    random: () => 0.5,
  });
  try {
    server.reply({ status: 503 });
    handler.enqueue(commandEvent("waiting"));
    await handler.flush();
    step = -86_400_000;
    await new Promise((resolve) => setTimeout(resolve, 150));
    await handler.flush();
    assert.deepEqual(commands(server.events()), ["waiting", "waiting"]);
    assert.equal(handler.stats().sent, 1);
  } finally {
    Date.now = wall;
    await handler.stop();
    await server.close();
  }
});

test("a DLQ event waits at least the server's Retry-After", async () => {
  await using t = await setup({ backoffInitialSeconds: 1 });
  t.server.reply({ status: 429, headers: { "retry-after": "120" } });
  t.handler.enqueue(commandEvent("x"));
  await t.handler.flush();
  t.clock.now += 119_000;
  await t.handler.flush();
  assert.equal(t.server.requests.length, 1);
  t.clock.now += 1_000;
  await t.handler.flush();
  assert.equal(t.handler.stats().sent, 1);
});

test("reaching maxQueueSize triggers an early flush instead of a drop", async () => {
  await using t = await setup({ maxQueueSize: 3 });
  t.handler.enqueue(commandEvent("a"));
  t.handler.enqueue(commandEvent("b"));
  assert.equal(t.server.requests.length, 0);
  t.handler.enqueue(commandEvent("c"));
  await waitFor(() => t.handler.stats().sent === 3, "the early flush");
  assert.deepEqual(commands(t.server.events()), ["a", "b", "c"]);
  assert.deepEqual(t.handler.stats().dropped, {});
});

test("start() flushes every flushIntervalSeconds, is idempotent, and stop() ends it", async () => {
  await using t = await setup({ flushIntervalSeconds: 0.02 });
  t.handler.start();
  t.handler.start();
  t.handler.enqueue(commandEvent("a"));
  await waitFor(() => t.server.requests.length === 1, "the first timed flush");
  t.handler.enqueue(commandEvent("b"));
  await waitFor(() => t.server.requests.length === 2, "the second timed flush");
  await t.handler.stop();
  t.handler.enqueue(commandEvent("c"));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(t.server.requests.length, 2, "no timed flush after stop()");
  assert.equal(t.handler.stats().queued, 1);
});

test("concurrent flush() calls never overlap and never send an event twice", async () => {
  await using t = await setup();
  t.server.respond(() => ({ status: 200, delayMs: 20 }));
  t.handler.enqueue(commandEvent("a"));
  const first = t.handler.flush();
  await waitFor(() => t.handler.stats().inFlight === 1, "the first flush to start");
  t.handler.enqueue(commandEvent("b"));
  await Promise.all([first, t.handler.flush(), t.handler.flush()]);
  assert.deepEqual(commands(t.server.events()), ["a", "b"]);
  assert.equal(t.server.requests.length, 2);
});

test("the logger hears about drops and retries once per decision, not once per event", async () => {
  const lines: string[] = [];
  await using t = await setup({ logger: (line) => lines.push(line), maxRetries: 0 });
  t.server.reply({ status: 400 }, { status: 500 });
  for (let i = 0; i < 10; i++) t.handler.enqueue(commandEvent(`e${i}`));
  await t.handler.flush();
  for (let i = 0; i < 10; i++) t.handler.enqueue(commandEvent(`f${i}`));
  await t.handler.flush();
  assert.deepEqual(lines, [
    "[nat-telemetry] dropped 10 event(s): http_400",
    "[nat-telemetry] dropped 10 event(s): retries_exhausted (last failure: http_500)",
  ]);
});

test("the logger hears once why nothing is recorded while telemetry is off (Deno without --allow-env has no trail)", () => {
  const lines: string[] = [];
  setTelemetryEnabled(false);
  try {
    const handler = new NATTelemetryHandler({ endpoint: "", logger: (line) => lines.push(line) });
    handler.enqueue(commandEvent("a"));
    handler.enqueue(commandEvent("b"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /^\[nat-telemetry\] telemetry off \(decided by .+\): events are not recorded$/);
  } finally {
    setTelemetryEnabled(true);
  }
});

test("an async logger that rejects changes nothing: no unhandled rejection reaches the program", async () => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", record);
  try {
    // As an async function that throws; and a promise no `instanceof Promise` knows (another realm's, `node:vm`), as
    // a thenable wrapping one.
    const rejected = () => Promise.reject(new Error("broken async logger"));
    const foreign = () => {
      const promise = rejected();
      return { then: (...handlers: unknown[]) => promise.then(...(handlers as [])) };
    };
    await using t = await setup({ logger: (line) => line.includes("http_400") ? rejected() : foreign() });
    t.server.reply({ status: 400 }, { status: 500 });
    t.handler.enqueue(commandEvent("x"));
    await t.handler.flush();
    t.handler.enqueue(commandEvent("y"));
    await t.handler.flush();
    assert.deepEqual(t.handler.stats().dropped, { http_400: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20)); // a rejection left unhandled is reported by now
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", record);
  }
});

test("a handler's logger hears its own lines while another handler's logger runs (that logger recorded an event)", async () => {
  const heardByB: string[] = [];
  await using b = await setup({ maxBufferedEvents: 1, logger: (line) => heardByB.push(line) });
  const a = new NATTelemetryHandler({
    endpoint: b.server.url(),
    logger: () => {
      b.handler.enqueue(commandEvent("from-a-1"));
      b.handler.enqueue(commandEvent("from-a-2")); // past b's buffer
    },
  });
  a.enqueue("not an event" as never); // a drop: a's logger hears of it
  assert.deepEqual(heardByB, [
    "[nat-telemetry] dropped 1 event(s): buffer_full (1 held; those dropped after it are told together at the next flush)",
  ]);
  await a.stop();
});

test("a logger that throws changes nothing", async () => {
  await using t = await setup({
    logger: () => {
      throw new Error("broken logger");
    },
  });
  t.server.reply({ status: 400 });
  t.handler.enqueue(commandEvent("x"));
  await t.handler.flush();
  assert.deepEqual(t.handler.stats().dropped, { http_400: 1 });
});
