import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { NATTelemetryHandler, setTelemetryEnabled } from "../mod.ts";
import { MAX_TIMER_MS } from "../src/deadline.ts";
import { runChild, startChild } from "./helpers/child.ts";
import { commandEvent, commands } from "./helpers/events.ts";
import { TestServer, withServer } from "./helpers/server.ts";
import { spooled, tempDir } from "./helpers/spool_dir.ts";
import { waitFor } from "./helpers/wait.ts";
import { sendersGone } from "./helpers/handoff.ts";

setTelemetryEnabled(true);
process.env.NAT_TELEMETRY_SPOOL_DIR = ""; // these tests keep no spool: nothing reaches the home directory

test("stop() takes at most the exit budget against a silent server; the event stays pending", async () => {
  await withServer(async (server) => {
    server.respond(() => ({ hang: true }));
    const said: string[] = [];
    const handler = new NATTelemetryHandler({
      endpoint: server.url(),
      requestTimeoutSeconds: 30,
      exitTimeoutSeconds: 0.2,
      logger: (line) => said.push(line),
    });
    handler.enqueue(commandEvent("x"));
    const started = Date.now();
    await handler.stop();
    assert.match(
      said.join("\n"),
      /1 event\(s\) not delivered are kept in memory only, for a flush: no spool/,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 5_000, `stop() took ${elapsed} ms with a 200 ms budget`);
    assert.deepEqual(handler.stats(), {
      enqueued: 1,
      replayed: 0,
      sent: 0,
      dropped: {},
      queued: 0,
      dlq: 1,
      inFlight: 0,
      spooled: 0,
    });
  });
});

test("the exit budget covers every retry, split and request, not each one", async () => {
  await withServer(async (server) => {
    // Seconds, not tenths: on a loaded machine the first requests reached a 150 ms server 320-490 ms into a 400 ms
    // budget, and none went.
    server.respond(() => ({ status: 200, delayMs: 1_000 }));
    const handler = new NATTelemetryHandler({
      endpoint: server.url(),
      exitTimeoutSeconds: 3,
      maxBatchBytes: 1_600, // an event a batch: 30 batches, four at a time, take 8 s, more than the budget
      maxQueueSize: 1_000,
    });
    for (let i = 0; i < 30; i++) handler.enqueue(commandEvent(`e${i}`, 300));
    const started = Date.now();
    await handler.stop();
    const elapsed = Date.now() - started;
    const stats = handler.stats();
    assert.ok(elapsed < 7_000, `stop() took ${elapsed} ms with a 3 s budget (each request its own: 8 s)`);
    assert.ok(stats.sent > 0 && stats.sent < 30, `some batches went, the rest wait: ${JSON.stringify(stats)}`);
    assert.equal(stats.sent + stats.dlq, 30);
    assert.equal(stats.inFlight, 0);
  });
});

/**
 * Stops a handler holding 40 events against a server that takes at most two a request (413 for more: the halves go
 * one after another), answering each after `delayMs` (`onHalf` called as it takes one). Returns its stats, and how
 * many events the server took.
 */
async function stopAgainstHalves(server: TestServer, exitTimeoutSeconds: number, delayMs: number, onHalf = () => {}) {
  server.respond((request) => {
    if (JSON.parse(request.body).events.length > 2) return { status: 413 };
    onHalf();
    return { delayMs };
  });
  const handler = new NATTelemetryHandler({
    endpoint: server.url(),
    requestTimeoutSeconds: 1,
    exitTimeoutSeconds,
    maxQueueSize: 1_000,
  });
  for (let i = 0; i < 40; i++) handler.enqueue(commandEvent(`e${i}`));
  await handler.stop();
  const taken = server.requests.map((request) => JSON.parse(request.body).events).filter((events) =>
    events.length <= 2
  );
  return { stats: handler.stats(), taken: taken.flat().length };
}

test("near the end of the exit budget no 413 half starts that the budget would cut: no event is both received and kept", async () => {
  await withServer(async (server) => {
    // ~150 ms each, past the budget's end.
    const { stats, taken } = await stopAgainstHalves(server, 2.2, 150);
    assert.ok(stats.dlq > 0, `the budget ran out before the last halves: ${JSON.stringify(stats)}`);
    assert.equal(stats.sent + stats.dlq, 40, JSON.stringify(stats));
    assert.equal(stats.sent, taken, "every event the server took is counted sent, none kept to resend");
  });
});

test("a wall clock stepped back during stop() (NTP, a VM restored) starts no request the budget would cut", async () => {
  const now = Date.now;
  try {
    await withServer(async (server) => {
      // ~900 ms each: a first wave fits the budget, a second would be cut. An hour behind from the first on.
      const { stats, taken } = await stopAgainstHalves(server, 1.5, 900, () => Date.now = () => now() - 3_600_000);
      Date.now = now;
      assert.equal(stats.sent + stats.dlq, 40, JSON.stringify(stats));
      assert.equal(stats.sent, taken, "every event the server took is counted sent, none kept");
    });
  } finally {
    Date.now = now;
  }
});

test("a budget no longer than one request's timeout (the defaults' shape): one wave against a slow endpoint, none cut", async () => {
  await withServer(async (server) => {
    // 600 ms an answer: after the first wave (four requests at once) 400 ms are left, less than another would take;
    // a second wave would be cut after the server took it, and its events sent again by a later run.
    server.respond(() => ({ status: 200, delayMs: 600 }));
    const handler = new NATTelemetryHandler({
      endpoint: server.url(),
      requestTimeoutSeconds: 1,
      exitTimeoutSeconds: 1,
      maxBatchBytes: 1_600, // one event a batch
      maxQueueSize: 1_000,
    });
    for (let i = 0; i < 8; i++) handler.enqueue(commandEvent(`e${i}`, 300));
    await handler.stop();
    const stats = handler.stats();
    assert.equal(stats.sent + stats.dlq, 8, JSON.stringify(stats));
    assert.ok(stats.sent > 0, `a first wave went: ${JSON.stringify(stats)}`);
    assert.equal(server.requests.length, stats.sent, "every request the server took was answered: none cut");
  });
});

test("a slow answer just before the exit holds back a request the budget would cut; one long before does not", async () => {
  for (const pauseMs of [0, 1_100]) {
    await withServer(async (server) => {
      let answered = 0;
      server.respond(() => ({ status: 200, delayMs: answered++ === 0 ? 600 : 0 }));
      // The defaults' shape, scaled (1 s each): twice the 600 ms just taken would end past the budget.
      const handler = new NATTelemetryHandler({
        endpoint: server.url(),
        requestTimeoutSeconds: 1,
        exitTimeoutSeconds: 1,
      });
      handler.enqueue(commandEvent("slow"));
      await handler.flush();
      await new Promise((resolve) => setTimeout(resolve, pauseMs)); // longer than a request's timeout: says little now
      handler.enqueue(commandEvent("at-exit"));
      await handler.stop();
      const expected = pauseMs === 0 ? ["slow"] : ["slow", "at-exit"];
      assert.deepEqual(commands(server.events()), expected, `${pauseMs} ms between`);
      assert.equal(handler.stats().dlq, pauseMs === 0 ? 1 : 0, "held back, not lost");
    });
  }
});

test("stop() is idempotent and a flush() after it still delivers", async () => {
  await withServer(async (server) => {
    const handler = new NATTelemetryHandler({ endpoint: server.url() });
    handler.enqueue(commandEvent("a"));
    const first = handler.stop();
    assert.equal(handler.stop(), first);
    await first;
    handler.enqueue(commandEvent("late"));
    await handler.flush();
    assert.deepEqual(commands(server.events()), ["a", "late"]);
  });
});

test("exitTimeoutSeconds 0 sends nothing at stop and keeps the events pending", async () => {
  await withServer(async (server) => {
    const handler = new NATTelemetryHandler({ endpoint: server.url(), exitTimeoutSeconds: 0 });
    handler.enqueue(commandEvent("a"));
    await handler.stop();
    assert.equal(handler.stats().sent + handler.stats().dlq + handler.stats().queued, 1);
    assert.equal(handler.stats().inFlight, 0);
  });
});

test("await using flushes when the block ends (Symbol.asyncDispose is stop())", async () => {
  await withServer(async (server) => {
    const handler = new NATTelemetryHandler({ endpoint: server.url() });
    assert.equal(typeof handler[Symbol.asyncDispose], "function");
    const result = await runChild("handler_child.ts", {
      args: ["using", server.url()],
      env: { NAT_TELEMETRY_ENABLED: "1" },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).stats.sent, 1);
    assert.deepEqual(commands(server.events()), ["child"]);
  });
});

test("await using with the program's own fetch that never settles: the block ends with the budget, the program goes on", async () => {
  using dir = tempDir();
  const result = await runChild("handler_child.ts", {
    args: ["using-stuck-fetch", "http://127.0.0.1:9/never"],
    env: {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TEST_OPTIONS: JSON.stringify({ exitTimeoutSeconds: 0.5, spoolDir: dir.path }),
    },
  });
  assert.equal(result.code, 4, `the program's own exit code, and the rest of its code ran: ${result.stderr}`);
  const { stats } = JSON.parse(result.stdout);
  assert.equal(stats.spooled, 1, "the event waits in the spool");
});

test("a started handler never keeps the host alive: main returns and the process exits at once", async () => {
  await withServer(async (server) => {
    const result = await runChild("handler_child.ts", {
      args: ["start-and-return", server.url()],
      env: { NAT_TELEMETRY_ENABLED: "1", NAT_TEST_OPTIONS: JSON.stringify({ flushIntervalSeconds: 60 }) },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.elapsedMs < 20_000, `exited after ${result.elapsedMs} ms, well before the 60 s flush`);
    assert.equal(result.stdout + result.stderr, "", "adds no output");
  });
});

for (const when of ["now", "microtask"]) {
  test(`a logger that records an event for every line it hears (${when}) ends with its run: it hears of one late event`, async () => {
    using dir = tempDir();
    const refusing = await TestServer.start();
    await refusing.close();
    // The stops hand off; the logger's flushes find the endpoint down; the exit spools what the logger recorded, and
    // each event recorded after it is spooled at once, which is said, and heard: a line for every line, before.
    const result = await runChild("handler_child.ts", {
      args: ["logger-records", refusing.url(), when],
      env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_SPOOL_DIR: dir.path, NAT_TELEMETRY_HANDOFF: "1" },
    });
    assert.equal(result.code, 0, result.stderr);
    const heard = result.stderr.trim().split("\n");
    assert.ok(heard.length <= 12, result.stderr);
    assert.match(result.stderr, /at exit: handed off to a sender/);
    await sendersGone(dir.path);
  });
}

for (const flush of ["", "flush"]) {
  test(`an event recorded while stop() runs, after it handed off (a logger's${flush && ", then flushed"}), goes at exit`, async () => {
    using dir = tempDir();
    await withServer(async (server) => {
      const result = await runChild("handler_child.ts", {
        args: ["logger-records-once", server.url(), flush],
        env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_SPOOL_DIR: dir.path, NAT_TELEMETRY_HANDOFF: "1" },
      });
      assert.equal(result.code, 0, result.stderr);
      await waitFor(() => server.events().length === 2, "both events, from senders", 20_000);
      await sendersGone(dir.path);
      assert.deepEqual(commands(server.events()).sort(), ["child", "heard"]);
    });
  });
}

test("an event recorded while stop() runs, then delivered by a later flush: the exit starts no sender for nothing", async () => {
  using dir = tempDir();
  await withServer(async (server) => {
    const result = await runChild("handler_child.ts", {
      args: ["logger-records-once", server.url(), "flush-after"],
      env: {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_SPOOL_DIR: dir.path,
        NAT_TELEMETRY_HANDOFF: "1",
        NAT_TELEMETRY_DEBUG: "1",
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr.match(/at exit: handed off/g)?.length, 1, result.stderr);
    await waitFor(() => server.events().length === 2, "both events", 20_000);
    await sendersGone(dir.path);
    assert.deepEqual(commands(server.events()).sort(), ["child", "heard"]);
  });
});

test("a child's stop() against a silent server returns within the budget and the process exits", async () => {
  await withServer(async (server) => {
    server.respond(() => ({ hang: true }));
    const result = await runChild("handler_child.ts", {
      args: ["stop", server.url()],
      env: {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_DEBUG: "1",
        NAT_TEST_OPTIONS: JSON.stringify({ requestTimeoutSeconds: 60, exitTimeoutSeconds: 0.3 }),
      },
    });
    assert.equal(result.code, 0, result.stderr);
    const { stats, stopMs } = JSON.parse(result.stdout);
    assert.ok(stopMs < 5_000, `stop() took ${stopMs} ms`);
    assert.ok(result.elapsedMs < 20_000, `the process lingered ${result.elapsedMs} ms after a 60 s request timeout`);
    assert.equal(stats.dlq, 1, "kept after the stop, for a flush");
    // No spool: what is still held when the process ends is lost, and the exit counts it so.
    assert.match(result.stderr, /dropped 1 event\(s\): spool_unavailable \(the process ends, and there is no spool/);
    const atExit = result.stderr.split("\n").filter((line) => line.includes("at exit: "));
    assert.match(atExit.at(-1) ?? "", /at exit: not handed off: /, "at the process's end, nothing waits to deliver");
  });
});

// A process the OS does not run for a while (a loaded machine, a stopped job) finds, when it runs again, both its
// timer due and the answer waiting on the socket. The answer wins: the event is delivered once, not timed out,
// spooled and sent a second time.
for (
  const [what, options] of [
    ["request timeout", { requestTimeoutSeconds: 0.5, exitTimeoutSeconds: 10 }],
    ["exit budget", { requestTimeoutSeconds: 10, exitTimeoutSeconds: 0.5 }],
  ] as const
) {
  test(`a stalled process keeps an answer that arrived while it was stopped, past its ${what}`, {
    skip: process.platform === "win32",
  }, async () => {
    await withServer(async (server) => {
      let pid = 0;
      server.respond(() => {
        process.kill(pid, "SIGSTOP");
        setTimeout(() => process.kill(pid, "SIGCONT"), 1_500);
        return { status: 200 };
      });
      const child = startChild("handler_child.ts", {
        args: ["stop", server.url()],
        env: { NAT_TELEMETRY_ENABLED: "1", NAT_TEST_OPTIONS: JSON.stringify(options) },
      });
      pid = child.process.pid!;
      const result = await child.result;
      assert.equal(result.code, 0, result.stderr);
      const { stats } = JSON.parse(result.stdout);
      assert.equal(stats.sent, 1, JSON.stringify(stats));
      assert.equal(stats.dlq, 0, JSON.stringify(stats));
      assert.equal(server.requests.length, 1);
    });
  });
}

/**
 * Runs the program whose timers never fire (`fake_timers_child.ts`) with telemetry on, against `server`, its spool in
 * `dir`, with what `env` adds.
 */
function withFakeTimers(server: TestServer, dir: string, env: Record<string, string> = {}, args: string[] = []) {
  return runChild("fake_timers_child.ts", {
    args,
    env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url(), NAT_TELEMETRY_SPOOL_DIR: dir, ...env },
    limitMs: 30_000,
  });
}

test("timers that never fire (a test's fake timers) do not hold a run at its exit: the runtime's own timeout ends the wait", async () => {
  using dir = tempDir();
  await withServer(async (server) => {
    server.respond(() => ({ hang: true }));
    const run = await withFakeTimers(server, dir.path);
    assert.equal(run.code, 0, `ended, not killed: ${run.stderr}`);
    assert.deepEqual(JSON.parse(run.stdout), { code: 5 });
    assert.equal(server.requests.length, 1, "the request was sent, and never answered");
    assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["fake-timers"]);
  });
});

test("fake timers as sinon installs them (process.nextTick, node:timers) neither end a run mid-await nor hold it", async () => {
  using dir = tempDir();
  await withServer(async (server) => {
    const run = await withFakeTimers(server, dir.path, { LIKE_SINON_INSTALL: "1" });
    // Node.js ended it with 13 ("unsettled top-level await") where nothing held the process open for the watchdog, and
    // held it until killed where the watchdog's AbortSignal.timeout ran on the fake node:timers.
    assert.equal(run.code, 0, `ended with its command's status, not killed: ${run.stderr}`);
    assert.deepEqual(JSON.parse(run.stdout), { code: 5 });
    const left = spooled(dir.path).map((line) => line.event.parameters.command);
    assert.equal(server.requests.length + left.length, 1, "delivered or spooled, once");
  });
});

test("a setTimeout that throws reaches neither the program nor its exit code, its trail on stderr included", async () => {
  using dir = tempDir();
  await withServer(async (server) => {
    const run = await withFakeTimers(server, dir.path, { NAT_TELEMETRY_DEBUG: "1", THROWING_TIMERS: "1" });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { code: 5 });
  });
});

test("timers that never fire do not hold a flush() either: a request's deadline ends too, and stop() spools", async () => {
  using dir = tempDir();
  await withServer(async (server) => {
    server.respond(() => ({ hang: true }));
    const run = await withFakeTimers(server, dir.path, {}, ["flush"]);
    assert.equal(run.code, 0, `ended, not killed: ${run.stderr}`);
    const stats = JSON.parse(run.stdout);
    assert.deepEqual([stats.enqueued, stats.sent, stats.spooled], [1, 0, 1], run.stdout);
    assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["flushed"]);
  });
});

test("the longest exit budget allowed (2^31 - 1 ms) waits for the answer: its backstop does not overflow a timer", async () => {
  await withServer(async (server) => {
    server.respond(() => ({ status: 200, delayMs: 300 }));
    const handler = new NATTelemetryHandler({ endpoint: server.url(), exitTimeoutSeconds: MAX_TIMER_MS / 1000 });
    handler.enqueue(commandEvent("x"));
    await handler.stop();
    assert.equal(handler.stats().sent, 1, JSON.stringify(handler.stats()));
  });
});
