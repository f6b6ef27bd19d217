import { test } from "node:test";
import assert from "node:assert/strict";
import { type IncomingMessage, request } from "node:http";
import { classifyStatus, deliver, type DeliveryOutcome, type Fetch, MAX_REDIRECTS } from "../src/delivery.ts";
import { type FetchResponse, host, runtimeInfo } from "../src/runtime/mod.ts";
import { classifyOtlp } from "../src/otlp.ts";
import { NATTelemetryHandler, setTelemetryEnabled } from "../mod.ts";
import { commandEvent, withoutThrown } from "./helpers/events.ts";
import { TestServer, withServer } from "./helpers/server.ts";

/** Every client a delivery may use here: the global fetch and, under Node.js, the host's lighter one. */
const clients: [string, Fetch][] = [["fetch", (url, init) => fetch(url, init)]];
if (host().fetch) clients.push([`${runtimeInfo().name} host fetch`, host().fetch!]);

test("every status has a rule: delivered, split, retried or dropped with a reason", () => {
  const table: [number, DeliveryOutcome][] = [
    [200, { kind: "delivered" }],
    [202, { kind: "delivered" }],
    [204, { kind: "delivered" }],
    [400, { kind: "rejected", reason: "http_400" }],
    [422, { kind: "rejected", reason: "http_422" }],
    [401, { kind: "rejected", reason: "http_401" }],
    [403, { kind: "rejected", reason: "http_403" }],
    [404, { kind: "rejected", reason: "http_404" }],
    [410, { kind: "rejected", reason: "http_410" }],
    [413, { kind: "too_large" }],
    [407, { kind: "retry", reason: "http_407" }], // a proxy's: the endpoint never saw the request
    [408, { kind: "retry", reason: "http_408" }],
    [429, { kind: "retry", reason: "http_429" }],
    [500, { kind: "retry", reason: "http_500" }],
    [502, { kind: "retry", reason: "http_502" }],
    [503, { kind: "retry", reason: "http_503" }],
    [504, { kind: "retry", reason: "http_504" }],
    [507, { kind: "retry", reason: "http_507" }],
    [501, { kind: "rejected", reason: "http_501" }],
    [505, { kind: "rejected", reason: "http_505" }],
    [301, { kind: "rejected", reason: "unsafe_redirect" }],
    [302, { kind: "rejected", reason: "unsafe_redirect" }],
    [303, { kind: "rejected", reason: "unsafe_redirect" }],
    [304, { kind: "rejected", reason: "http_304" }],
  ];
  for (const [status, outcome] of table) assert.deepEqual(classifyStatus(status), outcome, `status ${status}`);
});

for (const [client, fetchImpl] of clients) {
  const post = async (server: TestServer, options: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
    await deliver({
      url: server.url(),
      body: '{"events":[]}',
      fetch: fetchImpl,
      timeoutMs: options.timeoutMs ?? 2000,
      signal: options.signal,
      now: Date.now,
    });

  test(`${client}: a real POST carries the body as JSON and a 200 is delivered`, async () => {
    await withServer(async (server) => {
      assert.deepEqual(await post(server), { kind: "delivered" });
      assert.equal(server.requests[0].method, "POST");
      assert.equal(server.requests[0].headers["content-type"], "application/json");
      assert.equal(server.requests[0].body, '{"events":[]}');
    });
  });

  test(`${client}: 429 and 503 honour Retry-After in seconds and as an HTTP date`, async () => {
    await withServer(async (server) => {
      server.reply({ status: 429, headers: { "retry-after": "7" } });
      assert.deepEqual(await post(server), { kind: "retry", reason: "http_429", retryAfterMs: 7000 });
      const date = new Date(Date.now() + 60_000).toUTCString();
      server.reply({ status: 503, headers: { "retry-after": date } });
      const outcome = await post(server);
      assert.equal(outcome.kind, "retry");
      const retryAfterMs = outcome.kind === "retry" ? outcome.retryAfterMs ?? 0 : 0;
      assert.ok(retryAfterMs > 55_000 && retryAfterMs <= 60_000, `${retryAfterMs}`);
    });
  });

  test(`${client}: 307 and 308 are followed with the same POST body`, async () => {
    await withServer(async (server) => {
      server.reply({ status: 307, headers: { location: "/moved" } }, {
        status: 308,
        headers: { location: server.url("/final") },
      });
      assert.deepEqual(await post(server), { kind: "delivered" });
      assert.deepEqual(server.requests.map((r) => [r.method, r.path, r.body]), [
        ["POST", "/events", '{"events":[]}'],
        ["POST", "/moved", '{"events":[]}'],
        ["POST", "/final", '{"events":[]}'],
      ]);
    });
  });

  test(`${client}: 301, 302 and 303 are never followed as a GET: dropped as unsafe_redirect`, async () => {
    await withServer(async (server) => {
      for (const status of [301, 302, 303]) {
        server.reply({ status, headers: { location: "/elsewhere" } });
        assert.deepEqual(await post(server), { kind: "rejected", reason: "unsafe_redirect" });
      }
      assert.equal(server.requests.length, 3, "the redirect target was never requested");
    });
  });

  test(`${client}: where the proxy's credentials would go to the host, a redirect to another origin is dropped`, async () => {
    await withServer(async (server) => {
      const carried: string[] = [];
      const viaProxy = (url: string, sendsProxyCredentials: (url: string) => boolean) =>
        deliver({ url, body: "{}", fetch: fetchImpl, timeoutMs: 2000, now: Date.now, sendsProxyCredentials });
      const everywhere = (url: string) => (carried.push(url), true);
      // Same origin: followed (the endpoint has them already); another (localhost, not 127.0.0.1): not requested.
      server.reply({ status: 307, headers: { location: "/moved" } });
      assert.deepEqual(await viaProxy(server.url(), everywhere), { kind: "delivered" });
      const elsewhere = server.url("/other").replace("127.0.0.1", "localhost");
      server.reply({ status: 308, headers: { location: elsewhere } });
      assert.deepEqual(await viaProxy(server.url(), everywhere), { kind: "rejected", reason: "unsafe_redirect" });
      assert.deepEqual(carried, [elsewhere], "asked only for the other origin");
      server.reply({ status: 308, headers: { location: elsewhere } });
      assert.deepEqual(await viaProxy(server.url(), () => false), { kind: "delivered" });
      assert.deepEqual(server.requests.map((r) => r.path), ["/events", "/moved", "/events", "/events", "/other"]);
    });
  });

  test(`${client}: a redirect loop stops after a few hops; a redirect without a usable Location is dropped`, async () => {
    await withServer(async (server) => {
      server.respond(() => ({ status: 308, headers: { location: "/again" } }));
      assert.deepEqual(await post(server), { kind: "rejected", reason: "too_many_redirects" });
      assert.equal(server.requests.length, MAX_REDIRECTS + 1);
      server.respond(() => ({ status: 307 }));
      assert.deepEqual(await post(server), { kind: "rejected", reason: "bad_redirect" });
      server.respond(() => ({ status: 307, headers: { location: "file:///etc/passwd" } }));
      assert.deepEqual(await post(server), { kind: "rejected", reason: "bad_redirect" });
    });
  });

  test(`${client}: a server that never answers is a retryable timeout, within the deadline`, async () => {
    await withServer(async (server) => {
      server.reply({ hang: true });
      const started = Date.now();
      assert.deepEqual(await post(server, { timeoutMs: 200 }), { kind: "retry", reason: "timeout" });
      assert.ok(Date.now() - started < 1500, "the deadline bounds the wait");
    });
  });

  test(`${client}: a refused connection, a cut connection and garbage are retryable network errors`, async () => {
    const server = await TestServer.start();
    const url = server.url();
    await server.close();
    const refused = await deliver({ url, body: "{}", fetch: fetchImpl, timeoutMs: 2000, now: Date.now });
    assert.deepEqual(withoutThrown(refused), { kind: "retry", reason: "network_error" });
    await withServer(async (live) => {
      live.reply({ destroy: "before" }, { raw: "SMTP ready\r\n\r\n" });
      assert.deepEqual(withoutThrown(await post(live)), { kind: "retry", reason: "network_error" });
      assert.deepEqual(withoutThrown(await post(live)), { kind: "retry", reason: "network_error" });
    });
  });

  test(`${client}: a response cut mid-body still counts by its status, and the body is released`, async () => {
    await withServer(async (server) => {
      server.reply({ status: 200, body: "x".repeat(10_000), destroy: "mid-body" });
      assert.deepEqual(await post(server), { kind: "delivered" });
      server.reply({ status: 500, body: "<html>".repeat(1000) });
      assert.deepEqual(await post(server), { kind: "retry", reason: "http_500" });
    });
  });

  test(`${client}: an outside abort (the exit budget) interrupts the delivery instead of failing it`, async () => {
    await withServer(async (server) => {
      server.reply({ hang: true });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      assert.deepEqual(await post(server, { signal: controller.signal, timeoutMs: 5000 }), { kind: "interrupted" });
      assert.deepEqual(await post(server, { signal: controller.signal }), { kind: "interrupted" });
      assert.equal(server.requests.length, 1, "an already-aborted delivery sends nothing");
    });
  });
}

test("a program's fetch that resolves to no HTTP response is dropped as bad_response, not retried as an HTTP status", async () => {
  const answers: unknown[] = [
    undefined,
    null,
    200,
    "OK",
    {},
    { status: 200 },
    { status: NaN, headers: new Headers() },
    { status: "200", headers: new Headers() },
    { status: 42, headers: new Headers() },
  ];
  for (const answer of answers) {
    const outcome = await deliver({
      url: "http://127.0.0.1:9/",
      body: "{}",
      fetch: () => Promise.resolve(answer as Response),
      timeoutMs: 2000,
      now: Date.now,
    });
    assert.deepEqual(outcome, { kind: "rejected", reason: "bad_response" }, `for ${String(JSON.stringify(answer))}`);
  }
  const responseLike = { status: 204, headers: new Headers(), body: null };
  const outcome = await deliver({
    url: "http://127.0.0.1:9/",
    body: "{}",
    fetch: () => Promise.resolve(responseLike as unknown as Response),
    timeoutMs: 2000,
    now: Date.now,
  });
  assert.deepEqual(outcome, { kind: "delivered" }, "an object shaped like a response is one");
});

/**
 * A program's own fetch on `node:http`, as hand-written ones (and axios's, got's) are: its answer's body is the
 * Node.js stream, which has no `cancel()`; the answer is what `shape` makes of it.
 */
function nodeStreamFetch(shape: (answer: IncomingMessage) => unknown = plainAnswer, passesSignal = true): {
  fetch: Fetch;
  bodies: IncomingMessage[];
} {
  const bodies: IncomingMessage[] = [];
  const fetch: Fetch = (url, init) =>
    new Promise((resolve, reject) => {
      const signal = passesSignal ? init.signal : undefined;
      const sent = request(url, { method: init.method, headers: init.headers, signal }, (answer) => {
        bodies.push(answer);
        resolve(shape(answer) as FetchResponse);
      });
      sent.on("error", reject);
      sent.end(init.body);
    });
  return { fetch, bodies };
}

/** One delivery through a program's fetch; with `otlp`, its answer read and counted as an OTLP endpoint's. */
function deliverThrough(
  fetch: Fetch,
  url: string,
  options: { readAnswer?: boolean; otlp?: boolean; timeoutMs?: number },
): Promise<DeliveryOutcome> {
  const classify = options.otlp
    ? (status: number, retryAfter: number | undefined, body: string | undefined) =>
      classifyOtlp(status, retryAfter, body, 3)
    : undefined;
  const readAnswer = options.readAnswer ?? options.otlp;
  return deliver({ url, body: "{}", fetch, timeoutMs: options.timeoutMs ?? 2000, now: Date.now, readAnswer, classify });
}

/** The answer as such a fetch gives it: the status, the headers, the stream. */
function plainAnswer(answer: IncomingMessage) {
  return { status: answer.statusCode, headers: new Headers(answer.headers as Record<string, string>), body: answer };
}

test("a program's fetch whose answer is a Node.js stream, or throws when read, sends once; the stream is released", async () => {
  const cases: [string, (answer: IncomingMessage) => unknown, DeliveryOutcome][] = [
    ["a Node.js stream", plainAnswer, { kind: "delivered" }],
    ["headers whose get throws", (answer) => ({ ...plainAnswer(answer), headers: { get: () => assert.fail() } }), {
      kind: "delivered",
    }],
    ["a body that throws when read", (answer) => ({
      ...plainAnswer(answer),
      get body() {
        throw new Error("no body");
      },
    }), { kind: "delivered" }],
    // No status that can be read, though the endpoint answered: dropped as no answer, never sent again.
    ["headers that throw when read", (answer) => ({
      ...plainAnswer(answer),
      get headers() {
        throw new Error("no headers");
      },
    }), { kind: "rejected", reason: "bad_response" }],
  ];
  for (const [shape, answer, expected] of cases) {
    for (const readAnswer of [false, true]) {
      await withServer(async (server) => {
        const { fetch, bodies } = nodeStreamFetch(answer);
        const outcome = await deliverThrough(fetch, server.url(), { readAnswer });
        const what = `${shape}${readAnswer ? ", its answer read" : ""}`;
        assert.deepEqual([outcome, server.requests.length], [expected, 1], what);
        // What cannot be read cannot be released: the server's end cuts it.
        if (!shape.startsWith("a body that throws")) assert.equal(bodies[0].destroyed, true, `${what}: released`);
      });
    }
  }
  // An OTLP endpoint's partial success, read from the stream as from a web one (as bytes, or as text: an encoding set).
  const partial = '{"partialSuccess":{"rejectedLogRecords":"1"}}';
  for (const encoding of [undefined, "utf8" as const]) {
    await withServer(async (server) => {
      server.reply({ status: 200, body: partial });
      const { fetch } = nodeStreamFetch((answer) => plainAnswer(encoding ? answer.setEncoding(encoding) : answer));
      const outcome = await deliverThrough(fetch, server.url(), { otlp: true });
      assert.deepEqual(outcome, { kind: "delivered", rejected: 1 }, encoding ?? "bytes");
    });
  }
  // Its body stalled mid-way, by a fetch that does not pass the abort on: released at the deadline, or the connection
  // held the process open.
  await withServer(async (server) => {
    server.reply({ status: 200, body: '{"partialSuccess":{}}', stallMidBody: true });
    const { fetch, bodies } = nodeStreamFetch(plainAnswer, false);
    const outcome = await deliverThrough(fetch, server.url(), { otlp: true, timeoutMs: 300 });
    assert.deepEqual(outcome, { kind: "delivered" });
    assert.equal(bodies[0].destroyed, true, "released at the deadline");
  });
  // The handler's count: one event sent, once, not retried until it is dropped.
  await withServer(async (server) => {
    setTelemetryEnabled(true);
    const handler = new NATTelemetryHandler({
      endpoint: server.url(),
      spoolDir: false,
      fetch: nodeStreamFetch().fetch as unknown as typeof fetch,
      backoffInitialSeconds: 0,
    });
    handler.enqueue(commandEvent("run"));
    await handler.flush();
    await handler.stop();
    assert.deepEqual([handler.stats().sent, handler.stats().dropped, server.events().length], [1, {}, 1]);
  });
});

test("the deadline holds even against a fetch that ignores the abort and never settles", async () => {
  const stuck: Fetch = () => new Promise(() => {});
  const started = Date.now();
  const outcome = await deliver({
    url: "http://127.0.0.1:9/",
    body: "{}",
    fetch: stuck,
    timeoutMs: 100,
    now: Date.now,
  });
  assert.deepEqual(outcome, { kind: "retry", reason: "timeout" });
  assert.ok(Date.now() - started < 5_000);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  const outside = await deliver({
    url: "http://127.0.0.1:9/",
    body: "{}",
    fetch: stuck,
    timeoutMs: 60_000,
    signal: controller.signal,
    now: Date.now,
  });
  assert.deepEqual(outside, { kind: "interrupted" });
});
