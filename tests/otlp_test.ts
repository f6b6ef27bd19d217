/**
 * OTLP/HTTP logs: the handler's requests compared with those of the official
 * OpenTelemetry JS SDK (an oracle no one here wrote), the answer rules of the
 * OTLP specification against a real loopback receiver, the OTEL_* environment,
 * and the local collector's /v1/logs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import process from "node:process";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { CliCommandEvent, NATTelemetryHandler, type NATTelemetryHandlerOptions, setTelemetryEnabled } from "../mod.ts";
import { readOtlpLogs, startCollector } from "../src/collector.ts";
import { otlpEndpointFromEnv, parseOtelList } from "../src/otlp.ts";
import { runChild } from "./helpers/child.ts";
import { AnyEvent, commandEvent } from "./helpers/events.ts";
import { type ReceivedRequest, TestServer, withServer } from "./helpers/server.ts";
import { tempDir } from "./helpers/spool_dir.ts";

setTelemetryEnabled(true);
process.env.NAT_TELEMETRY_SPOOL_DIR = ""; // these tests keep no spool

const otlp = (url: string, options: NATTelemetryHandlerOptions = {}) =>
  new NATTelemetryHandler({ endpoint: url, format: "otlp", sessionId: "sess-1", backoffInitialSeconds: 0, ...options });

/** The log records of an OTLP request, flattened. */
function records(
  request: ReceivedRequest,
): { eventName: string; attributes: { key: string; value?: { stringValue?: string } }[] }[] {
  return JSON.parse(request.body).resourceLogs.flatMap((r: { scopeLogs: { logRecords: unknown[] }[] }) =>
    r.scopeLogs.flatMap((s) => s.logRecords)
  );
}

/** The `command` attribute of an OTLP log record. */
function normalizedCommand(record: { attributes: { key: string; value?: { stringValue?: string } }[] }): unknown {
  return record.attributes.find((attribute) => attribute.key === "command")?.value?.stringValue;
}

interface OtlpJson {
  resourceLogs: {
    resource: { attributes?: KeyValue[] };
    scopeLogs: {
      scope: { name: string; version: string };
      logRecords: { eventName: string; timeUnixNano: string | number; attributes?: KeyValue[] }[];
    }[];
  }[];
}
type KeyValue = { key: string; value: Record<string, unknown> };

/** Attributes as a map sorted by key, an `intValue` as a string whatever its spelling. */
function attributeMap(list: KeyValue[] = []): Record<string, Record<string, unknown>> {
  const entries = list.map(({ key, value }): [string, Record<string, unknown>] => {
    const [kind, raw] = Object.entries(value)[0];
    return [key, kind === "intValue" ? { intValue: String(raw) } : { [kind]: raw }];
  });
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/** An OTLP JSON request with what may differ left out (ids, observed time, empty defaults) and lists as maps. */
function normalized(body: string) {
  return (JSON.parse(body) as OtlpJson).resourceLogs.map((resourceLog) => ({
    resource: attributeMap(resourceLog.resource.attributes),
    scopeLogs: resourceLog.scopeLogs.map((scopeLog) => ({
      scope: { name: scopeLog.scope.name, version: scopeLog.scope.version },
      logRecords: scopeLog.logRecords.map((record) => ({
        eventName: record.eventName,
        timeUnixNano: String(record.timeUnixNano),
        attributes: attributeMap(record.attributes),
      })),
    })),
  }));
}

test("a request carries the same resource, scope and log record as the official OpenTelemetry SDK's", async () => {
  const server = await TestServer.start();
  try {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5, 999);
    const event = new CliCommandEvent({
      command: "run",
      taskStatus: "success",
      durationMs: 12.5,
      exitCode: 0,
      timestamp: at,
    });
    const ours = otlp(server.url("/ours"), { resource: { "deployment.environment": "test" } });
    ours.enqueue(event);
    await ours.stop();
    assert.equal(ours.stats().sent, 1);
    const mine = normalized(server.requests[0].body);

    // The official SDK, given the same resource, scope and record, as an OpenTelemetry user would emit them.
    const resource = Object.fromEntries(
      Object.entries(mine[0].resource).map(([key, v]) => [key, Object.values(v as object)[0]]),
    );
    const exporter = new OTLPLogExporter({ url: server.url("/official") });
    const provider = new LoggerProvider({
      resource: resourceFromAttributes(resource),
      processors: [new SimpleLogRecordProcessor({ exporter })],
    });
    const { name, version } = mine[0].scopeLogs[0].scope;
    provider.getLogger(name, version).emit({
      eventName: "nat_cli_command",
      timestamp: at,
      attributes: { ...event.parameters(), "nat.event.schema_version": "1.5" },
    });
    await provider.forceFlush();
    await provider.shutdown();
    const official = server.requests.find((request) => request.path === "/official");
    assert.ok(official, "the SDK's request arrived");
    assert.deepEqual(mine, normalized(official.body));
    assert.equal(server.requests[0].headers["content-type"], "application/json");
    // Where the SDK and the specification differ: OTLP/JSON spells 64-bit integers as decimal strings, which
    // receivers must accept; the SDK writes numbers. We follow the specification.
    assert.match(server.requests[0].body, /"key":"exitCode","value":\{"intValue":"0"\}/);
  } finally {
    await server.close();
  }
});

test("the resource says who sent it, as the NAT envelope does: service, version, session, arch, runtime", async () => {
  await withServer(async (server) => {
    const handler = otlp(server.url(), { sourceClientVersion: "1.2.3", resource: { "service.name": "my-cli" } });
    handler.enqueue(commandEvent("run"));
    await handler.stop();
    const [{ resource }] = normalized(server.requests[0].body);
    for (const key of ["host.arch", "process.runtime.name", "process.runtime.version", "telemetry.sdk.version"]) {
      assert.ok(key in resource, key);
    }
    assert.deepEqual(
      [resource["service.name"], resource["service.version"], resource["session.id"], resource["telemetry.sdk.name"]],
      [{ stringValue: "my-cli" }, { stringValue: "1.2.3" }, { stringValue: "sess-1" }, {
        stringValue: "@nat/telemetry",
      }],
    );
    assert.deepEqual(records(server.requests[0]).map((record) => record.eventName), ["nat_cli_command"]);
  });
});

test("a partial success counts its rejected records as otlp_rejected, never retried", async () => {
  await withServer(async (server) => {
    server.reply({ status: 200, body: '{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"one bad"}}' });
    const handler = otlp(server.url());
    for (const name of ["a", "b", "c"]) handler.enqueue(commandEvent(name));
    await handler.flush();
    await handler.flush();
    assert.equal(server.requests.length, 1, "nothing is resent");
    assert.deepEqual(handler.stats(), {
      enqueued: 3,
      replayed: 0,
      sent: 2,
      dropped: { otlp_rejected: 1 },
      queued: 0,
      dlq: 0,
      inFlight: 0,
      spooled: 0,
    });
    await handler.stop();
  });
});

test("a 2xx is a delivery even when its body is cut short or stalls: sent once, the endpoint not marked down", async () => {
  const partial = '{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"one bad"}}';
  for (const reply of [{ destroy: "mid-body" as const }, { stallMidBody: true }]) {
    await withServer(async (server) => {
      server.reply({ status: 200, body: partial, ...reply });
      using dir = tempDir();
      const handler = otlp(server.url(), { spoolDir: dir.path, requestTimeoutSeconds: 0.5 });
      handler.enqueue(commandEvent("a"));
      await handler.flush();
      await handler.flush();
      assert.equal(server.requests.length, 1, `${JSON.stringify(reply)}: nothing is resent`);
      assert.equal(handler.stats().sent, 1, "delivered, the partial success unread");
      await handler.stop();
      assert.equal(handler.stats().spooled, 0);
    });
  }
});

test("a partial success is read from a server that compresses what a request does not refuse", async () => {
  const partial = '{"partialSuccess":{"rejectedLogRecords":"1"}}';
  // As HTTP lets a server do: no Accept-Encoding means any coding will do.
  const server = await TestServer.start(({ headers }) =>
    /^identity$/.test(headers["accept-encoding"] ?? "")
      ? { status: 200, body: partial }
      : { status: 200, body: gzipSync(partial), headers: { "content-encoding": "gzip" } }
  );
  try {
    const handler = otlp(server.url());
    for (const name of ["a", "b", "c"]) handler.enqueue(commandEvent(name));
    await handler.flush();
    const { sent, dropped } = handler.stats();
    assert.deepEqual({ sent, dropped }, { sent: 2, dropped: { otlp_rejected: 1 } });
    await handler.stop();
  } finally {
    await server.close();
  }
});

test("a 2xx whose body still comes when stop()'s budget ends is a delivery: not sent again, the endpoint not marked down", async () => {
  await withServer(async (server) => {
    server.reply({ status: 200, body: '{"partialSuccess":{}}', stallMidBody: true });
    using dir = tempDir();
    // The defaults' shape: the exit budget no longer than a request's own timeout, so the budget ends first.
    const handler = otlp(server.url(), { spoolDir: dir.path, requestTimeoutSeconds: 0.5, handOff: false });
    for (const name of ["a", "b", "c"]) handler.enqueue(commandEvent(name));
    await handler.stop();
    assert.equal(server.requests.length, 1);
    const { sent, spooled, dropped } = handler.stats();
    assert.deepEqual({ sent, spooled, dropped }, { sent: 3, spooled: 0, dropped: {} });
    assert.deepEqual(
      readdirSync(dir.path).filter((name) => !name.startsWith("sender-")),
      [],
      "no spool, no health file",
    );
  });
});

test("only 429, 502, 503, 504 and a proxy's 407 are retried (after Retry-After); 400 and 500 are dropped; 413 splits", async () => {
  await withServer(async (server) => {
    const clock = { now: Date.now() };
    const handler = otlp(server.url(), { clock: () => clock.now, backoffInitialSeconds: 10 });
    server.reply(
      { status: 429, headers: { "retry-after": "30" } },
      { status: 503 },
      { status: 407 },
      { status: 400 },
      { status: 500 },
    );
    for (const status of [429, 503, 407, 400, 500]) {
      handler.enqueue(commandEvent(`s${status}`));
      await handler.flush();
    }
    assert.deepEqual(handler.stats().dropped, { http_400: 1, http_500: 1 });
    assert.equal(handler.stats().dlq, 3, "429, 503 and 407 wait for a retry");
    await handler.flush();
    assert.equal(server.requests.length, 5, "not before Retry-After and the backoff");
    clock.now += 3_600_000;
    await handler.flush();
    const retried = server.requests.slice(5).flatMap(records).map((record) => normalizedCommand(record));
    assert.deepEqual(retried.sort(), ["s407", "s429", "s503"]);
    assert.equal(handler.stats().sent, 3);

    server.respond((request) => ({ status: records(request).length > 1 ? 413 : 200 }));
    for (const name of ["x", "y", "z"]) handler.enqueue(commandEvent(name));
    await handler.flush();
    assert.equal(handler.stats().sent, 6, "split down to one record per request");
    await handler.stop();
  });
});

test("headers: the option and OTEL_EXPORTER_OTLP_(LOGS_)HEADERS, percent-decoded; never sent through a redirect", async () => {
  assert.deepEqual(parseOtelList("api-key=a%20b%2Cc, x = 1 ,bad,=no,%E0%A4%A=skipped"), { "api-key": "a b,c", x: "1" });
  const elsewhere = await TestServer.start();
  const server = await TestServer.start((request) =>
    request.path === "/moved" ? { status: 307, headers: { location: elsewhere.url() } } : { status: 200 }
  );
  try {
    const handler = otlp(server.url(), { headers: { authorization: "Bearer secret" } });
    handler.enqueue(commandEvent("direct"));
    await handler.flush();
    assert.equal(server.requests[0].headers.authorization, "Bearer secret");
    const moved = otlp(server.url("/moved"), { headers: { authorization: "Bearer secret" } });
    moved.enqueue(commandEvent("redirected"));
    await moved.stop();
    assert.equal(elsewhere.requests.length, 1, "the redirect was followed");
    assert.equal(elsewhere.requests[0].headers.authorization, undefined, "without the credentials");
    await handler.stop();
  } finally {
    await server.close();
    await elsewhere.close();
  }
});

test("NAT_TELEMETRY_FORMAT=otlp with OTEL_EXPORTER_OTLP_ENDPOINT posts to its /v1/logs with its headers (blanks around it are not the URL's)", async () => {
  await withServer(async (server) => {
    const run = await runChild("settings_child.ts", {
      env: {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_ENDPOINT: undefined,
        NAT_TELEMETRY_FORMAT: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: ` ${server.url("/otel/")}\t`, // as a .env file or a YAML value leaves it
        OTEL_EXPORTER_OTLP_HEADERS: "x-team=cli%20tools",
        OTEL_SERVICE_NAME: "their-cli",
        // The machine's, as Kubernetes' operator sets it: only what names the service is sent.
        OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=staging,host.name=ada-laptop,user.name=ada," +
          "k8s.pod.name=billing-7f9c,service.instance.id=5f1e0c2a,service.namespace=tools",
      },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(server.requests[0].path, "/otel/v1/logs");
    assert.equal(server.requests[0].headers["x-team"], "cli tools");
    const [{ resource }] = normalized(server.requests[0].body);
    assert.deepEqual(resource["service.name"], { stringValue: "their-cli" });
    assert.deepEqual(resource["deployment.environment"], { stringValue: "staging" });
    assert.deepEqual(resource["service.namespace"], { stringValue: "tools" });
    for (const key of ["host.name", "user.name", "k8s.pod.name", "service.instance.id"]) {
      assert.equal(resource[key], undefined, `${key} is not sent`);
    }
    assert.doesNotMatch(server.requests[0].body, /ada|billing|5f1e0c2a/, "nor any of their values");
  });
});

test("the user's OTEL_* headers and service go to the endpoint the environment names, never to one the program names", async () => {
  await withServer(async (server) => {
    const users = {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: undefined,
      NAT_TELEMETRY_FORMAT: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: server.url("/theirs"), // the user's own collector, and its key
      OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=S3CRET",
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: "authorization=Bearer%20S3CRET",
      OTEL_SERVICE_NAME: "acme-payments",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod",
    };
    // The program names its vendor's endpoint in code: the user's settings are for the user's pipeline.
    const run = await runChild("settings_child.ts", { args: [server.url("/vendor/v1/logs")], env: users });
    assert.equal(run.code, 0, run.stderr);
    const [vendor] = server.requests;
    assert.equal(vendor.path, "/vendor/v1/logs");
    assert.equal(vendor.headers["x-honeycomb-team"], undefined);
    assert.equal(vendor.headers.authorization, undefined);
    const [{ resource }] = normalized(vendor.body);
    assert.deepEqual(resource["service.name"], { stringValue: "nat-cli" });
    assert.equal(resource["deployment.environment"], undefined);
    assert.doesNotMatch(vendor.body, /S3CRET|acme|prod/);
    // Where the environment names it, they go with it.
    const own = await runChild("settings_child.ts", { env: users });
    assert.equal(own.code, 0, own.stderr);
    const theirs = server.requests[1];
    assert.deepEqual([theirs.path, theirs.headers["x-honeycomb-team"]], ["/theirs/v1/logs", "S3CRET"]);
    assert.equal(theirs.headers.authorization, "Bearer S3CRET");
    assert.deepEqual(normalized(theirs.body)[0].resource["service.name"], { stringValue: "acme-payments" });
  });
});

test("OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: the logs path goes on its path, before a query it has", () => {
  const from = (value: string) =>
    otlpEndpointFromEnv((name) => name === "OTEL_EXPORTER_OTLP_ENDPOINT" ? value : undefined).endpoint;
  assert.equal(from("http://collector:4318"), "http://collector:4318/v1/logs");
  assert.equal(from("https://collector.example/otel/"), "https://collector.example/otel/v1/logs");
  assert.equal(from("https://collector.example/otel?tenant=a"), "https://collector.example/otel/v1/logs?tenant=a");
  assert.equal(from("https://collector.example/?tenant=a#x"), "https://collector.example/v1/logs?tenant=a#x");
  assert.equal(from(" \t"), undefined, "blanks alone are none");
});

test("events spooled for OTLP are replayed only by OTLP runs to the same endpoint", async () => {
  using dir = tempDir();
  const down = await TestServer.start();
  const url = down.url();
  await down.close();
  const offline = otlp(url, { spoolDir: dir.path, exitTimeoutSeconds: 1 });
  offline.enqueue(commandEvent("spooled-otlp"));
  await offline.stop();
  assert.equal(offline.stats().spooled, 1);
  const back = await TestServer.start(undefined, undefined, Number(new URL(url).port));
  try {
    const health = (await import("node:fs")).readdirSync(dir.path).filter((name) => name.startsWith("health-"));
    for (const name of health) (await import("node:fs")).rmSync(`${dir.path}/${name}`);
    const nat = new NATTelemetryHandler({ endpoint: url, spoolDir: dir.path });
    nat.start();
    await nat.stop();
    assert.equal(back.requests.length, 0, "a NAT run leaves OTLP events alone");
    const again = otlp(url, { spoolDir: dir.path });
    again.start();
    await again.stop();
    assert.deepEqual(records(back.requests[0]).length, 1);
  } finally {
    await back.close();
  }
});

test("the collector takes OTLP at /v1/logs, prints the same line as for NAT, and says why it rejects one", async () => {
  const lines: string[] = [];
  const collector = await startCollector({ log: (line) => lines.push(line) });
  try {
    const url = collector.otlpUrl;
    const handler = otlp(url, { sessionId: "abcdef0123456789" });
    handler.enqueue(commandEvent("run"));
    await handler.stop();
    assert.equal(handler.stats().sent, 1);
    assert.match(lines[0], /nat_cli_command run success exit=0 5ms (deno|node|bun)\/\S+ session=abcdef01$/);
    const bad = await fetch(url, { method: "POST", body: '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{}]}]}]}' });
    assert.equal(bad.status, 422);
    assert.match(await bad.text(), /timeUnixNano/);
  } finally {
    await collector.close();
  }
  assert.equal(readOtlpLogs("{").status, 400);
  assert.equal(readOtlpLogs('{"resourceLogs":[]}').status, 422);
});

test("the collector keeps an OTLP attribute named __proto__ as a parameter, as it does for NAT", async () => {
  const collector = await startCollector();
  try {
    const handler = otlp(collector.otlpUrl);
    handler.enqueue(new AnyEvent(() => JSON.parse('{"__proto__":"x","command":"odd"}')));
    await handler.stop();
    assert.equal(handler.stats().sent, 1);
    const { parameters } = collector.events.at(-1)!;
    assert.equal(Object.getOwnPropertyDescriptor(parameters, "__proto__")?.value, "x");
    assert.equal(Object.getPrototypeOf(parameters), Object.prototype);
  } finally {
    await collector.close();
  }
});
