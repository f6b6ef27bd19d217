/** The nat-telemetry command, run as a child process of the runtime under test. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import process from "node:process";
import { canRun, type ChildOptions, fixturePath, runChild, runtimeCommand, startChild } from "./helpers/child.ts";
import { commands } from "./helpers/events.ts";
import { TestServer } from "./helpers/server.ts";
import { files, spooled, tempDir } from "./helpers/spool_dir.ts";

/** Runs `nat-telemetry ARGS` with a consent file and spool in `dir`. */
function cli(dir: string, args: string[], env: ChildOptions["env"] = {}) {
  return runChild("../../src/cli.ts", {
    args,
    env: {
      NAT_TELEMETRY_CONSENT_FILE: `${dir}/telemetry.toml`,
      NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
      ...env,
    },
  });
}

test("status: off by default, and says why", async () => {
  using dir = tempDir();
  const run = await cli(dir.path, []);
  assert.equal(run.code, 0);
  assert.equal(run.stdout, "Telemetry: disabled\nDecided by: the default: nobody has decided yet\n");
  const json = JSON.parse((await cli(dir.path, ["status", "--json"])).stdout);
  assert.deepEqual(json, {
    enabled: false,
    source: "default",
    consentFile: `${dir.path}/telemetry.toml`,
    fileState: "never_asked",
    overriddenByEnvironment: false,
  });
});

test("enable and disable record the decision in the shared file; status reads it back", async () => {
  using dir = tempDir();
  const enabled = await cli(dir.path, ["enable"]);
  assert.deepEqual([enabled.code, enabled.stdout], [0, `Telemetry enabled: saved to ${dir.path}/telemetry.toml.\n`]);
  assert.match(readFileSync(`${dir.path}/telemetry.toml`, "utf8"), /consent = "enabled"/);
  assert.match((await cli(dir.path, ["status"])).stdout, /Telemetry: enabled\nDecided by: the consent file /);
  assert.equal((await cli(dir.path, ["disable"])).code, 0);
  assert.match((await cli(dir.path, ["status"])).stdout, /Telemetry: disabled/);
});

test("an environment variable that overrides the file gets a note", async () => {
  using dir = tempDir();
  await cli(dir.path, ["enable"]);
  const run = await cli(dir.path, ["status"], { NAT_TELEMETRY_ENABLED: "0" });
  assert.equal(
    run.stdout,
    "Telemetry: disabled\nDecided by: the NAT_TELEMETRY_ENABLED environment variable\n" +
      "Note: NAT_TELEMETRY_ENABLED overrides the consent file, which says: enabled.\n",
  );
  const dnt = JSON.parse((await cli(dir.path, ["status", "--json"], { DO_NOT_TRACK: "1" })).stdout);
  assert.deepEqual([dnt.enabled, dnt.source, dnt.overriddenByEnvironment], [false, "DO_NOT_TRACK", true]);
});

test("a decision that cannot be saved exits 1 with a clear message, the previous one unchanged", async () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/file`, "");
  const run = await cli(dir.path, ["enable"], { NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/file/telemetry.toml` });
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /could not save the decision to .*file\/telemetry\.toml; the previous decision \(never_asked\) is unchanged/,
  );
  assert.equal(run.stdout, "");
});

test("a consent file where no directory can be made (/proc) fails at once, never loops", {
  skip: process.platform !== "linux" && "needs /proc",
}, async () => {
  using dir = tempDir();
  const run = await cli(dir.path, ["enable"], {
    NAT_TELEMETRY_CONSENT_FILE: "/proc/nat-telemetry-test/telemetry.toml",
  });
  assert.deepEqual([run.code, run.signal], [1, null], "it ended by itself (the child is killed at 30 s)");
  assert.match(run.stderr, /could not save the decision/);
});

test("a consent file directly under / is written there or not at all, never in the working directory", async () => {
  using dir = tempDir();
  const name = `nat-telemetry-test-${process.pid}.toml`;
  const run = await runChild("../../src/cli.ts", {
    args: ["disable"],
    env: { NAT_TELEMETRY_CONSENT_FILE: `/${name}`, NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool` },
    cwd: dir.path,
  });
  try {
    assert.equal(existsSync(`${dir.path}/${name}`), false, "nothing in the working directory");
    assert.equal(run.code === 0, existsSync(`/${name}`), "success means it is at the path given");
  } finally {
    rmSync(`/${name}`, { force: true });
  }
});

test("--help on every command; unknown commands and options are usage errors (exit 2)", async () => {
  using dir = tempDir();
  for (const command of ["", "status", "enable", "disable", "flush", "inspect", "collector"]) {
    const run = await cli(dir.path, command ? [command, "--help"] : ["--help"]);
    assert.equal(run.code, 0, command);
    assert.match(run.stdout, new RegExp(`^Usage: nat-telemetry${command ? ` ${command}` : ""}`), command);
  }
  const unknown = await cli(dir.path, ["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const badOption = await cli(dir.path, ["status", "--nope"]);
  assert.equal(badOption.code, 2);
  assert.match(badOption.stderr, /nope/);
});

/** Leaves one event in the spool: a run that exits explicitly. */
async function seedSpool(dir: string, endpoint: string) {
  const run = await runChild("exit_child.ts", {
    args: ["exit"],
    env: {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_ENDPOINT: endpoint,
      NAT_TELEMETRY_SPOOL_DIR: `${dir}/spool`,
      NAT_TEST_COMMAND: "seeded",
    },
  });
  assert.equal(run.code, 3);
}

test("inspect lists spooled events and the endpoint's health; flush delivers them now", async () => {
  using dir = tempDir();
  const server = await TestServer.start(() => ({ status: 503 }));
  try {
    await seedSpool(dir.path, server.url());
    const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url() };
    const failed = await cli(dir.path, ["flush"], env);
    assert.equal(failed.code, 1, "events are left in the spool");
    assert.match(failed.stdout, /Delivered 0 event\(s\); dropped 0; 1 left in the spool/);
    const inspected = JSON.parse((await cli(dir.path, ["inspect", "--json"], env)).stdout);
    assert.deepEqual(inspected.events.map((e: { parameters: { command: string } }) => e.parameters.command), [
      "seeded",
    ]);
    assert.equal(inspected.events[0].retries, 1);
    assert.equal(inspected.health.failures, 1, "the endpoint is marked down");
    assert.match(
      (await cli(dir.path, ["inspect"], env)).stdout,
      /1 spooled event\(s\)\n.*seeded success exit=0 {2}retries=1/,
    );
    server.respond(() => ({ status: 200 }));
    const delivered = await cli(dir.path, ["flush"], env);
    assert.deepEqual([delivered.code, delivered.stdout], [
      0,
      "Delivered 1 event(s); dropped 0; 0 left in the spool.\n",
    ]);
    assert.deepEqual(commands(JSON.parse(server.requests.at(-1)!.body).events), ["seeded"], "the accepted request");
    assert.deepEqual(files(`${dir.path}/spool`), []);
  } finally {
    await server.close();
  }
});

test("flush does not count events another run has claimed as left over: two flushes at once both succeed", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    await seedSpool(dir.path, server.url());
    const [name] = files(`${dir.path}/spool`).filter((file) => file.startsWith("e-"));
    renameSync(`${dir.path}/spool/${name}`, `${dir.path}/spool/c-${Date.now()}-${name}`); // the other run's claim
    const run = await cli(dir.path, ["flush"], { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: server.url() });
    assert.deepEqual([run.code, run.stdout], [0, "Delivered 0 event(s); dropped 0; 0 left in the spool.\n"]);
  } finally {
    await server.close();
  }
});

test("disable deletes spooled events; a disabled flush sends nothing", async () => {
  using dir = tempDir();
  const server = await TestServer.start();
  try {
    const down = await TestServer.start();
    await down.close();
    await seedSpool(dir.path, down.url());
    const run = await cli(dir.path, ["disable"]);
    assert.match(run.stdout, /Deleted 1 spooled event\(s\) that had not been sent/);
    assert.deepEqual(spooled(`${dir.path}/spool`), []);
    await seedSpool(dir.path, down.url());
    const flush = await cli(dir.path, ["flush"], { NAT_TELEMETRY_ENDPOINT: server.url() });
    assert.equal(flush.code, 1);
    assert.match(flush.stderr, /telemetry is disabled; nothing was sent/);
    assert.equal(server.requests.length, 0);
  } finally {
    await server.close();
  }
});

test("collector: prints where it listens and one line per event it receives", async () => {
  using dir = tempDir();
  const collector = startChild("../../src/cli.ts", { args: ["collector", "--jsonl", `${dir.path}/events.jsonl`] });
  try {
    const url = await new Promise<string>((resolve) => {
      let text = "";
      collector.process.stdout?.on("data", (chunk) => {
        text += chunk;
        const match = /NAT_TELEMETRY_ENDPOINT=(\S+)/.exec(text);
        if (match) resolve(match[1]);
      });
    });
    const run = await runChild("exit_child.ts", {
      args: ["natural"],
      env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: url, NAT_TEST_COMMAND: "via-collector" },
    });
    assert.equal(run.code, 0);
    assert.match(readFileSync(`${dir.path}/events.jsonl`, "utf8"), /"command":"via-collector"/);
  } finally {
    collector.process.kill("SIGINT");
  }
  const result = await collector.result;
  assert.match(result.stdout, /nat_cli_command via-collector success exit=0/);
});

test(
  "colour on a terminal, none with NO_COLOR or through a pipe",
  { skip: !canRun("script", "--version") && "needs script(1)" },
  async () => {
    using dir = tempDir();
    const command = runtimeCommand(fixturePath("../../src/cli.ts")).map((part) => `'${part}'`).join(" ");
    const onTerminal = (noColor: string | undefined) =>
      runChild("../../src/cli.ts", {
        executable: "script",
        args: ["-qec", command, "/dev/null"],
        env: { NAT_TELEMETRY_CONSENT_FILE: `${dir.path}/t.toml`, NO_COLOR: noColor },
      });
    const escape = "\x1b[";
    assert.ok((await onTerminal(undefined)).stdout.includes(`${escape}31mdisabled${escape}0m`));
    assert.ok(!(await onTerminal("1")).stdout.includes(escape));
    assert.ok(!(await cli(dir.path, [])).stdout.includes(escape));
  },
);
