import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import process from "node:process";
import {
  CLIENT_VERSION,
  NATTelemetryHandler,
  type NATTelemetryHandlerOptions,
  setTelemetryEnabled,
  type TelemetryStats,
} from "../mod.ts";
import { host, runtimeInfo } from "../src/runtime/mod.ts";
import { SENDER_SCRIPT_NAME } from "../src/sender_script_name.ts";
import { Spool, spoolKey } from "../src/spool.ts";
import { backlogKey } from "../src/backlog.ts";
import { resolveOptions } from "../src/options.ts";
import { dropsRecords } from "../src/drops_record.ts";
import { commandEvent, commands, droppedTotal } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { files, forgetHealth, spooled, spoolEvent, tempDir } from "./helpers/spool_dir.ts";
import { waitFor } from "./helpers/wait.ts";
import { fixturePath, runChild } from "./helpers/child.ts";
import { sendersGone } from "./helpers/handoff.ts";

setTelemetryEnabled(true);

/** A refused endpoint: a port that was just closed. */
async function refusedUrl(): Promise<string> {
  const server = await TestServer.start();
  await server.close();
  return server.url();
}

/** The endpoint that was down comes back, at the same URL (spooled events belong to their endpoint). */
function comeBack(url: string, responder?: Parameters<typeof TestServer.start>[0]): Promise<TestServer> {
  return TestServer.start(responder, undefined, Number(new URL(url).port));
}

function handler(spoolDir: string, endpoint: string, options: NATTelemetryHandlerOptions = {}) {
  return new NATTelemetryHandler({ spoolDir, endpoint, exitTimeoutSeconds: 1, ...options });
}

/**
 * Writes one session's events into the spool, in one file, as a run that spooled them at `at` would (`cuts`: how many
 * requests carrying them runs ended before the answer).
 */
function spoolSession(dir: string, url: string, commands: string[], at: number, cuts = 0): void {
  const limits = { maxEvents: 1000, maxBytes: 1 << 20, maxAgeMs: 86_400_000 };
  const spool = Spool.open(dir, host().files!, limits, spoolKey(url))!;
  const ts = new Date(at).toISOString();
  spool.write(
    commands.map((command) => ({
      json: JSON.stringify({ ts, parameters: { command }, name: "nat_cli_command" }),
      schemaVersion: "1.5",
      sessionId: "s",
      retries: 0,
      timestamp: at,
      cuts,
    })),
    at,
  );
}

/** The locks and start marks of senders in a spool directory (not their scripts): what a sender started leaves. */
function senderTraces(dir: string): string[] {
  return files(dir).filter((name) => name.startsWith("sender-") && !name.endsWith(".mjs"));
}

/** The claims in a spool whose lease has ended by `now`: what another run could take over. */
function lapsedClaims(dir: string, now: number): string[] {
  return files(dir).filter((name) => name.startsWith("l-") && Number(name.split("-")[1]) <= now);
}

/**
 * A running handler on a fake clock whose first flush, of one event ("own"), failed: the endpoint's pause on record is
 * its own, and its own backoff (0.75 s, the jitter at its middle) ends well within it.
 */
async function failedOnce(dir: string, url: string, clock: { now: number }, options: NATTelemetryHandlerOptions = {}) {
  const running = handler(dir, url, { clock: () => clock.now, random: () => 0.5, backoffMaxSeconds: 2, ...options });
  running.enqueue(commandEvent("own"));
  await running.flush();
  return running;
}

function assertBalanced(stats: TelemetryStats) {
  const out = stats.sent + droppedTotal(stats.dropped) + stats.queued + stats.dlq + stats.inFlight + stats.spooled;
  assert.equal(stats.enqueued + stats.replayed, out, JSON.stringify(stats));
}

test("stop() spools what it could not deliver; the next handler delivers it with its timestamp and retry count", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const down = handler(dir.path, endpoint);
  down.enqueue(commandEvent("offline"));
  await down.stop();
  assert.equal(down.stats().spooled, 1);
  assertBalanced(down.stats());
  const [line] = spooled(dir.path);
  assert.equal(line.retries, 1);

  const server = await comeBack(endpoint);
  try {
    forgetHealth(dir.path); // as if the wait had passed
    const up = handler(dir.path, endpoint);
    up.enqueue(commandEvent("online"));
    await up.stop();
    assert.deepEqual(commands(server.events()), ["offline", "online"], "the spooled event goes first");
    assert.equal(server.events()[0].ts, line.event.ts, "it keeps its original timestamp");
    assert.deepEqual(up.stats(), {
      enqueued: 1,
      replayed: 1,
      sent: 2,
      dropped: {},
      queued: 0,
      dlq: 0,
      inFlight: 0,
      spooled: 0,
    });
    assert.deepEqual(files(dir.path), [], "delivered events leave the spool");
  } finally {
    await server.close();
  }
});

test("a program whose JSON.stringify indents (a debugging aid) spools each event on one line: a later run delivers it", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const { stringify } = JSON;
  JSON.stringify = (value: unknown, replacer?: never) => `${stringify(value, replacer, 2)}\n`;
  // Headers make the spool's key of more than the endpoint: a sender, in a process of its own, must find the same.
  const handler = (spoolDir: string, url: string) =>
    new NATTelemetryHandler({ spoolDir, endpoint: url, exitTimeoutSeconds: 1, headers: { "x-team": "a" } });
  try {
    const down = handler(dir.path, endpoint);
    down.enqueue(commandEvent("indented"));
    await down.stop();
    assert.equal(down.stats().spooled, 1);
    assert.equal(spooled(dir.path).length, 1, "one line, one event");
    const server = await comeBack(endpoint);
    try {
      forgetHealth(dir.path);
      const up = handler(dir.path, endpoint);
      await up.stop();
      assert.deepEqual(commands(server.events()), ["indented"]);
      assert.deepEqual(up.stats().dropped, {}, "nothing read as corrupt");
      const key = () => backlogKey(resolveOptions({ endpoint, headers: { "x-team": "a" } }));
      const patched = key();
      JSON.stringify = stringify;
      assert.equal(patched, key(), "the key a sender, in a process of its own, computes");
    } finally {
      await server.close();
    }
  } finally {
    JSON.stringify = stringify;
  }
});

test("two programs with a fetch of their own, at the default version: neither's fetch sends the other's events; a link to one is that one", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  // Each program its own script, as two CLIs installed side by side are; both import the same program body.
  const program = (name: string) => {
    const path = `${dir.path}/${name}.mjs`;
    writeFileSync(path, `await import(${JSON.stringify(fixturePath("own_fetch_child.ts"))});\n`);
    // Run through a link too, as a command on PATH is (Node.js and Deno name the script by the link).
    symlinkSync(path, `${dir.path}/${name}-link.mjs`);
    return (mode: "ok" | "fail", via = path) =>
      runChild("", {
        executable: process.execPath,
        args: [...(runtimeInfo().name === "deno" ? ["run", "-A"] : []), via, name, mode],
        env: { NAT_TELEMETRY_ENDPOINT: endpoint, NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool` },
      });
  };
  const [a, b] = [program("program-a"), program("program-b")];
  const spooledByA = await a("fail");
  assert.equal(JSON.parse(spooledByA.stdout).spooled, 1, spooledByA.stderr);
  const server = await comeBack(endpoint);
  forgetHealth(`${dir.path}/spool`); // as if A's wait had passed
  try {
    const byB = await b("ok");
    assert.equal(JSON.parse(byB.stdout).replayed, 0, "B leaves A's event alone");
    const byA = await a("ok", `${dir.path}/program-a-link.mjs`);
    assert.equal(JSON.parse(byA.stdout).replayed, 1, "A, through its link, delivers its own once its network is back");
    const signed = server.requests.flatMap((request) =>
      commands(JSON.parse(request.body).events).map((command) => `${command} by ${request.headers["x-signed-by"]}`)
    );
    assert.deepEqual(signed.sort(), ["program-a by program-a", "program-a by program-a", "program-b by program-b"]);
  } finally {
    await server.close();
  }
});

test("two programs (or versions) sharing a spool and endpoint: each one's events go out under its own name", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const programs = {
    a: { sourceClientVersion: "a-1.0", headers: { "x-tool": "a" } },
    b: { sourceClientVersion: "b-2.0", headers: { "x-tool": "b" } },
    // A program that sends with its own fetch (one that signs its requests): no other program may send its events.
    signed: {
      fetch: (url: string | URL | Request, init?: RequestInit) =>
        fetch(url, { ...init, headers: { ...init?.headers as Record<string, string>, "x-tool": "signed" } }),
    },
    // This package's defaults: their key is the one runs of earlier versions wrote.
    plain: {},
  };
  for (const [name, options] of Object.entries(programs)) {
    const down = handler(dir.path, endpoint, options);
    down.enqueue(commandEvent(`by-${name}`));
    await down.stop();
    assert.equal(down.stats().spooled, 1);
  }
  const keys = files(dir.path).filter((name) => name.startsWith("e-")).map((name) => name.split("-")[4]);
  assert.equal(new Set(keys).size, 4, "four keys");
  assert.ok(files(dir.path).some((name) => name.includes(`-${spoolKey(endpoint)}-`)), "the defaults' key unchanged");

  const server = await comeBack(endpoint);
  try {
    forgetHealth(dir.path);
    const sent = () =>
      server.requests.map((request) => {
        const { clientVer, events } = JSON.parse(request.body);
        return `${request.headers["x-tool"]} ${clientVer} ${
          events.map((e: { parameters: { command: string } }) => e.parameters.command)
        }`;
      });
    for (const name of ["b", "a", "plain", "signed"] as const) {
      const run = handler(dir.path, endpoint, programs[name]);
      await run.stop();
      assert.equal(run.stats().replayed, 1, `${name} replays its own event only`);
    }
    assert.deepEqual(sent(), [
      "b b-2.0 by-b",
      "a a-1.0 by-a",
      `undefined ${CLIENT_VERSION} by-plain`,
      `signed ${CLIENT_VERSION} by-signed`,
    ]);
    assert.deepEqual(files(dir.path), []);
  } finally {
    await server.close();
  }
});

test("one program before and after an upgrade: what the earlier version spooled goes out under its version", async () => {
  for (const format of ["nat", "otlp"] as const) {
    using dir = tempDir();
    const endpoint = await refusedUrl();
    for (const name of ["earlier", "oldest"]) {
      const down = handler(dir.path, endpoint, { format });
      down.enqueue(commandEvent(name));
      await down.stop();
    }
    // As versions before this one left them, under the defaults' key: one that says its version, one that did not.
    for (const name of files(dir.path).filter((name) => name.startsWith("e-"))) {
      const line = JSON.parse(readFileSync(`${dir.path}/${name}`, "utf8"));
      assert.equal(line.clientVersion, CLIENT_VERSION, "a run spools the client version it sends");
      if (line.event.parameters.command === "earlier") line.clientVersion = "0.0.1-earlier";
      else delete line.clientVersion;
      const text = `${JSON.stringify(line)}\n`;
      const parts = name.split("-");
      parts[3] = String(new TextEncoder().encode(text).length); // the name says the file's size
      rmSync(`${dir.path}/${name}`);
      writeFileSync(`${dir.path}/${parts.join("-")}`, text);
    }
    const server = await comeBack(endpoint);
    try {
      forgetHealth(dir.path);
      const up = handler(dir.path, endpoint, { format });
      up.enqueue(commandEvent("now"));
      await up.stop();
      const sent = server.requests.map((request) => {
        const body = JSON.parse(request.body);
        if (format === "nat") {
          return `${body.clientVer} ${
            body.events.map((e: { parameters: { command: string } }) => e.parameters.command)
          }`;
        }
        const [{ resource, scopeLogs }] = body.resourceLogs;
        const version = resource.attributes.find((a: { key: string }) => a.key === "service.version").value.stringValue;
        const commands = scopeLogs[0].logRecords.map((record: { attributes: { key: string; value: unknown }[] }) =>
          (record.attributes.find((a) => a.key === "command")?.value as { stringValue: string }).stringValue
        );
        return `${version} ${commands}`;
      });
      assert.deepEqual(
        sent.sort(),
        ["0.0.1-earlier earlier", `${CLIENT_VERSION} now`, `${CLIENT_VERSION} oldest`].sort(),
        `${format}: each request under the version of the run that recorded its events (unknown: this one's)`,
      );
      assert.deepEqual(files(dir.path).filter((name) => !name.startsWith("health-")), []);
    } finally {
      await server.close();
    }
  }
});

test("a program that sets its own version, upgraded, delivers what its earlier version spooled, under that version", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const earlier = handler(dir.path, endpoint, { sourceClientVersion: "1.4.0" });
  earlier.enqueue(commandEvent("by-earlier"));
  await earlier.stop();
  assert.equal(earlier.stats().spooled, 1);
  const server = await comeBack(endpoint);
  try {
    forgetHealth(dir.path);
    const upgraded = handler(dir.path, endpoint, { sourceClientVersion: "1.5.0" });
    upgraded.enqueue(commandEvent("by-upgraded"));
    await upgraded.stop();
    const sent = server.requests.map((request) => {
      const { clientVer, events } = JSON.parse(request.body);
      return `${clientVer} ${events.map((e: { parameters: { command: string } }) => e.parameters.command)}`;
    });
    assert.deepEqual(sent.sort(), ["1.4.0 by-earlier", "1.5.0 by-upgraded"]);
    assert.deepEqual(files(dir.path), []);
  } finally {
    await server.close();
  }
});

test("while the endpoint is known to be down, a run spools at once without trying", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ hang: true }));
  try {
    const first = handler(dir.path, server.url(), { exitTimeoutSeconds: 2, requestTimeoutSeconds: 1 });
    first.enqueue(commandEvent("first"));
    await first.stop();
    assert.equal(server.requests.length, 1, "the first run tries, and its request times out");
    assert.equal(first.stats().spooled, 1);

    const second = handler(dir.path, server.url(), { exitTimeoutSeconds: 2, requestTimeoutSeconds: 1 });
    second.enqueue(commandEvent("second"));
    const started = Date.now();
    await second.stop();
    assert.ok(Date.now() - started < 1000, "no exit budget (2 s) paid");
    assert.equal(server.requests.length, 1, "the second run does not try");
    assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command).sort(), ["first", "second"]);
    assert.deepEqual(second.stats().replayed, 0, "it does not read the spool either");
  } finally {
    await server.close();
  }
});

test("a program whose own fetch fails keeps its health to itself: another program sharing the spool delivers", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    // Its signing helper throws, say, on this machine: the endpoint never sees a request.
    const failing = handler(dir.path, server.url(), { fetch: () => Promise.reject(new TypeError("no signing key")) });
    failing.enqueue(commandEvent("own"));
    await failing.stop();
    assert.equal(failing.stats().spooled, 1);
    const again = handler(dir.path, server.url(), { fetch: () => Promise.reject(new TypeError("no signing key")) });
    again.enqueue(commandEvent("own-again"));
    await again.stop();
    assert.equal(server.requests.length, 0);
    assert.equal(again.stats().spooled, 1, "its own health holds it back: spooled at once");

    // Another program, with or without a fetch of its own (which works): the endpoint is not down for it.
    const other = handler(dir.path, server.url());
    other.enqueue(commandEvent("other"));
    await other.stop();
    const working = (url: string | URL | Request, init?: RequestInit) => fetch(url, init);
    const another = handler(dir.path, server.url(), { fetch: working, sourceClientVersion: "2.0.0" });
    another.enqueue(commandEvent("another"));
    await another.stop();
    assert.deepEqual(commands(server.events()), ["other", "another"]);
    assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command).sort(), ["own", "own-again"]);
  } finally {
    await server.close();
  }
});

test("while the endpoint is known down, an exit reads the spool's directory once, however many files an outage left, and prepares no sender", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const first = handler(dir.path, endpoint);
  first.enqueue(commandEvent("first"));
  await first.stop(); // refused: the endpoint is now known down
  const [name] = files(dir.path).filter((file) => file.startsWith("e-"));
  const [, time, counts] = /^e-(\d{13})-(.+)-[0-9a-f]{12}\.jsonl$/.exec(name)!; // counts: events, bytes, key
  for (let i = 1; i <= 300; i++) { // an outage's worth of runs, the oldest ten minutes ago
    const older = `e-${Number(time) - 600_000 + i}-${counts}-${String(i).padStart(12, "0")}.jsonl`;
    writeFileSync(`${dir.path}/${older}`, readFileSync(`${dir.path}/${name}`), { mode: 0o600 });
  }
  const guarded = host().files!;
  const list = guarded.list;
  let listed = 0;
  guarded.list = (path) => (listed++, list(path));
  const told: string[] = [];
  try {
    const run = handler(dir.path, endpoint, { handOff: true, logger: (line) => told.push(line) });
    run.enqueue(commandEvent("during"));
    await run.stop();
    assert.equal(run.stats().spooled, 1);
  } finally {
    guarded.list = list;
  }
  assert.equal(listed, 1, "one listing (the bounds' check), not one per question");
  assert.ok(told.includes("[nat-telemetry] at exit: handed off to the spool (endpoint down)"), told.join("\n"));
  assert.equal(spooled(dir.path).length, 302);
  assert.ok(
    !files(dir.path).includes(SENDER_SCRIPT_NAME),
    "no sender's script written for a sender that does not start",
  );
});

for (const when of ["stop()", "a flush before stop()"]) {
  test(`a Retry-After among answers that delivered, at ${when}, holds later runs off too: spooled events lose no wait`, async () => {
    using dir = tempDir();
    const clock = { now: Date.now() };
    // One event a request (each padded to ~1 KB): the first answered 200, the second asked to wait a minute.
    const server = await TestServer.start();
    try {
      server.reply({ status: 200 }, { status: 429, headers: { "retry-after": "60" } });
      const options = { clock: () => clock.now, maxBatchBytes: 2_500 };
      const first = handler(dir.path, server.url(), options);
      first.enqueue(commandEvent("a", 1_000));
      first.enqueue(commandEvent("b", 1_000));
      if (when !== "stop()") await first.flush();
      await first.stop();
      assert.equal(server.requests.length, 2, JSON.stringify(first.stats()));
      assert.deepEqual([first.stats().sent, first.stats().spooled], [1, 1]);
      clock.now += 59_000;
      const early = handler(dir.path, server.url(), options);
      early.enqueue(commandEvent("c"));
      await early.stop();
      assert.equal(server.requests.length, 2, "no request before the server's time, though its endpoint delivered");
      assert.equal(early.stats().spooled, 1);
      clock.now += 1_000;
      const after = handler(dir.path, server.url(), options);
      await after.stop();
      assert.deepEqual(
        commands(server.events()).map((command) => String(command)[0]).sort(),
        ["a", "b", "b", "c"],
        "the event asked to wait, once more, and the one spooled meanwhile",
      );
      assert.deepEqual(files(dir.path), [], "spool drained and health file removed");
    } finally {
      await server.close();
    }
  });
}
test("a running handler keeps a Retry-After among answers that delivered to the events it concerns: others go on", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    server.reply({ status: 200 }, { status: 429, headers: { "retry-after": "3600" } });
    const running = handler(dir.path, server.url(), { maxBatchBytes: 2_500 });
    running.enqueue(commandEvent("a", 1_000));
    running.enqueue(commandEvent("b", 1_000));
    await running.flush();
    assert.equal(server.requests.length, 2);
    running.enqueue(commandEvent("c"));
    await running.flush();
    assert.equal(server.requests.length, 3, "a later event is sent: the endpoint is not held off an hour");
    assert.deepEqual(commands(JSON.parse(server.requests[2].body).events), ["c"]);
    assert.equal(running.stats().dlq, 1, "the event asked to wait waits");
    await running.stop();
  } finally {
    await server.close();
  }
});

test("a running handler tries again after its own backoff, where the endpoint's health keeps new runs off longer", async () => {
  using dir = tempDir();
  const clock = { now: Date.now() };
  const server = await TestServer.start();
  try {
    server.reply({ status: 503 });
    const running = await failedOnce(dir.path, server.url(), clock);
    assert.equal(server.requests.length, 1);
    clock.now += 2_000; // past its own backoff (0.75 s), well within the endpoint's pause (at least 15 s)
    const newRun = handler(dir.path, server.url(), { clock: () => clock.now });
    newRun.enqueue(commandEvent("b"));
    await newRun.stop();
    assert.equal(server.requests.length, 1, "a new run spools without trying");
    await running.flush();
    assert.deepEqual(commands(server.events()), ["own", "own"], "the running handler tried again");
    assert.equal(running.stats().sent, 1);
    assert.deepEqual(files(dir.path).filter((name) => name.startsWith("health-")), [], "its success ends the pause");
    await running.stop();
  } finally {
    await server.close();
  }
});

test("a running handler's probes of an endpoint known down count no retry, record no new failure, replay nothing", async () => {
  using dir = tempDir();
  const clock = { now: Date.now() };
  const server = await TestServer.start(() => ({ status: 503 }));
  try {
    const running = await failedOnce(dir.path, server.url(), clock, { maxRetries: 1 }); // a retry counted
    const health = () => files(dir.path).find((name) => name.startsWith("health-"));
    const failures = () => JSON.parse(readFileSync(`${dir.path}/${health()}`, "utf8")).failures;
    assert.equal(failures(), 1);
    const other = handler(dir.path, server.url(), { clock: () => clock.now });
    other.enqueue(commandEvent("other"));
    await other.stop(); // the endpoint known down: spooled without trying
    for (let probe = 0; probe < 3; probe++) {
      clock.now += 5_000; // past its own backoff, within the endpoint's pause
      await running.flush();
    }
    assert.deepEqual(commands(server.events()), ["own", "own", "own", "own"], "a first attempt, three probes");
    assert.deepEqual(running.stats().dropped, {}, "no retry counted: nothing exhausted");
    assert.equal(failures(), 1, "new runs are held off no longer than before");
    await running.stop();
    assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command).sort(), ["other", "own"]);
  } finally {
    await server.close();
  }
});

test("a running handler does not probe past a wait another process recorded (a server's Retry-After)", async () => {
  using dir = tempDir();
  const clock = { now: Date.now() };
  const server = await TestServer.start(() => ({ status: 503 }));
  try {
    const running = await failedOnce(dir.path, server.url(), clock);
    server.respond(() => ({ status: 429, headers: { "retry-after": "600" } }));
    const other = handler(dir.path, server.url(), { clock: () => clock.now, exitTimeoutSeconds: 1 });
    other.enqueue(commandEvent("other"));
    forgetHealth(dir.path); // so that the other run tries, and is told to wait ten minutes
    await other.stop();
    assert.equal(server.requests.length, 2);
    clock.now += 60_000;
    await running.flush();
    assert.equal(server.requests.length, 2, "the server's wait holds this handler too");
    await running.stop();
    // The other way round: another process records the wait while this handler's request is out; the failure that
    // follows finds it on record, which does not make the pause this handler's own to probe.
    using fresh = tempDir();
    server.respond((request) =>
      commands(JSON.parse(request.body).events)[0] === "unaware"
        ? { status: 503, delayMs: 500 }
        : { status: 429, headers: { "retry-after": "600" } }
    );
    const unaware = handler(fresh.path, server.url(), {
      clock: () => clock.now,
      random: () => 0.5,
      backoffMaxSeconds: 2,
    });
    unaware.enqueue(commandEvent("unaware"));
    const flushing = unaware.flush();
    await waitFor(() => server.requests.length === 3, "its request");
    const first = handler(fresh.path, server.url(), { clock: () => clock.now, exitTimeoutSeconds: 1 });
    first.enqueue(commandEvent("first"));
    await first.stop();
    await flushing;
    assert.equal(server.requests.length, 4);
    clock.now += 60_000;
    await unaware.flush();
    assert.equal(server.requests.length, 4, "the server's wait, on record before its failure, holds it");
    await unaware.stop();
  } finally {
    await server.close();
  }
});

test("a running handler's probe told to wait (Retry-After) waits, even where another run ends the pause meanwhile", async () => {
  using dir = tempDir();
  const clock = { now: Date.now() };
  const server = await TestServer.start(() => ({ status: 503 }));
  try {
    const running = await failedOnce(dir.path, server.url(), clock);
    server.respond(() => ({ status: 429, headers: { "retry-after": "10" } }));
    clock.now += 5_000;
    await running.flush(); // the probe, told to wait ten seconds
    assert.equal(server.requests.length, 2);
    forgetHealth(dir.path); // another run's delivery, or `nat-telemetry flush`
    server.respond(() => ({ status: 200 }));
    clock.now += 1_000;
    await running.flush();
    assert.equal(server.requests.length, 2, "not before the ten seconds");
    clock.now += 10_000;
    await running.flush();
    assert.deepEqual(commands(server.events()), ["own", "own", "own"]);
    await running.stop();
  } finally {
    await server.close();
  }
});

test("a running handler that delivers reads at each flush a wait another process recorded (a server's Retry-After)", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const running = handler(dir.path, server.url());
    running.enqueue(commandEvent("first"));
    await running.flush();
    server.respond(() => ({ status: 429, headers: { "retry-after": "600" } }));
    const other = handler(dir.path, server.url());
    other.enqueue(commandEvent("other"));
    await other.stop();
    assert.equal(server.requests.length, 2);
    running.enqueue(commandEvent("later"));
    await running.flush();
    assert.equal(server.requests.length, 2, "held off with every run");
    await running.stop();
  } finally {
    await server.close();
  }
});

test("a running handler held off by a Retry-After goes on once another run's delivery or `flush` ends the pause", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    server.reply({ status: 503, headers: { "retry-after": "3600" } });
    const running = handler(dir.path, server.url());
    running.enqueue(commandEvent("a"));
    await running.flush();
    running.enqueue(commandEvent("b"));
    await running.flush();
    assert.equal(server.requests.length, 1, "held off");
    forgetHealth(dir.path); // as `nat-telemetry flush` does, or a run that delivered
    await running.flush();
    assert.deepEqual(commands(server.events()), ["a", "b"], "the events not held by their own Retry-After");
    await running.stop();
  } finally {
    await server.close();
  }
});

test("after the wait one run probes; success clears the health state and drains the spool", async () => {
  using dir = tempDir();
  const clock = { now: Date.now() };
  const server = await TestServer.start();
  try {
    server.reply({ status: 503, headers: { "retry-after": "120" } });
    const first = handler(dir.path, server.url(), { clock: () => clock.now });
    first.enqueue(commandEvent("a"));
    await first.stop();
    assert.equal(first.stats().spooled, 1);
    clock.now += 119_000;
    const early = handler(dir.path, server.url(), { clock: () => clock.now });
    early.enqueue(commandEvent("b"));
    await early.stop();
    assert.equal(server.requests.length, 1, "Retry-After holds the next runs off");
    clock.now += 1_000;
    const probe = handler(dir.path, server.url(), { clock: () => clock.now });
    probe.enqueue(commandEvent("c"));
    await probe.stop();
    assert.deepEqual(commands(server.events()).sort(), ["a", "a", "b", "c"]);
    assert.deepEqual(files(dir.path), [], "spool drained and health file removed");
    assertBalanced(probe.stats());
  } finally {
    await server.close();
  }
});

test("a spooled file is deleted only after a 2xx: it survives while its events are in flight", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const seed = handler(dir.path, endpoint);
  seed.enqueue(commandEvent("spooled"));
  await seed.stop();
  forgetHealth(dir.path);
  const server = await comeBack(endpoint, () => ({ status: 200, delayMs: 200 }));
  try {
    const replayer = handler(dir.path, endpoint);
    replayer.enqueue(commandEvent("x"));
    const flushing = replayer.flush();
    await waitFor(() => server.requests.length === 1, "the request");
    assert.equal(files(dir.path).length, 1);
    assert.match(files(dir.path)[0], /^l-/, "claimed while in flight, not deleted");
    await flushing;
    assert.deepEqual(files(dir.path), []);
    await replayer.stop();
  } finally {
    await server.close();
  }
});

test("retry limits hold across runs: a spooled event past maxRetries is dropped, not resent forever", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 500 }));
  const clock = { now: Date.now() };
  try {
    for (let run = 0; run < 4; run++) {
      clock.now += 7_200_000; // past any circuit wait
      const h = handler(dir.path, server.url(), { maxRetries: 2, clock: () => clock.now });
      if (run === 0) h.enqueue(commandEvent("doomed"));
      else h.start();
      await h.stop();
      assertBalanced(h.stats());
      if (run === 2) assert.deepEqual(h.stats().dropped, { retries_exhausted: 1 });
    }
    assert.equal(server.requests.length, 3, "one try and two retries, over three runs");
    assert.deepEqual(spooled(dir.path), []);
  } finally {
    await server.close();
  }
});

test("a spooled event larger than the handler's bound (written by hand) is dropped as event_too_large, not sent", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    spoolEvent(dir.path, server.url(), "x".repeat(600_000), "s", 1);
    spoolEvent(dir.path, server.url(), "fits", "s", 2);
    const replayer = handler(dir.path, server.url());
    replayer.start();
    await replayer.stop();
    assert.deepEqual(replayer.stats().dropped, { event_too_large: 1 });
    assertBalanced(replayer.stats());
    assert.deepEqual(commands(server.events()), ["fits"]);
    assert.ok(server.requests.every((request) => request.body.length <= 500_000), "no request over maxBatchBytes");
    assert.deepEqual(spooled(dir.path), [], "its file is gone");
  } finally {
    await server.close();
  }
});

test("spooled events are held to the replaying handler's maxBatchBytes, their envelope and format included", async () => {
  for (const format of ["nat", "otlp"] as const) {
    using dir = tempDir();
    const server = await TestServer.start();
    try {
      const maxBatchBytes = 1_500;
      const options = { maxBatchBytes, format };
      const key = backlogKey(resolveOptions({ ...options, endpoint: server.url(), spoolDir: dir.path }));
      /** A line as another program (larger bounds, a longer session) spooled it. */
      const plant = (n: number, sessionId: string, parameters: Record<string, unknown>) => {
        const timestamp = Date.now() - 1000 - n;
        const event = { ts: new Date(timestamp).toISOString(), parameters, name: "nat_cli_command" };
        const line = `${JSON.stringify({ retries: 0, schemaVersion: "1.5", sessionId, timestamp, event })}\n`;
        writeFileSync(`${dir.path}/e-${timestamp}-1-${line.length}-${key}-${String(n).padStart(12, "0")}.jsonl`, line);
      };
      plant(1, "s", { command: "fits" });
      plant(2, "x".repeat(1_200), { command: "long session" }); // its envelope alone nearly fills the bound
      plant(3, "s", Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, i]))); // an OTLP record 4x its JSON
      const replayer = handler(dir.path, server.url(), options);
      replayer.start();
      await replayer.stop();
      const { dropped, sent } = replayer.stats();
      assert.equal(sent + (dropped.event_too_large ?? 0), 3, `${format}: ${JSON.stringify(replayer.stats())}`);
      assert.ok(sent >= 1, `${format}: the event that fits is sent`);
      assert.ok(dropped.event_too_large >= 1, `${format}: the long session's event at least`);
      const largest = Math.max(...server.requests.map(({ body }) => new TextEncoder().encode(body).length));
      assert.ok(largest <= maxBatchBytes, `${format}: a body of ${largest} bytes`);
      assert.deepEqual(spooled(dir.path), [], `${format}: every file settled`);
    } finally {
      await server.close();
    }
  }
});

test("replay takes only what fits in memory; the rest waits in the spool", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  for (let i = 0; i < 3; i++) {
    const h = handler(dir.path, endpoint);
    for (let j = 0; j < 2; j++) h.enqueue(commandEvent(`r${i}-${j}`));
    h.start();
    await h.stop();
    forgetHealth(dir.path);
  }
  const server = await comeBack(endpoint);
  try {
    const small = handler(dir.path, endpoint, { maxBufferedEvents: 5 });
    small.enqueue(commandEvent("own"));
    await small.stop();
    assert.equal(small.stats().replayed, 4, "four spooled events fit beside the own one");
    assert.equal(small.stats().sent, 5);
    assert.equal(spooled(dir.path).length, 2, "the rest waits in the spool for a later run");
  } finally {
    await server.close();
  }
});

for (const maxBufferedEvents of [1000, 5]) {
  test(`an outage's backlog that would fill the buffer (${maxBufferedEvents}) leaves room for the run's own event: the oldest wait`, async () => {
    using dir = tempDir();
    const endpoint = await refusedUrl(); // down, and no run has found it so yet
    spoolSession(dir.path, endpoint, Array.from({ length: 1000 }, (_, i) => `old${i}`), Date.now() - 60_000);
    const run = handler(dir.path, endpoint, { maxBufferedEvents });
    await run.flush(); // takes what earlier runs left, as a run's first flush does
    run.enqueue(commandEvent("own"));
    await run.stop();
    // The oldest event went as the spool took the run's own, not the run's own as the buffer was full.
    assert.deepEqual(run.stats().dropped, { spool_full: 1 });
    const commands = spooled(dir.path).map((line) => line.event.parameters.command);
    assert.deepEqual([commands.length, commands.includes("own")], [1000, true]);
  });
}

test("what exits cut: the flush a run starts with holds it, a periodic one sends what one cut, the program's the rest", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    spoolSession(dir.path, server.url(), ["spooled"], Date.now() - 60_000);
    spoolSession(dir.path, server.url(), ["cut once"], Date.now() - 60_000, 1);
    spoolSession(dir.path, server.url(), ["cut twice"], Date.now() - 60_000, 2);
    // Its exit would deliver (no sender): it starts at once, and flushes every 50 ms.
    const run = handler(dir.path, server.url(), { handOff: false, flushIntervalSeconds: 0.05 });
    run.start();
    await waitFor(() => server.events().length > 0, "the first flush's request");
    // A command that ended now would cut a request again, and each run would send it once more: held back.
    assert.deepEqual(commands(server.events()), ["spooled"]);
    await waitFor(() => server.events().length > 1, "a periodic flush's request");
    await new Promise((resolve) => setTimeout(resolve, 200)); // more periodic flushes
    // A long-lived program sends what an earlier run's exit cut, not what its own flushes keep losing to exits.
    assert.deepEqual(commands(server.events()), ["spooled", "cut once"]);
    await run.flush(); // the program's own
    assert.deepEqual(commands(server.events()), ["spooled", "cut once", "cut twice"]);
    await run.stop();
  } finally {
    await server.close();
  }
});

test("the flush enqueued events ask for, while a command works, holds what exits cut as the one the run starts with", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    spoolSession(dir.path, server.url(), ["cut once"], Date.now() - 60_000, 1);
    const run = handler(dir.path, server.url(), { handOff: false, maxQueueSize: 1 });
    run.start();
    run.enqueue(commandEvent("own")); // in the same turn: a full queue asks for a flush
    await waitFor(() => server.events().length > 0, "the own event's request");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(commands(server.events()), ["own"]);
    await run.stop();
    assert.deepEqual(commands(server.events()), ["own", "cut once"], "the stop sends it");
  } finally {
    await server.close();
  }
});

test("a request the exit budget cuts counts a retry: an endpoint slower than it gets an event maxRetries + 1 times", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 200, delayMs: 5_000 }));
  try {
    // Each run's stop sends what earlier runs' stops could not end: without the count, once more from every run. A
    // cut counts where the request ran 90% of what the budget could give it: a budget of seconds leaves its start
    // 300 ms (of 0.3 s, 30 ms: on a loaded machine the request started later, and the event went a third time).
    const options = { handOff: false, maxRetries: 1, exitTimeoutSeconds: 3, requestTimeoutSeconds: 4 };
    const runs: TelemetryStats[] = [];
    for (const command of ["first", "second", "third"]) {
      const run = handler(dir.path, server.url(), options);
      run.enqueue(commandEvent(command));
      await run.stop();
      runs.push(run.stats());
    }
    await waitFor(() => server.events().length >= 5, "the runs' requests to arrive");
    assert.deepEqual(commands(server.events()), ["first", "first", "second", "second", "third"]);
    assert.deepEqual(runs.map(({ dropped }) => dropped), [{}, { retries_exhausted: 1 }, { retries_exhausted: 1 }]);
    assert.deepEqual(spooled(dir.path).map((line) => [line.event.parameters.command, line.retries]), [["third", 1]]);
  } finally {
    await server.close();
  }
});

test("a request no exit budget waited for counts no retry: with exitTimeoutSeconds 0, what is in flight is spooled", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 200, delayMs: 500 }));
  try {
    const run = handler(dir.path, server.url(), { handOff: false, maxRetries: 0, exitTimeoutSeconds: 0 });
    run.enqueue(commandEvent("own"));
    void run.flush();
    await waitFor(() => run.stats().inFlight === 1, "the request to start");
    await run.stop();
    assert.deepEqual(run.stats().dropped, {});
    assert.deepEqual(spooled(dir.path).map((line) => [line.event.parameters.command, line.retries]), [["own", 0]]);
  } finally {
    await server.close();
  }
});

test("an event the spool's bound cannot hold alone is delivered in process, not handed off to be dropped", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    // spoolMaxBytes: 256, meant as kilobytes: a command event takes some 300 bytes in the spool.
    const run = handler(dir.path, server.url(), { handOff: true, spoolMaxBytes: 256 });
    run.enqueue(commandEvent("own"));
    await run.stop();
    assert.deepEqual(commands(server.events()), ["own"]);
    assert.deepEqual([run.stats().dropped, run.stats().spooled], [{}, 0]);
    assert.deepEqual(senderTraces(dir.path), [], "no sender started");
  } finally {
    await server.close();
  }
});

test("events the spool's bounds cannot hold together are delivered in process at a stop: none dropped", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    // 20 events, a spool of 10 (spoolMaxEvents); then 3 that fit alone, not together (spoolMaxBytes).
    const many = handler(dir.path, server.url(), { handOff: true, spoolMaxEvents: 10 });
    for (let i = 0; i < 20; i++) many.enqueue(commandEvent(`many-${i}`));
    await many.stop();
    const few = handler(dir.path, server.url(), { handOff: true, spoolMaxBytes: 800 });
    for (let i = 0; i < 3; i++) few.enqueue(commandEvent(`few-${i}`));
    await few.stop();
    assert.equal(new Set(commands(server.events())).size, 23);
    for (const run of [many, few]) assert.deepEqual([run.stats().dropped, run.stats().spooled], [{}, 0]);
    assert.deepEqual(senderTraces(dir.path), [], "no sender started");
  } finally {
    await server.close();
  }
});

test("a flush asked for before or after a stop that hands off sends nothing: the sender has the events, the run ends", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ delayMs: 1500 })); // in process, it would hold the run 1.5 s
  try {
    // A full queue starts a flush (maxQueueSize), as one the program did not await does; the stop comes first.
    const full = handler(dir.path, server.url(), { handOff: true, maxQueueSize: 2 });
    full.enqueue(commandEvent("full-0"));
    full.enqueue(commandEvent("full-1"));
    await full.stop();
    const asked = handler(dir.path, server.url(), { handOff: true });
    asked.enqueue(commandEvent("asked"));
    void asked.flush();
    await asked.stop();
    // Nor does one asked for after, at once: it sends what the program records since, not what it gave the sender.
    const after = Promise.all([full.flush(), asked.flush()]);
    await new Promise((resolve) => setTimeout(resolve, 100)); // where those flushes would have started
    for (const run of [full, asked]) {
      assert.deepEqual([run.stats().replayed, run.stats().inFlight], [0, 0], "no spool file taken back");
    }
    await after;
    await waitFor(() => server.events().length === 3, "the sender's delivery", 20_000);
    await sendersGone(dir.path);
    assert.deepEqual(commands(server.events()).sort(), ["asked", "full-0", "full-1"]);
  } finally {
    await server.close();
  }
});

test("a flush asked for while stop() runs is that stop: what it holds goes where the stop sends it, each event once", async () => {
  const server = await TestServer.start(() => ({ status: 200, delayMs: 300 }));
  try {
    // The program's flush in flight as the stop starts, which waits for it (and hands off); or the stop's own final
    // flush in flight (no hand-off). A logger, a timer or a full queue then records one more event and flushes.
    for (const handOff of [true, false]) {
      using dir = tempDir();
      const h = handler(dir.path, server.url(), { handOff, exitTimeoutSeconds: 5, maxQueueSize: 2 });
      h.enqueue(commandEvent(`before-${handOff}`));
      if (handOff) void h.flush();
      await waitFor(() => h.stats().inFlight === 1 || !handOff, "the program's request");
      const stopped = h.stop();
      await waitFor(() => h.stats().inFlight === 1, "a request in flight");
      h.enqueue(commandEvent(`meanwhile-${handOff}`));
      h.enqueue(commandEvent(`full-${handOff}`)); // past maxQueueSize: a flush of its own, as a full queue asks
      const asked = h.flush();
      await stopped;
      await asked; // settled with the stop
      await waitFor(() => h.stats().inFlight === 0, "every answer");
      assert.deepEqual([h.stats().sent, h.stats().spooled], [1, 2], `handOff ${handOff}`);
      assertBalanced(h.stats());
      await sendersGone(dir.path);
      const next = handler(dir.path, server.url(), { handOff: false }); // what no sender took, a later run sends
      await next.stop();
      assert.deepEqual(spooled(dir.path), []);
    }
    await waitFor(() => server.events().length === 6, "every event");
    await new Promise((resolve) => setTimeout(resolve, 300)); // an event sent twice would have arrived by now
    const expected = ["before", "meanwhile", "full"].flatMap((name) => [`${name}-true`, `${name}-false`]);
    assert.deepEqual(commands(server.events()).sort(), expected.sort());
  } finally {
    await server.close();
  }
});

test("a spool directory that disappears is counted as spool_unavailable, never thrown", async () => {
  using dir = tempDir();
  const h = handler(`${dir.path}/spool`, await refusedUrl());
  h.enqueue(commandEvent("x"));
  await h.flush();
  rmSync(`${dir.path}/spool`, { recursive: true });
  await h.stop();
  assert.deepEqual(h.stats().dropped, { spool_unavailable: 1 });
  assertBalanced(h.stats());
});

test("a full disk loses none of what earlier runs spooled: a run that cannot spool again gives their files back", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const earlier = handler(dir.path, endpoint);
  for (const name of ["a", "b", "c"]) earlier.enqueue(commandEvent(name));
  await earlier.stop();
  const [file] = files(dir.path).filter((name) => name.startsWith("e-"));
  forgetHealth(dir.path); // the wait is over: the next run takes the spooled events and tries the endpoint
  const guarded = host().files!;
  const create = guarded.create;
  guarded.create = () => {
    throw Object.assign(new Error("ENOSPC: no space left on device, open"), { code: "ENOSPC" });
  };
  const told: string[] = [];
  const later = handler(dir.path, endpoint, { logger: (line) => told.push(line) });
  try {
    later.enqueue(commandEvent("d"));
    await later.stop();
  } finally {
    guarded.create = create;
  }
  assert.equal(later.stats().replayed, 3, "the earlier events were taken, and their delivery failed");
  assert.deepEqual(later.stats().dropped, { spool_unavailable: 1 }, "only the run's own event is lost");
  assert.equal(later.stats().spooled, 3);
  assertBalanced(later.stats());
  assert.deepEqual(files(dir.path).filter((name) => /^[el]-/.test(name)), [file], "the file is back, unclaimed");
  assert.deepEqual(commands(spooled(dir.path).map(({ event }) => event)).sort(), ["a", "b", "c"]);
  assert.deepEqual(told.filter((line) => line.includes("dropped")), [
    "[nat-telemetry] dropped 1 event(s): spool_unavailable",
  ]);
  // A run with no event of its own loses nothing, and says so.
  forgetHealth(dir.path);
  told.length = 0;
  guarded.create = () => {
    throw Object.assign(new Error("EMFILE: too many open files, open"), { code: "EMFILE" });
  };
  const again = handler(dir.path, endpoint, { logger: (line) => told.push(line) });
  try {
    await again.stop();
  } finally {
    guarded.create = create;
  }
  assert.deepEqual([again.stats().replayed, again.stats().spooled, again.stats().dropped], [3, 3, {}]);
  assert.deepEqual(told.filter((line) => line.includes("dropped")), []);
  assert.deepEqual(files(dir.path).filter((name) => /^[el]-/.test(name)), [file]);
});

test("without a spool, undelivered events stay in memory after stop(): a flush after it delivers them", async () => {
  const endpoint = await refusedUrl();
  const h = new NATTelemetryHandler({ spoolDir: false, endpoint, exitTimeoutSeconds: 1, backoffInitialSeconds: 0.05 });
  h.enqueue(commandEvent("x"));
  await h.stop();
  assert.equal(h.stats().dlq, 1);
  assert.deepEqual(h.stats().dropped, {}, "not lost while the process lives");
  const server = await comeBack(endpoint);
  try {
    await new Promise((resolve) => setTimeout(resolve, 100)); // past its backoff
    await h.flush();
    assert.deepEqual(commands(server.events()), ["x"]);
    assert.equal(h.stats().sent, 1);
  } finally {
    await server.close();
  }
});

test("after an opt-out, events spooled earlier are not sent", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const seed = handler(dir.path, endpoint);
  seed.enqueue(commandEvent("before-opt-out"));
  await seed.stop();
  forgetHealth(dir.path);
  const server = await comeBack(endpoint);
  try {
    setTelemetryEnabled(false);
    const later = handler(dir.path, endpoint);
    later.start();
    await later.stop();
    assert.equal(server.requests.length, 0);
    assert.equal(spooled(dir.path).length, 1, "left alone (`nat-telemetry disable` deletes it)");
  } finally {
    setTelemetryEnabled(true);
    await server.close();
  }
});

test("a replayed event keeps its own session: envelopes are cut per session", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const down = handler(dir.path, endpoint, { sessionId: "first-run" });
  down.enqueue(commandEvent("offline"));
  await down.stop();
  forgetHealth(dir.path);
  const server = await comeBack(endpoint);
  try {
    const up = handler(dir.path, endpoint, { sessionId: "second-run" });
    up.enqueue(commandEvent("online"));
    await up.stop();
    const envelopes = server.requests.map((request) => JSON.parse(request.body));
    assert.deepEqual(envelopes.map((e) => [e.sessionId, commands(e.events)]), [
      ["first-run", ["offline"]],
      ["second-run", ["online"]],
    ]);
  } finally {
    await server.close();
  }
});

test("a spool path that is a file, or cannot be created, counts what it cannot keep as spool_unavailable", async () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/file`, "");
  for (const spoolDir of [`${dir.path}/file`, `${dir.path}/file/spool`]) {
    const told: string[] = [];
    const h = handler(spoolDir, await refusedUrl(), { logger: (line) => told.push(line) });
    h.enqueue(commandEvent("a"));
    h.enqueue(commandEvent("b"));
    await h.stop();
    assert.deepEqual(h.stats().dropped, { spool_unavailable: 2 }, spoolDir);
    assertBalanced(h.stats());
    // The developer is told why there is no spool, once.
    assert.equal(told.filter((line) => line.includes("no spool: ")).length, 1, told.join("\n"));
    assert.ok(
      told.some((line) => /no spool: .*(not_a_directory|ENOTDIR|Not a directory)/i.test(line)),
      told.join("\n"),
    );
  }
});

test("a spool that cannot be used is looked at again: once mended, what was not delivered is kept there", async () => {
  using dir = tempDir();
  const spoolDir = `${dir.path}/spool`;
  writeFileSync(spoolDir, ""); // not a directory, for now
  const told: string[] = [];
  const h = handler(spoolDir, await refusedUrl(), { logger: (line) => told.push(line) });
  h.enqueue(commandEvent("a"));
  await h.flush();
  h.enqueue(commandEvent("b"));
  await h.flush();
  rmSync(spoolDir); // a long-lived host's spool directory, mended (it is made at the next need)
  await h.stop();
  assert.equal(h.stats().spooled, 2, JSON.stringify(h.stats()));
  assert.deepEqual(h.stats().dropped, {});
  assertBalanced(h.stats());
  assert.deepEqual(spooled(spoolDir).map((line) => line.event.parameters.command).sort(), ["a", "b"]);
  assert.equal(told.filter((line) => line.includes("no spool: ")).length, 1, "told once, not at every look");
});

test("each run's stats say which drops were its own events and which were older files", async () => {
  using dir = tempDir();
  const endpoint = await refusedUrl();
  const base = Date.now();
  for (let run = 0; run < 5; run++) {
    const earlier = handler(dir.path, endpoint, { spoolMaxEvents: 5, clock: () => base + run * 1000 });
    earlier.enqueue(commandEvent(`earlier-${run}`));
    await earlier.stop();
  }
  const h = handler(dir.path, endpoint, { spoolMaxEvents: 5, clock: () => base + 5000 });
  h.enqueue(commandEvent("new-1"));
  h.enqueue(commandEvent("new-2"));
  await h.stop();
  assert.deepEqual(h.stats(), {
    enqueued: 2,
    replayed: 2,
    sent: 0,
    dropped: { spool_full: 2 },
    queued: 0,
    dlq: 0,
    inFlight: 0,
    spooled: 2,
  }, "its two events spooled; the two oldest files of earlier runs pruned");
  assert.deepEqual(
    spooled(dir.path).map((line) => String(line.event.parameters.command)).sort(),
    ["earlier-2", "earlier-3", "earlier-4", "new-1", "new-2"],
    "the oldest went first",
  );
});

test("a long-lived owner keeps its claim while it flushes; once it stops flushing, another run takes it minutes later", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 503, headers: { "retry-after": "3600" } }));
  const clock = { now: Date.now() };
  try {
    spoolSession(dir.path, server.url(), ["spooled"], clock.now);
    const owner = handler(dir.path, server.url(), { clock: () => clock.now, maxRetries: 10 });
    owner.start();
    await owner.flush();
    assert.equal(server.requests.length, 1, "the owner tried once and keeps the event for an hour (Retry-After)");
    const other = () => handler(dir.path, server.url(), { clock: () => clock.now });
    for (let flushes = 0; flushes < 12; flushes++) {
      clock.now += 4 * 60_000; // the lease (five minutes) would have ended by the second
      await owner.flush(); // nothing due yet; the owner renews its claim
      forgetHealth(dir.path);
      const later = other();
      await later.flush();
      assert.equal(later.stats().replayed, 0, `the claim is its owner's after ${flushes + 1} flushes: not taken over`);
      await later.stop();
    }
    assert.equal(server.requests.length, 1, "no duplicate send");
    clock.now += 5 * 60_000 + 1; // the owner flushed no more (killed: a CI job cancelled, a service's SIGTERM)
    forgetHealth(dir.path);
    const taker = other();
    await taker.flush();
    assert.equal(taker.stats().replayed, 1, "taken over five minutes after the owner's last flush, not an hour");
    await taker.stop();
    await owner.stop();
  } finally {
    await server.close();
  }
});

test("a started handler retries the backlog it took on its periodic flush, which renews its claims", async () => {
  using dir = tempDir();
  const server = await TestServer.start((_, index) => ({ status: index === 0 ? 503 : 200 }));
  try {
    spoolEvent(dir.path, server.url(), "earlier", "s", 1);
    const running = handler(dir.path, server.url(), {
      handOff: false, // as in CI: its exit would deliver the backlog itself, so it starts now
      flushIntervalSeconds: 0.05,
      random: () => 0.5,
      backoffMaxSeconds: 2,
    });
    running.start(); // takes the backlog, which the endpoint refuses once: held, to retry
    await waitFor(() => running.stats().sent === 1, "the retry, with no flush asked for");
    assert.deepEqual(commands(server.events()), ["earlier", "earlier"], "refused once, then delivered");
    await running.stop();
  } finally {
    await server.close();
  }
});

test("a long flush renews its claims before each request: none lapses while the rest wait their turn", async () => {
  using dir = tempDir();
  const clock = { now: Date.now() };
  const lapsed: string[] = [];
  const server = await TestServer.start((_, index) => {
    clock.now += 30_000; // each request takes half a minute: the twenty, four at a time, outlast a lease of five
    // From the fifth on, a request starts once an earlier one ended: what waits must still be this run's.
    if (index >= 4) lapsed.push(...lapsedClaims(dir.path, clock.now));
    return { status: 200 };
  });
  try {
    for (let n = 0; n < 20; n++) spoolEvent(dir.path, server.url(), `run-${n}`, `session-${n}`, n); // a request each
    const running = handler(dir.path, server.url(), { clock: () => clock.now });
    await running.flush();
    assert.equal(running.stats().sent, 20);
    assert.deepEqual(lapsed, [], "no claim another run could take over");
    await running.stop();
  } finally {
    await server.close();
  }
});

test("the halves of a batch the endpoint found too large (413) renew the claims too", async () => {
  using dir = tempDir();
  const clock = { now: Date.now() };
  const lapsed: string[] = [];
  const server = await TestServer.start((request) => {
    clock.now += 4 * 60_000; // each answer takes four minutes: two outlast a lease of five
    lapsed.push(...lapsedClaims(dir.path, clock.now));
    return { status: JSON.parse(request.body).events.length > 1 ? 413 : 200 };
  });
  try {
    spoolSession(dir.path, server.url(), ["c0", "c1", "c2", "c3"], clock.now); // one file: one batch, split twice
    const running = handler(dir.path, server.url(), { clock: () => clock.now });
    await running.flush();
    assert.equal(running.stats().sent, 4);
    assert.deepEqual(lapsed, [], "no claim another run could take over");
    await running.stop();
  } finally {
    await server.close();
  }
});

test("a running handler leases its claims for two flush intervals (an hour at most) or two request timeouts, five minutes at least", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 503 }));
  try {
    const cases = [[120, 2, 300_000], [600, 2, 1_200_000], [7_200, 2, 3_600_000], [1, 300, 600_000], [
      7_200,
      3_000,
      6e6,
    ]];
    for (const [flushIntervalSeconds, requestTimeoutSeconds, leaseMs] of cases) {
      const first = handler(dir.path, server.url(), { handOff: false });
      first.enqueue(commandEvent("waiting"));
      await first.stop(); // refused: spooled
      forgetHealth(dir.path);
      const running = handler(dir.path, server.url(), { flushIntervalSeconds, requestTimeoutSeconds });
      await running.flush(); // takes the backlog, which the endpoint refuses: held, to retry
      const leases = files(dir.path).filter((name) => name.startsWith("l-")).map((name) => Number(name.split("-")[1]));
      assert.equal(leases.length, 1, `the spooled file was claimed (${flushIntervalSeconds} s)`);
      const left = leases[0] - Date.now();
      assert.ok(left > leaseMs - 30_000 && left <= leaseMs, `${flushIntervalSeconds} s: ${left} ms, not ${leaseMs}`);
      await running.stop();
      forgetHealth(dir.path);
    }
  } finally {
    await server.close();
  }
});

test("a stopping handler leases what it claims only for what is left of its budget: seconds, not an hour", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ hang: true }));
  try {
    const first = handler(dir.path, server.url());
    first.enqueue(commandEvent("waiting"));
    await first.stop(); // its 1 s budget cuts the request: spooled, and no verdict on the endpoint
    const second = handler(dir.path, server.url(), { exitTimeoutSeconds: 2, requestTimeoutSeconds: 10 });
    const stopping = second.stop();
    await waitFor(() => server.requests.length === 2, "the second run's request"); // claimed, and in flight
    const leases = files(dir.path).filter((name) => name.startsWith("l-")).map((name) => Number(name.split("-")[1]));
    await stopping;
    assert.equal(leases.length, 1, "the spooled file was claimed");
    const left = leases[0] - Date.now();
    assert.ok(left > 0 && left < 10_000, `a lease of seconds (the 2 s budget + 1 s), not an hour: ${left} ms`);
  } finally {
    await server.close();
  }
});

test("what a handler claimed while it ran is cut to its exit's lease when it stops: killed there, it waits seconds", async () => {
  using dir = tempDir();
  let hang = false;
  const server = await TestServer.start(() => hang ? { hang: true } : { status: 503 });
  try {
    const first = handler(dir.path, server.url(), { handOff: false });
    first.enqueue(commandEvent("waiting"));
    await first.stop(); // refused: spooled
    forgetHealth(dir.path);
    hang = true;
    const running = handler(dir.path, server.url(), { exitTimeoutSeconds: 2, requestTimeoutSeconds: 10 });
    const flushing = running.flush(); // takes the backlog with a running handler's lease (five minutes)
    await waitFor(() => server.requests.length === 2, "the running handler's request");
    const lease = () =>
      files(dir.path).filter((name) => name.startsWith("l-")).map((name) => Number(name.split("-")[1]));
    assert.ok(lease()[0] - Date.now() > 60_000, "a running handler's lease: minutes");
    const stopping = running.stop(); // a CI job's exit, cancelled while that request is still in flight
    const left = lease()[0] - Date.now();
    await Promise.all([flushing, stopping]);
    assert.ok(left > 0 && left < 10_000, `a lease of seconds (the 2 s budget + 1 s), not five minutes: ${left} ms`);
  } finally {
    await server.close();
  }
});

test("what a run drops is recorded beside the spool for status, once each", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 400 }));
  try {
    const run = handler(dir.path, server.url(), { maxBufferedEvents: 2 });
    run.enqueue(commandEvent("refused"));
    await run.flush();
    for (const name of ["a", "b", "c"]) run.enqueue(commandEvent(name)); // the third finds the buffer full
    await run.stop();
    await run.stop();
    assert.deepEqual(run.stats().dropped, { http_400: 3, buffer_full: 1 });
    const recorded = () =>
      dropsRecords(host().files!, dir.path).map(({ dropped, endpoint }) => ({ dropped, endpoint }));
    assert.deepEqual(recorded(), [{ dropped: { http_400: 3, buffer_full: 1 }, endpoint: server.url() }]);
  } finally {
    await server.close();
  }
});

test("a long-lived handler gets a backlog of more files than one read of the spool takes out while it works", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    // An outage's backlog: a file for each run, more than the 64 one read takes.
    const names = Array.from({ length: 150 }, (_, i) => `backlog-${i}`);
    const at = Date.now() - 600_000;
    names.forEach((name, i) => spoolSession(dir.path, server.url(), [name], at + i));
    const service = handler(dir.path, server.url(), { handOff: false, flushIntervalSeconds: 0.05 });
    service.start();
    await waitFor(() => server.events().length >= names.length, "the whole backlog, while it works");
    await service.stop();
    assert.deepEqual(commands(server.events()).sort(), [...names].sort());
    assert.deepEqual(spooled(dir.path), [], "nothing left on disk");
    assert.equal(service.stats().replayed, names.length);
  } finally {
    await server.close();
  }
});
