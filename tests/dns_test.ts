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
import { Buffer } from "node:buffer";
import { createSocket } from "node:dgram";
import process from "node:process";
import { writeFileSync } from "node:fs";
import { fixturePath, runChild, runtimeCommand } from "./helpers/child.ts";
import { canUnshare } from "./helpers/shipping.ts";
import { tempDir } from "./helpers/spool_dir.ts";
import { TestServer } from "./helpers/server.ts";

const asRoot = process.platform === "linux" && process.getuid?.() === 0;
const skip = !(canUnshare && asRoot) && "needs root to name another resolver in a mount namespace";

/**
 * A resolver on a loopback address of its own. For names in a zone of `zones` it answers A queries (127.0.0.1;
 * AAAA: no record), or fails (`"servfail"`); every other query it swallows, as a split-horizon or air-gapped
 * resolver may. Counts the queries.
 */
async function resolverFor(
  zones: Record<string, "answer" | "servfail"> = {},
): Promise<{ address: string; queries: () => number; close: () => void }> {
  const address = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.53`;
  const socket = createSocket("udp4");
  let queries = 0;
  socket.on("message", (message: Buffer, from) => {
    queries++;
    const labels: string[] = [];
    let at = 12;
    for (; message[at] > 0; at += message[at] + 1) {
      labels.push(message.subarray(at + 1, at + 1 + message[at]).toString());
    }
    const name = labels.join(".").toLowerCase();
    const zone = Object.keys(zones).find((suffix) => name.endsWith(suffix));
    if (zone === undefined) return;
    const isA = message.readUInt16BE(at + 1) === 1 && zones[zone] === "answer";
    const header = Buffer.from(message.subarray(0, at + 5)); // the question, echoed
    header[2] = 0x81 | (message[2] & 1); // a response, recursion desired as asked
    header[3] = zones[zone] === "servfail" ? 0x82 : 0x80; // recursion available; no error, or a server failure
    header.writeUInt16BE(isA ? 1 : 0, 6); // one answer for A; none (no record) for AAAA
    const record = isA ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0);
    socket.send(Buffer.concat([header, record]), from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(53, address, () => resolve());
  });
  return { address, queries: () => queries, close: () => socket.close() };
}

/** Runs the exit fixture (delivering in process) with these resolver and hosts files, in a mount namespace. */
function runWith(
  dir: string,
  endpoint: string,
  resolvConf: string,
  hosts = "127.0.0.1 localhost\n",
  env: Record<string, string> = {},
) {
  writeFileSync(`${dir}/resolv.conf`, resolvConf);
  writeFileSync(`${dir}/hosts`, hosts);
  const mount = 'mount --bind "$RESOLV" /etc/resolv.conf && mount --bind "$HOSTS" /etc/hosts && exec "$@"';
  return runChild("exit_child.ts", {
    executable: "unshare",
    args: ["--mount", "sh", "-c", mount, "sh", ...runtimeCommand(fixturePath("exit_child.ts")), "natural"],
    env: {
      CI: "1",
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: endpoint,
      NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
      NAT_TEST_COMMAND: "dns",
      RESOLV: `${dir}/resolv.conf`,
      HOSTS: `${dir}/hosts`,
      ...env,
    },
    limitMs: 60_000,
  });
}

test("a DNS server that never answers does not hold a run that delivers in process past its exit budget", {
  skip,
}, async () => {
  using dir = tempDir();
  const resolver = await resolverFor();
  // Where the endpoint's address is known without DNS: the hosts file still works.
  const reachable = await TestServer.start();
  try {
    // The system's lookup would wait 30 s for it (once): far past the 2 s budget.
    const conf = `nameserver ${resolver.address}\noptions timeout:30 attempts:1\n`;
    const silent = await runWith(dir.path, "http://telemetry.example.com/v1/events", conf);
    assert.equal(silent.code, 0, silent.stderr);
    assert.ok(resolver.queries() > 0, "the name was asked of the silent resolver");
    // A hang check, not a speed one: held by the lookup, the run would last 30 s.
    assert.ok(silent.elapsedMs < 20_000, `the run ended after ${Math.round(silent.elapsedMs)} ms`);
    const hosts = "127.0.0.1 localhost\n127.0.0.1\ttelemetry.hosts.test  # the endpoint\n";
    const listed = await runWith(dir.path, `http://telemetry.hosts.test:${reachable.port}/v1/events`, conf, hosts);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(reachable.events().length, 1, "a name in the hosts file is reached, DNS silent");
  } finally {
    resolver.close();
    await reachable.close();
  }
});

test(
  "a name the resolver knows only through the search list is reached, other names unanswered",
  { skip },
  async () => {
    using dir = tempDir();
    const resolver = await resolverFor({ "corp.test": "answer" });
    const endpoint = await TestServer.start();
    try {
      const conf = (ndots: number) =>
        `nameserver ${resolver.address}\nsearch corp.test\noptions timeout:30 attempts:1 ndots:${ndots}\n`;
      // `collector` is collector.corp.test; with ndots:5 (Kubernetes'), so is `otel.collector`.
      const short = await runWith(dir.path, `http://collector:${endpoint.port}/v1/events`, conf(1));
      assert.equal(short.code, 0, short.stderr);
      const dotted = await runWith(dir.path, `http://otel.collector:${endpoint.port}/v1/events`, conf(5));
      assert.equal(dotted.code, 0, dotted.stderr);
      // No search line: LOCALDOMAIN's list, as the system's resolver takes it.
      const local = await runWith(
        dir.path,
        `http://collector:${endpoint.port}/v1/events`,
        `nameserver ${resolver.address}\noptions timeout:30 attempts:1\n`,
        undefined,
        { LOCALDOMAIN: "corp.test" },
      );
      assert.equal(local.code, 0, local.stderr);
      assert.equal(endpoint.events().length, 3, "all delivered in process");
    } finally {
      resolver.close();
      await endpoint.close();
    }
  },
);

test(
  "a server failure for one name of the search list: the next, unanswered, does not hold the run",
  { skip },
  async () => {
    using dir = tempDir();
    // collector.a.test fails at once; the system then asks about collector.b.test, which is never answered.
    const resolver = await resolverFor({ "a.test": "servfail" });
    try {
      const conf = `nameserver ${resolver.address}\nsearch a.test b.test\noptions timeout:30 attempts:1\n`;
      const run = await runWith(dir.path, "http://collector/v1/events", conf);
      assert.equal(run.code, 0, run.stderr);
      // A hang check, not a speed one: held by the lookup, the run would last 30 s.
      assert.ok(run.elapsedMs < 20_000, `the run ended after ${Math.round(run.elapsedMs)} ms`);
    } finally {
      resolver.close();
    }
  },
);
