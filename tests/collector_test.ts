import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import process from "node:process";
import { NATTelemetryHandler, setTelemetryEnabled } from "../mod.ts";
import { type Collector, type CollectorOptions, startCollector, validateEnvelope } from "../src/collector.ts";
import { commandEvent } from "./helpers/events.ts";
import { runChild } from "./helpers/child.ts";
import { tempDir } from "./helpers/spool_dir.ts";

setTelemetryEnabled(true);
process.env.NAT_TELEMETRY_SPOOL_DIR = ""; // these tests keep no spool

const vector = readFileSync(new URL("./vectors/envelope-nat_cli_command-1.5.json", import.meta.url), "utf8");

async function withCollector(options: CollectorOptions, fn: (collector: Collector, log: string[]) => Promise<void>) {
  const log: string[] = [];
  const collector = await startCollector({ ...options, log: (line) => log.push(line) });
  try {
    await fn(collector, log);
  } finally {
    await collector.close();
  }
}

const post = (collector: Collector, body: string) =>
  fetch(collector.url, { method: "POST", body, headers: { "content-type": "application/json" } }).then(
    async (response) => ({ status: response.status, body: await response.text() }),
  );

test("the collector accepts what the handler sends and prints one line per event", async () => {
  await withCollector({}, async (collector, log) => {
    const handler = new NATTelemetryHandler({ endpoint: collector.url, sessionId: "abcdef0123456789" });
    handler.enqueue(commandEvent("run"));
    handler.enqueue(commandEvent("eval"));
    await handler.stop();
    assert.equal(handler.stats().sent, 2);
    assert.deepEqual(collector.events.map((event) => event.parameters.command), ["run", "eval"]);
    assert.equal(log.length, 2);
    assert.match(log[0], /nat_cli_command run success exit=0 5ms (deno|node|bun)\/\S+ session=abcdef01$/);
  });
});

test("the Python reference envelope is valid", () => {
  assert.equal(validateEnvelope(vector).status, 200);
});

test("what is not JSON is a 400, what is not an envelope a 422 with a reason", async () => {
  await withCollector({}, async (collector, log) => {
    const broken = (change: (envelope: Record<string, unknown>) => void) => {
      const envelope = JSON.parse(vector);
      change(envelope);
      return JSON.stringify(envelope);
    };
    const cases: [string, number, RegExp][] = [
      ["{not json", 400, /not JSON/],
      ["[]", 422, /not an object/],
      [broken((e) => delete e.sessionId), 422, /'sessionId' is missing/],
      [broken((e) => e.events = []), 422, /'events' is not a non-empty list/],
      [broken((e) => (e.events as { ts: string }[])[0].ts = "2026-01-02 03:04"), 422, /'ts' is not a UTC timestamp/],
      [broken((e) => (e.events as { parameters: object }[])[0].parameters = { a: null }), 422, /parameter 'a'/],
      [
        broken((e) => (e.events as { parameters: { taskStatus: string } }[])[0].parameters.taskStatus = "done"),
        422,
        /'taskStatus' has an invalid value/,
      ],
      [
        broken((e) => delete (e.events as { parameters: { exitCode?: number } }[])[0].parameters.exitCode),
        422,
        /nat_cli_command parameters must be/,
      ],
    ];
    for (const [body, status, reason] of cases) {
      const answer = await post(collector, body);
      assert.equal(answer.status, status, body.slice(0, 60));
      assert.match(JSON.parse(answer.body).error, reason);
    }
    assert.equal(collector.stats.rejected, cases.length);
    assert.equal(collector.events.length, 0);
    assert.equal(log.length, cases.length, "each rejection is logged");
  });
});

test("a malformed OTLP request is a 422 with a reason, never the collector's end: null attributes, a time past 9999", async () => {
  await withCollector({}, async (collector, log) => {
    const record = (change: Record<string, unknown>) =>
      JSON.stringify({
        resourceLogs: [{
          resource: { attributes: [] },
          scopeLogs: [{ logRecords: [{ eventName: "custom", timeUnixNano: "1", attributes: [], ...change }] }],
        }],
      });
    const cases: [string, RegExp][] = [
      [record({ attributes: [null] }), /its attributes are malformed/],
      [record({ attributes: [7] }), /its attributes are malformed/],
      [record({ timeUnixNano: "99999999999999999999999" }), /'timeUnixNano' is past the year 9999/],
      [
        JSON.stringify({ resourceLogs: [{ resource: { attributes: [null] }, scopeLogs: [] }] }),
        /the resource's attributes are malformed/,
      ],
    ];
    for (const [body, reason] of cases) {
      const answer = await fetch(collector.otlpUrl, { method: "POST", body }).then(async (response) => ({
        status: response.status,
        body: await response.text(),
      }));
      assert.equal(answer.status, 422, body);
      assert.match(JSON.parse(answer.body).error, reason);
    }
    assert.equal(log.length, cases.length, "each rejection is logged");
    assert.equal((await post(collector, vector)).status, 200, "and the collector goes on");
  });
});

test("a request that does not arrive whole in time is a 408: a slow client holds no slot", async () => {
  await withCollector({ requestTimeoutMs: 300, maxConnections: 1 }, async (collector) => {
    const started = Date.now();
    const slow = await connect(collector.port);
    slow.write("POST /v1.1/events/json HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{");
    const answer = await new Promise<string>((resolve) => {
      let text = "";
      slow.on("data", (chunk) => (text += chunk).includes("\r\n\r\n") && resolve(text));
      slow.on("close", () => resolve(text));
    });
    slow.destroy(); // Deno reads, and drops, what such a client still sends: its slot is freed all the same
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /^connection: close$/im);
    assert.ok(Date.now() - started < 5_000, "answered at its timeout, not a server's default minutes");
    assert.equal((await post(collector, vector)).status, 200, "its slot is free again");
  });
});

test("a client gone mid-body leaves nothing behind: the closed collector's process ends at once, printing nothing", async () => {
  // Its request's timer (60 s) would hold the process, killed here at 30 s.
  const run = await runChild("collector_closed_child.ts", { limitMs: 30_000 });
  assert.deepEqual([run.code, run.stderr], [0, ""]);
});

/** A TCP connection to the collector, open. */
function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
}

test("a repeated event (a retry that did arrive) is kept once", async () => {
  await withCollector({}, async (collector) => {
    await post(collector, vector);
    await post(collector, vector);
    assert.equal(collector.events.length, 2);
    assert.deepEqual(collector.stats, { envelopes: 2, accepted: 2, duplicates: 2, rejected: 0 });
  });
});

test("accepted events are appended to a JSON Lines file", async () => {
  using dir = tempDir();
  await withCollector({ jsonlPath: `${dir.path}/events.jsonl` }, async (collector) => {
    await post(collector, vector);
    const lines = readFileSync(`${dir.path}/events.jsonl`, "utf8").trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => [line.sessionId, line.parameters.command]), [
      ["sess-123", "run"],
      ["sess-123", "evaluate"],
    ]);
  });
});

test("a collector's mistaken options are told at its start: a status no server may send, a typo, a JSONL file it cannot write", async () => {
  using dir = tempDir();
  for (const status of [42, 0, 1000, 199, 600, 503.5]) {
    await assert.rejects(startCollector({ status }), /'status' must be a whole number from 200 to 599/, String(status));
  }
  await assert.rejects(startCollector({ port: "abc" as never }), /^RangeError: .*'port' must be a whole number/);
  await assert.rejects(startCollector({ port: 70_000 }), /'port' must be a whole number from 0 to 65535/);
  await assert.rejects(
    startCollector({ prot: 0 } as never),
    /^TypeError: .*'prot' is not an option \(did you mean 'port'\?\)/,
  );
  await assert.rejects(startCollector({ log: "yes" as never }), /'log' must be a function/);
  await assert.rejects(
    startCollector({ jsonlPath: `${dir.path}/missing/events.jsonl` }),
    /^Error: Cannot start collector: cannot write .*missing\/events\.jsonl/,
  );
  await withCollector({ status: 599 }, async (collector) => assert.equal((await post(collector, vector)).status, 599));
});

test("fault injection: a status with Retry-After keeps the handler's events for later", async () => {
  await withCollector({ status: 503, retryAfterSeconds: 30 }, async (collector) => {
    const handler = new NATTelemetryHandler({ endpoint: collector.url });
    handler.enqueue(commandEvent("x"));
    await handler.flush();
    assert.equal(handler.stats().dlq, 1);
    assert.equal(collector.events.length, 0, "nothing is accepted on a non-2xx answer");
  });
});

test("fault injection: a delay, and silence, which the handler's exit budget bounds", async () => {
  await withCollector({ delayMs: 300 }, async (collector) => {
    const started = Date.now();
    assert.equal((await post(collector, vector)).status, 200);
    assert.ok(Date.now() - started >= 250);
  });
  await withCollector({ silent: true }, async (collector) => {
    const handler = new NATTelemetryHandler({ endpoint: collector.url, exitTimeoutSeconds: 0.3 });
    handler.enqueue(commandEvent("x"));
    await handler.stop();
    assert.equal(handler.stats().dlq, 1);
  });
});
