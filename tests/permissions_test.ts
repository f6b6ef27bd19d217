/**
 * Deno asks the user for permissions interactively. The library must never
 * cause that: it queries first and degrades quietly (no env: defaults; no
 * write: no spool; no net: spool only). The child runs on a pseudo-terminal,
 * where a prompt would show and wait for an answer that never comes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runtimeInfo } from "../src/runtime/mod.ts";
import { canRun, fixturePath, runChild } from "./helpers/child.ts";
import { commands } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { spooled, tempDir } from "./helpers/spool_dir.ts";

const skip = runtimeInfo().name !== "deno"
  ? "Deno permissions only"
  : !canRun("script", "--version")
  ? "needs script(1) for a pseudo-terminal"
  : false;

/** Runs the fixture under `deno run FLAGS` on a pseudo-terminal. */
async function onTerminal(flags: string[], env: Record<string, string> = {}) {
  const command = [process.execPath, "run", ...flags, fixturePath("permissions_child.ts")]
    .map((part) => `'${part}'`)
    .join(" ");
  const result = await runChild("permissions_child.ts", {
    executable: "script",
    args: ["-qec", command, "/dev/null"],
    env,
    limitMs: 20_000,
  });
  assert.equal(result.signal, null, "no prompt left it waiting");
  assert.doesNotMatch(result.stdout, /requests|Allow\?|\[y\/n/i, "no permission prompt");
  assert.equal(result.code, 0, result.stdout);
  assert.match(result.stdout, /done/);
  return result;
}

test("Deno with no permission at all: no prompt, no error, nothing sent or written", { skip }, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await onTerminal([], { NAT_TELEMETRY_ENDPOINT: server.url(), NAT_TELEMETRY_SPOOL_DIR: dir.path });
    assert.equal(server.requests.length, 0);
    assert.deepEqual(spooled(dir.path), []);
  } finally {
    await server.close();
  }
});

test("Deno with env and net but no write: delivers, keeps no spool, no prompt", { skip }, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await onTerminal(["--allow-env", `--allow-net=127.0.0.1`], {
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: dir.path,
    });
    assert.deepEqual(commands(server.events()), ["permissions"]);
  } finally {
    await server.close();
  }
});

test("Deno without net: spools only, for a later run, no prompt", { skip }, async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await onTerminal(["--allow-env", `--allow-read=${dir.path}`, `--allow-write=${dir.path}`], {
      NAT_TELEMETRY_ENDPOINT: server.url(),
      NAT_TELEMETRY_SPOOL_DIR: dir.path,
    });
    assert.equal(server.requests.length, 0);
    assert.deepEqual(spooled(dir.path).map((line) => line.event.parameters.command), ["permissions"]);
  } finally {
    await server.close();
  }
});
