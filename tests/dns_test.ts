/**
 * A DNS server that never answers (a firewall dropping its packets, a dead
 * resolver) must not hold a program past its exit budget. Under Node.js a
 * system lookup cannot be cut, and even `process.exit()` waits for it; the
 * Node.js client asks DNS first (`dns_guard.ts`). A real resolver that
 * swallows every query, named by /etc/resolv.conf in a mount namespace of the
 * child's own (root only), and a run that delivers in process (CI).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import process from "node:process";
import { writeFileSync } from "node:fs";
import { fixturePath, runChild, runtimeCommand } from "./helpers/child.ts";
import { canUnshare } from "./helpers/shipping.ts";
import { tempDir } from "./helpers/spool_dir.ts";
import { TestServer } from "./helpers/server.ts";

const asRoot = process.platform === "linux" && process.getuid?.() === 0;
const skip = !(canUnshare && asRoot) && "needs root to name another resolver in a mount namespace";

/** A resolver that swallows every query, on a loopback address of its own; counts them. */
async function silentResolver(): Promise<{ address: string; queries: () => number; close: () => void }> {
  const address = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.53`;
  const socket = createSocket("udp4");
  let queries = 0;
  socket.on("message", () => queries++);
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(53, address, () => resolve());
  });
  return { address, queries: () => queries, close: () => socket.close() };
}

test("a DNS server that never answers does not hold a run that delivers in process past its exit budget", {
  skip,
}, async () => {
  using dir = tempDir();
  const resolver = await silentResolver();
  // Where the endpoint's address is known without DNS: the hosts file still works.
  const reachable = await TestServer.start();
  try {
    // The system's lookup would wait 30 s for it (once): far past the 2 s budget.
    writeFileSync(`${dir.path}/resolv.conf`, `nameserver ${resolver.address}\noptions timeout:30 attempts:1\n`);
    writeFileSync(`${dir.path}/hosts`, `127.0.0.1 localhost\n127.0.0.1 telemetry.hosts.test\n`);
    const mount = 'mount --bind "$RESOLV" /etc/resolv.conf && mount --bind "$HOSTS" /etc/hosts && exec "$@"';
    const run = (endpoint: string) =>
      runChild("exit_child.ts", {
        executable: "unshare",
        args: ["--mount", "sh", "-c", mount, "sh", ...runtimeCommand(fixturePath("exit_child.ts")), "natural"],
        env: {
          CI: "1",
          NAT_TELEMETRY_ENABLED: "1",
          NAT_TELEMETRY_ENDPOINT: endpoint,
          NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool`,
          NAT_TEST_COMMAND: "dns",
          RESOLV: `${dir.path}/resolv.conf`,
          HOSTS: `${dir.path}/hosts`,
        },
        limitMs: 60_000,
      });
    const silent = await run("http://telemetry.example.com/v1/events");
    assert.equal(silent.code, 0, silent.stderr);
    assert.ok(resolver.queries() > 0, "the name was asked of the silent resolver");
    // A hang check, not a speed one: held by the lookup, the run would last 30 s.
    assert.ok(silent.elapsedMs < 20_000, `the run ended after ${Math.round(silent.elapsedMs)} ms`);
    const listed = await run(`http://telemetry.hosts.test:${reachable.port}/v1/events`);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(reachable.events().length, 1, "a name in the hosts file is reached, DNS silent");
  } finally {
    resolver.close();
    await reachable.close();
  }
});
