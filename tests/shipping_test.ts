/**
 * The exit in every form a CLI is shipped in: source, esbuild ESM and CJS
 * bundles, a `bun build` bundle, `bun build --compile` executables (with and
 * without `--bytecode`) and a Node.js single executable application, each
 * also as PID 1 of its own PID namespace (a container's main process). The CLI's first import writes a
 * line each time it is evaluated: the program's code runs once per run, never
 * in a sender. Each runtime's run of this file takes the forms that runtime
 * runs (see `buildShippedForms`). Real builds, real processes, a loopback
 * endpoint; no timing assertions beyond generous bounds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { runChild } from "./helpers/child.ts";
import { commands } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { inContainer, senderProcesses } from "./helpers/handoff.ts";
import { buildShippedForms, canUnshare, type ShippedForm } from "./helpers/shipping.ts";
import { spooled, tempDir } from "./helpers/spool_dir.ts";
import { waitFor } from "./helpers/wait.ts";
import { SENDER_SCRIPT_NAME } from "../src/sender_script_name.ts";

const linux = process.platform === "linux";
const forms: ShippedForm[] = linux ? buildShippedForms() : [];

/** Runs a shipped form as a user would: telemetry on, no CI, the hand-off left to decide for itself. */
function ship(form: ShippedForm, asPid1: boolean, env: Record<string, string | undefined>) {
  const argv = asPid1 ? ["unshare", "--pid", "--fork", "--mount-proc", ...form.argv] : [...form.argv];
  return runChild("shipped/cli.ts", {
    executable: argv[0],
    args: argv.slice(1),
    env: { NAT_TELEMETRY_HANDOFF: undefined, CI: undefined, ...env },
  });
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
}

for (const form of forms) {
  for (const asPid1 of [false, true]) {
    const label = `${form.label}${asPid1 ? ", as PID 1 of a PID namespace" : ""}`;
    test(`${label}: the program runs once, keeps its exit code and output, the event arrives once`, {
      skip: asPid1 && !canUnshare && "unshare --pid --fork --mount-proc is refused here",
    }, async () => {
      using dir = tempDir();
      const server = await TestServer.start();
      try {
        const evaluations = `${dir.path}/evaluations`;
        const run = await ship(form, asPid1, {
          NAT_TELEMETRY_ENABLED: "1",
          NAT_TELEMETRY_ENDPOINT: server.url(),
          NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool`,
          NAT_TEST_LINES: evaluations,
        });
        const exited = Date.now();
        assert.deepEqual([run.code, run.stdout, run.stderr], [3, "done\n", ""], "exit code, stdout, stderr");
        await waitFor(() => server.events().length > 0, "the event", 5000);
        await waitFor(() => senderProcesses(dir.path).length === 0, "no sender left", 15_000 - (Date.now() - exited));
        assert.equal(lines(evaluations).length, 1, "the program's code ran once");
        assert.deepEqual(commands(server.events()), ["shipped"], "the event arrived exactly once");
        assert.equal(server.events()[0].parameters.exitCode, 3);
        assert.deepEqual(spooled(`${dir.path}/spool`), [], "nothing left in the spool");
        const handedOff = existsSync(`${dir.path}/spool/${SENDER_SCRIPT_NAME}`);
        assert.equal(handedOff, form.handsOff && !asPid1 && !inContainer, "handed off where a sender outlives it");
      } finally {
        await server.close();
      }
    });
  }

  test(`${form.label}: a stray NAT_TELEMETRY_SENDER in the environment changes nothing the program does`, async () => {
    using dir = tempDir();
    const server = await TestServer.start();
    try {
      const evaluations = `${dir.path}/evaluations`;
      const stray = JSON.stringify({ endpoint: server.url(), spoolDir: dir.path, format: "nat" });
      for (const enabled of ["0", "1"]) {
        const run = await ship(form, false, {
          NAT_TELEMETRY_ENABLED: enabled,
          NAT_TELEMETRY_ENDPOINT: server.url(),
          NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool`,
          NAT_TELEMETRY_SENDER: stray,
          NAT_TEST_LINES: evaluations,
        });
        assert.deepEqual([run.code, run.stdout, run.stderr], [3, "done\n", ""], `telemetry ${enabled}`);
      }
      await waitFor(() => server.events().length > 0, "the event of the run with telemetry on", 5000);
      await waitFor(() => senderProcesses(dir.path).length === 0, "no sender left", 15_000);
      assert.equal(lines(evaluations).length, 2, "the program's code ran once per run");
      assert.deepEqual(commands(server.events()), ["shipped"], "only the run with telemetry on sent, once");
    } finally {
      await server.close();
    }
  });
}
