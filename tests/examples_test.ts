/**
 * The examples do what their docs say, in each runtime: the long-lived
 * service delivers its events in process, the final flush included, and shows
 * it in its counters.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runtimeInfo } from "../src/runtime/mod.ts";
import { runChild } from "./helpers/child.ts";
import { commands } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { senderLocks, spooled, tempDir } from "./helpers/spool_dir.ts";

test(`${runtimeInfo().name}: examples/service.ts delivers in process, final flush included, and shows it`, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const run = await runChild("../../examples/service.ts", {
      args: ["3"],
      // The exit left to decide for itself: the service itself chooses to deliver in process.
      env: {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: dir.path,
        NAT_TELEMETRY_HANDOFF: undefined,
        CI: undefined,
      },
    });
    assert.equal(run.code, 0, run.stderr);
    const stats = JSON.parse(run.stdout);
    assert.deepEqual([stats.enqueued, stats.sent, stats.spooled], [3, 3, 0], run.stdout);
    assert.deepEqual(commands(server.events()), ["rebuild", "rebuild", "rebuild"], "all arrived before it ended");
    assert.deepEqual([spooled(dir.path), senderLocks(dir.path)], [[], []], "no spool, no sender");
  } finally {
    await server.close();
  }
});
