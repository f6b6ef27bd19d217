/**
 * What importing the package loads: `mod.ts`'s static import graph (type-only
 * imports left out: they load nothing), which must not reach the sender (never
 * in the program), the CLI or the collector (never from `mod.ts`), nor any
 * `node:` module (the runtime host fetches them with
 * `process.getBuiltinModule` when used, `node:child_process` at the spawn).
 * What it loads is all a run loads of the package (`published_test.ts`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { shortHash } from "../src/hash.ts";
import { runtimeInfo } from "../src/runtime/mod.ts";
import { runChild } from "./helpers/child.ts";
import { withServer } from "./helpers/server.ts";
import { commands } from "./helpers/events.ts";
import { sendersGone } from "./helpers/handoff.ts";
import { tempDir } from "./helpers/spool_dir.ts";
import { waitFor } from "./helpers/wait.ts";

const root = new URL("..", import.meta.url);

/** The modules a module imports for their values (not `import type`/`export type`), resolved. */
function valueImports(url: URL): URL[] {
  const text = readFileSync(url, "utf8");
  const found: URL[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^;"']*?\s+from\s+)?["']([^"']+)["'];/gm)) {
    const [, typeOnly, specifier] = match;
    if (typeOnly) continue;
    found.push(new URL(specifier, url));
  }
  return found;
}

/** Every module `mod.ts` loads when it is imported, as paths from the repository's root. */
function staticGraph(): string[] {
  const seen = new Set<string>();
  const queue = [new URL("mod.ts", root)];
  while (queue.length > 0) {
    const url = queue.pop()!;
    if (seen.has(url.href)) continue;
    seen.add(url.href);
    if (url.protocol === "file:") queue.push(...valueImports(url));
  }
  return [...seen].map((href) => href.startsWith(root.href) ? href.slice(root.href.length) : href).sort();
}

/** The tests of what a run loads through `process.getBuiltinModule`: the Node.js and Bun host's way. */
const onlyWhereBuiltInsLoad = {
  skip: runtimeInfo().name === "deno" && "Deno's host uses Deno's own API, which loads nothing",
};

test("importing mod.ts loads neither the sender, the CLI, the collector nor any built-in module", () => {
  const loaded = staticGraph();
  const neverInTheProgram = ["src/sender.ts", "src/sender_main.ts", "src/cli.ts", "src/collector.ts"];
  assert.deepEqual(neverInTheProgram.filter((path) => loaded.includes(path)), [], "loaded with mod.ts");
  assert.deepEqual(loaded.filter((path) => !path.startsWith("src/") && path !== "mod.ts"), [], "no node: module");
  // The graph is what the walk says it is: it finds what a run calls, delivery in process and the question included.
  for (const needed of ["src/handler.ts", "src/exit_strategy.ts", "src/delivery.ts", "src/prompt.ts"]) {
    assert.ok(loaded.includes(needed), needed);
  }
});

test(
  "a run with telemetry turned off by a variable loads no built-in module (Bun's node:fs takes ~2 ms)",
  onlyWhereBuiltInsLoad,
  async () => {
    for (const off of [{ NAT_TELEMETRY_ENABLED: "0" }, { DO_NOT_TRACK: "1" }]) {
      const run = await runChild("builtins_child.ts", { env: { ...off, NAT_TELEMETRY_SPOOL_DIR: undefined } });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), [], JSON.stringify(off));
    }
  },
);

test(
  "a run that spools (its endpoint marked down) loads node:fs and node:buffer's UTF-8 check, not node:os (0.3 ms)",
  onlyWhereBuiltInsLoad,
  async () => {
    using dir = tempDir();
    const endpoint = "http://127.0.0.1:9/down";
    const down = { failures: 1, notBefore: Date.now() + 3_600_000, endpoint };
    writeFileSync(`${dir.path}/health-${shortHash(endpoint)}.json`, JSON.stringify(down), { mode: 0o600 });
    const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: endpoint, NAT_TELEMETRY_SPOOL_DIR: dir.path };
    const run = await runChild("builtins_child.ts", { env });
    assert.equal(run.code, 0, run.stderr);
    // The user's group (node:os) is read only where a group may write a file or a directory above the spool.
    assert.deepEqual(JSON.parse(run.stdout), ["node:fs", "node:buffer"]);
    assert.equal(readdirSync(dir.path).filter((name) => name.endsWith(".jsonl")).length, 1, "the event spooled");
  },
);

test(
  "a handler without a spool delivers to an address without loading the file system (Bun's node:fs takes ~2 ms)",
  onlyWhereBuiltInsLoad,
  async () => {
    await withServer(async (server) => {
      const run = await runChild("no_spool_child.ts", {
        args: [server.url()],
        env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_HANDOFF: "0" },
      });
      assert.equal(run.code, 0, run.stderr);
      const { sent, fetched } = JSON.parse(run.stdout);
      assert.equal(sent, 1, "delivered in process");
      assert.deepEqual(fetched.filter((name: string) => /^(node:)?fs/.test(name)), [], fetched.join(", "));
    });
  },
);

test(
  "a Deno program of Deno's own APIs never loads Deno's Node.js layer (a first read of globalThis.process: 11-20 ms)",
  { skip: runtimeInfo().name !== "deno" && "Deno's Node.js layer is Deno's" },
  async () => {
    using dir = tempDir();
    await withServer(async (server) => {
      const env = {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: dir.path,
        NAT_TELEMETRY_HANDOFF: "1",
      };
      const run = await runChild("deno_native_child.ts", { env });
      assert.deepEqual([run.code, run.stderr], [0, ""]);
      assert.deepEqual(JSON.parse(run.stdout), { reads: 0 });
      // Handed off: the run's exit did what a Deno program's exit does, and its sender delivered.
      await waitFor(() => server.events().length === 1, "the sender's delivery");
      assert.deepEqual(commands(server.events()), ["deno-native"]);
      await sendersGone(dir.path);
    });
  },
);
