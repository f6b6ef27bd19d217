/**
 * Trust boundaries: what another local user can put on disk, and what a
 * server can answer, never hangs, feeds or redirects a run. A second user is
 * real where the tests run as root (`setpriv` to user 65534); elsewhere those
 * tests are skipped with the reason.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import { NATTelemetryHandler, recordConsent, setTelemetryEnabled } from "../mod.ts";
import { startCollector } from "../src/collector.ts";
import { EndpointHealth } from "../src/health.ts";
import * as nodeFs from "node:fs";
import { guardedFiles } from "../src/runtime/guarded_files.ts";
import { nodeFiles } from "../src/runtime/node_files.ts";
import { host } from "../src/runtime/mod.ts";
import { Spool, spoolKey } from "../src/spool.ts";
import { canRun, runChild } from "./helpers/child.ts";
import { AnyEvent, commandEvent, commands } from "./helpers/events.ts";
import { TestServer, withServer } from "./helpers/server.ts";
import { forgetHealth, spooled, tempDir } from "./helpers/spool_dir.ts";

setTelemetryEnabled(true);

const posix = process.platform !== "win32";
const hasFifo = posix && canRun("mkfifo", "--version");
const asRoot = posix && process.getuid?.() === 0 && canRun("setpriv", "--version");
const noRoot = !asRoot && "needs root and setpriv to act as a second local user";
const limits = { maxEvents: 1000, maxBytes: 1_048_576, maxAgeMs: 7 * 86_400_000 };

/** A spool line for `command`, as a run would have written it. */
function plantedLine(command: string): string {
  const ts = new Date().toISOString();
  const event = { ts, parameters: { command }, name: "nat_cli_command" };
  return `${
    JSON.stringify({ retries: 0, schemaVersion: "1.5", sessionId: "planted", timestamp: Date.now(), event })
  }\n`;
}

/** Plants a valid-looking spool file for `endpoint` in `dir`. */
function plant(dir: string, endpoint: string, command = "planted"): string {
  const text = plantedLine(command);
  const name = `e-${Date.now() - 1000}-1-${text.length}-${spoolKey(endpoint)}-000000000001.jsonl`;
  writeFileSync(`${dir}/${name}`, text);
  return name;
}

/** Runs a command as user 65534 (root only). */
function asNobody(...command: string[]): void {
  execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ...command], { stdio: "ignore" });
}

test("a spool directory others can write is not used: planted events are never replayed", async () => {
  using dir = tempDir();
  const spoolDir = `${dir.path}/spool`;
  mkdirSync(spoolDir);
  chmodSync(spoolDir, 0o777);
  await withServer(async (server) => {
    const planted = plant(spoolDir, server.url());
    const handler = new NATTelemetryHandler({ endpoint: server.url(), spoolDir });
    handler.enqueue(commandEvent("own"));
    await handler.stop();
    assert.deepEqual(commands(server.events()), ["own"]);
    assert.equal(handler.stats().replayed, 0);
    assert.deepEqual(readdirSync(spoolDir), [planted], "nothing claimed, nothing written");
    assert.equal(lstatSync(spoolDir).mode & 0o777, 0o777, "the directory is left as found");
  });
});

test("events that cannot go to an unsafe spool are counted as spool_unavailable, not lost silently", async () => {
  using dir = tempDir();
  const target = `${dir.path}/victim`;
  mkdirSync(target);
  symlinkSync(target, `${dir.path}/spool`);
  const down = await TestServer.start();
  await down.close();
  const handler = new NATTelemetryHandler({
    endpoint: down.url(),
    spoolDir: `${dir.path}/spool`,
    exitTimeoutSeconds: 1,
  });
  handler.enqueue(commandEvent("a"));
  handler.enqueue(commandEvent("b"));
  await handler.stop();
  assert.deepEqual(handler.stats().dropped, { spool_unavailable: 2 });
  assert.deepEqual(readdirSync(target), [], "nothing is written through the link");
});

test("a FIFO, socket-like or oversized file in the spool is skipped and counted, never blocks", {
  skip: !hasFifo && "needs mkfifo",
}, () => {
  using dir = tempDir();
  const endpoint = "https://example.com/events";
  const spool = Spool.open(dir.path, host().files!, limits, spoolKey(endpoint))!;
  const fifo = `e-${Date.now() - 3000}-1-200-${spoolKey(endpoint)}-00000000f1f0.jsonl`;
  execFileSync("mkfifo", [`${dir.path}/${fifo}`]);
  const link = `e-${Date.now() - 2000}-1-200-${spoolKey(endpoint)}-0000000011c0.jsonl`;
  writeFileSync(`${dir.path}/elsewhere`, plantedLine("through-a-link"));
  symlinkSync(`${dir.path}/elsewhere`, `${dir.path}/${link}`);
  const huge = `e-${Date.now() - 1000}-1-200-${spoolKey(endpoint)}-00000000b16b.jsonl`;
  writeFileSync(`${dir.path}/${huge}`, plantedLine("x").repeat(20_000)); // over the spool's 1 MiB
  plant(dir.path, endpoint, "good");
  const { events, dropped } = spool.claim(100, Date.now(), 60_000);
  assert.deepEqual(events.map((event) => JSON.parse(event.json).parameters.command), ["good"]);
  assert.deepEqual(dropped, { spool_corrupt: 3 });
  const left = readdirSync(dir.path).filter((name) => !name.startsWith("l-")); // the good file, claimed
  assert.deepEqual(left, ["elsewhere"], "the FIFO, the link and the huge file are removed; never the link's target");
});

test("a FIFO at the health file's name cannot hang a run's exit", { skip: !hasFifo && "needs mkfifo" }, async () => {
  using dir = tempDir();
  const down = await TestServer.start();
  await down.close();
  const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: down.url(), NAT_TELEMETRY_SPOOL_DIR: dir.path };
  const { path } = new EndpointHealth(host().files!, dir.path, down.url(), Date.now, Math.random);
  execFileSync("mkfifo", [path]);
  const second = await runChild("exit_child.ts", { args: ["natural"], env, limitMs: 10_000 });
  assert.deepEqual([second.code, second.signal, second.stderr], [0, null, ""], "it ended by itself, quietly");
});

test("a second user's spool directory, FIFO and all, is refused: no hang, nothing written", {
  skip: noRoot,
}, async () => {
  using dir = tempDir();
  chmodSync(dir.path, 0o777);
  const spoolDir = `${dir.path}/spool`;
  asNobody("mkdir", "-m", "0777", spoolDir);
  const down = await TestServer.start();
  await down.close();
  const { path: health } = new EndpointHealth(host().files!, spoolDir, down.url(), Date.now, Math.random);
  for (const fifo of [health, `${spoolDir}/fifo`]) asNobody("mkfifo", fifo);
  const planted = plant(dir.path, down.url());
  asNobody("cp", `${dir.path}/${planted}`, `${spoolDir}/${planted}`);
  const env = { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_ENDPOINT: down.url(), NAT_TELEMETRY_SPOOL_DIR: spoolDir };
  const before = readdirSync(spoolDir).sort();
  const run = await runChild("exit_child.ts", { args: ["natural"], env, limitMs: 10_000 });
  assert.deepEqual([run.code, run.signal, run.stderr], [0, null, ""]);
  assert.deepEqual(readdirSync(spoolDir).sort(), before, "nothing read, claimed or written there");
});

test("a directory of another user is refused even when only its owner can write it", { skip: noRoot }, () => {
  using dir = tempDir();
  chmodSync(dir.path, 0o777);
  asNobody("mkdir", "-m", "0700", `${dir.path}/theirs`);
  assert.equal(Spool.open(`${dir.path}/theirs`, host().files!, limits, spoolKey("https://example.com")), undefined);
});

test("root with another user's HOME (sudo -E) writes nothing into their tree: no consent file, no spool", {
  skip: noRoot,
}, () => {
  using dir = tempDir();
  const home = `${dir.path}/home`;
  mkdirSync(`${home}/.config/nat`, { recursive: true, mode: 0o755 });
  nodeFs.chownSync(home, 65534, 65534);
  nodeFs.chownSync(`${home}/.config`, 65534, 65534);
  // Missing directories would be made root's, 0700: the user could no longer use ~/.local (or ~/.config) at all.
  assert.equal(recordConsent("enabled", `${home}/.local/nat/telemetry.toml`), false);
  assert.equal(Spool.open(`${home}/.local/state/nat`, host().files!, limits, spoolKey("https://e.example")), undefined);
  assert.deepEqual(readdirSync(home), [".config"], "nothing made");
  // An existing directory of theirs: a file of root's there would hide their own decision from them.
  nodeFs.chownSync(`${home}/.config/nat`, 65534, 65534);
  assert.equal(recordConsent("enabled", `${home}/.config/nat/telemetry.toml`), false);
  assert.deepEqual(readdirSync(`${home}/.config/nat`), [], "nothing written");
  // Reached through a link of root's (HOME=/home/ada -> /data/ada): judged by where it leads.
  symlinkSync(home, `${dir.path}/link-to-home`);
  assert.equal(recordConsent("enabled", `${dir.path}/link-to-home/.local/nat/telemetry.toml`), false);
  assert.equal(recordConsent("enabled", `${dir.path}/link-to-home/.config/nat/telemetry.toml`), false);
  assert.deepEqual(readdirSync(home), [".config"], "nothing made");
  assert.deepEqual(readdirSync(`${home}/.config/nat`), [], "nothing written");
  // Root's own tree, as ever.
  assert.equal(recordConsent("enabled", `${dir.path}/root/.config/nat/telemetry.toml`), true);
});

test("spooled events belong to their endpoint: another endpoint's run leaves them for their own", async () => {
  using dir = tempDir();
  const production = await TestServer.start();
  const productionUrl = production.url();
  await production.close();
  const offline = new NATTelemetryHandler({ endpoint: productionUrl, spoolDir: dir.path, exitTimeoutSeconds: 1 });
  offline.enqueue(commandEvent("for-production"));
  await offline.stop();
  assert.equal(offline.stats().spooled, 1);
  await withServer(async (development) => {
    const handler = new NATTelemetryHandler({ endpoint: development.url(), spoolDir: dir.path });
    handler.enqueue(commandEvent("for-development"));
    await handler.stop();
    assert.deepEqual(commands(development.events()), ["for-development"]);
    assert.equal(handler.stats().replayed, 0);
  });
  const back = await TestServer.start(undefined, undefined, Number(new URL(productionUrl).port));
  try {
    forgetHealth(dir.path);
    const handler = new NATTelemetryHandler({ endpoint: productionUrl, spoolDir: dir.path });
    handler.start();
    await handler.stop();
    assert.deepEqual(commands(back.events()), ["for-production"]);
  } finally {
    await back.close();
  }
});

test("a health file that says to wait past the longest backoff is reset, not obeyed", async () => {
  using dir = tempDir();
  await withServer(async (server) => {
    const first = new NATTelemetryHandler({ endpoint: server.url(), spoolDir: dir.path });
    first.enqueue(commandEvent("first"));
    await first.stop();
    const { path } = new EndpointHealth(host().files!, dir.path, server.url(), Date.now, Math.random);
    writeFileSync(path, JSON.stringify({ failures: 3, notBefore: Date.now() + 365 * 86_400_000 }));
    const second = new NATTelemetryHandler({ endpoint: server.url(), spoolDir: dir.path });
    second.enqueue(commandEvent("second"));
    await second.stop();
    assert.deepEqual(commands(server.events()), ["first", "second"], "a year-long wait is not obeyed");
  });
});

test("the collector's --jsonl refuses a symlink at its start, creates its file 0600 and appends whole lines", async () => {
  using dir = tempDir();
  const target = `${dir.path}/.bashrc`;
  writeFileSync(target, "# a shell start-up file\n");
  symlinkSync(target, `${dir.path}/linked.jsonl`);
  await assert.rejects(
    startCollector({ jsonlPath: `${dir.path}/linked.jsonl` }),
    /^Error: Cannot start collector: cannot write .*linked\.jsonl: refused .*: symlink$/,
  );
  const collector = await startCollector({ jsonlPath: `${dir.path}/events.jsonl` });
  try {
    const handler = new NATTelemetryHandler({ endpoint: collector.url, spoolDir: false });
    handler.enqueue(new AnyEvent(() => ({ command: "x\n$(touch pwned)" })));
    await handler.stop();
  } finally {
    await collector.close();
  }
  assert.equal(readFileSync(target, "utf8"), "# a shell start-up file\n", "the link's target is untouched");
  assert.equal(lstatSync(`${dir.path}/events.jsonl`).mode & 0o777, 0o600);
  const lines = readFileSync(`${dir.path}/events.jsonl`, "utf8").split("\n");
  assert.deepEqual(lines.length, 2, "one whole line and the final newline");
  assert.equal(JSON.parse(lines[0]).parameters.command, "x\n$(touch pwned)");
});

test("the collector's --jsonl refuses a file another user owns, and one swapped for a link after its start", {
  skip: noRoot,
}, async () => {
  using dir = tempDir();
  chmodSync(dir.path, 0o777);
  asNobody("sh", "-c", `umask 0; : > ${dir.path}/theirs.jsonl`);
  await assert.rejects(startCollector({ jsonlPath: `${dir.path}/theirs.jsonl` }), /cannot write .*: not_owner$/);
  assert.equal(readFileSync(`${dir.path}/theirs.jsonl`, "utf8"), "");
  const log: string[] = [];
  const collector = await startCollector({ jsonlPath: `${dir.path}/mine.jsonl`, log: (line) => log.push(line) });
  try {
    rmSync(`${dir.path}/mine.jsonl`);
    symlinkSync(`${dir.path}/theirs.jsonl`, `${dir.path}/mine.jsonl`);
    const handler = new NATTelemetryHandler({ endpoint: collector.url, spoolDir: false });
    handler.enqueue(commandEvent("x"));
    await handler.stop();
  } finally {
    await collector.close();
  }
  assert.equal(readFileSync(`${dir.path}/theirs.jsonl`, "utf8"), "");
  assert.ok(log.some((line) => /could not append to .*mine\.jsonl.*symlink/.test(line)), log.join("\n"));
});

test("the collector answers an oversized body 413 without reading it, and keeps serving", async () => {
  const collector = await startCollector({ maxBodyBytes: 1024 });
  try {
    const big = await fetch(collector.url, { method: "POST", body: "x".repeat(64 * 1024) }).catch(() => undefined);
    if (big) {
      assert.equal(big.status, 413);
      await big.body?.cancel();
    }
    const handler = new NATTelemetryHandler({ endpoint: collector.url, spoolDir: false });
    handler.enqueue(commandEvent("after"));
    await handler.stop();
    assert.deepEqual(collector.events.map((event) => event.parameters.command), ["after"]);
  } finally {
    await collector.close();
  }
});

test("the collector listens on loopback only, unless told otherwise", async () => {
  await assert.rejects(startCollector({ hostname: "0.0.0.0" }), /not a loopback address/);
  const collector = await startCollector({ hostname: "0.0.0.0", allowRemote: true });
  await collector.close();
});

test("sizeOf, modifiedAt: a regular file of the user's, never a link, a FIFO or a directory", {
  skip: !hasFifo && "needs mkfifo",
}, () => {
  using dir = tempDir();
  const files = host().files!;
  writeFileSync(`${dir.path}/file`, "xyz");
  const written = new Date(Date.now() - 86_400_000);
  utimesSync(`${dir.path}/file`, written, written);
  symlinkSync(`${dir.path}/file`, `${dir.path}/link`);
  execFileSync("mkfifo", [`${dir.path}/fifo`]);
  mkdirSync(`${dir.path}/dir`);
  const names = ["file", "link", "fifo", "dir", "missing"];
  assert.deepEqual(names.map((name) => files.sizeOf(`${dir.path}/${name}`)), [
    3,
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
  const times = names.map((name) => files.modifiedAt(`${dir.path}/${name}`));
  assert.deepEqual(times.slice(1), [undefined, undefined, undefined, undefined]);
  assert.ok(Math.abs(times[0]! - written.getTime()) < 1, `${times[0]}: to the millisecond (Node.js gives a fraction)`);
  // Anything at all is there, but where nothing is: what a run looks for before each request (the consent file).
  assert.deepEqual(names.map((name) => files.present(`${dir.path}/${name}`)), [true, true, true, true, false]);
});

test(
  "stamp: a look tells a file written in place within the second, a link's target written, a file put in its place",
  {
    skip: process.platform === "win32" && "POSIX links",
  },
  () => {
    using dir = tempDir();
    const files = host().files!;
    const [file, target, link] = ["file", "target", "link"].map((name) => `${dir.path}/${name}`);
    writeFileSync(file, "consent = 'enabled'");
    writeFileSync(target, "consent = 'enabled'");
    symlinkSync(target, link);
    const before = [file, link].map((path) => files.stamp(path));
    assert.deepEqual([file, link].map((path) => files.stamp(path)), before, "nothing written: the same");
    for (
      const [what, path, write] of [
        ["a file written in place, its time set back", file, () => writeFileSync(file, "consent = 'disabled'")],
        ["a link's target written, its time set back", link, () => writeFileSync(target, "consent = 'disabled'")],
      ] as const
    ) {
      const { mtime } = statSync(path);
      write();
      utimesSync(path, mtime, mtime);
      assert.notEqual(files.stamp(path), before[path === file ? 0 : 1], what);
    }
    const stamp = files.stamp(file);
    writeFileSync(`${dir.path}/new`, readFileSync(file));
    const { mtime } = statSync(file);
    utimesSync(`${dir.path}/new`, mtime, mtime);
    renameSync(`${dir.path}/new`, file);
    assert.notEqual(files.stamp(file), stamp, "the same text and time, put in its place by a rename");
    assert.equal(files.stamp(`${dir.path}/missing`), undefined);
  },
);

test("checkPlace: a directory above that anyone may write, not sticky, is refused even where owners cannot be told", {
  skip: process.platform === "win32" && "POSIX modes",
}, () => {
  using dir = tempDir();
  mkdirSync(`${dir.path}/open`);
  chmodSync(`${dir.path}/open`, 0o777);
  mkdirSync(`${dir.path}/sticky`);
  chmodSync(`${dir.path}/sticky`, 0o1777);
  const user = guardedFiles(nodeFiles(nodeFs, { uid: process.getuid?.(), gid: process.getgid?.() }, false));
  const noId = guardedFiles(nodeFiles(nodeFs, {}, false)); // Deno without --allow-sys
  for (const files of [user, noId]) {
    assert.throws(() => files.checkPlace(`${dir.path}/open/telemetry.toml`), /ancestor_writable_by_others/);
  }
  assert.equal(user.checkPlace(`${dir.path}/sticky/telemetry.toml`), true, "judged");
  assert.equal(noId.checkPlace(`${dir.path}/sticky/telemetry.toml`), false, "cannot be told whose it is");
});

test("present: root's file, which is not the user's own to date, is there all the same", { skip: noRoot }, () => {
  using dir = tempDir();
  chmodSync(dir.path, 0o755);
  writeFileSync(`${dir.path}/root-owned`, "x");
  const asUser = guardedFiles(nodeFiles(nodeFs, { uid: 65534, gid: 65534 }, false));
  assert.equal(asUser.modifiedAt(`${dir.path}/root-owned`), undefined);
  assert.equal(asUser.present(`${dir.path}/root-owned`), true);
  assert.equal(asUser.present(`${dir.path}/missing`), false);
});

test("touch dates a regular file of the user's anew; never a link's target, a FIFO, a directory, root's file", {
  skip: !hasFifo && "needs mkfifo",
}, () => {
  using dir = tempDir();
  const files = host().files!;
  const written = new Date(Date.now() - 86_400_000);
  writeFileSync(`${dir.path}/file`, "xyz");
  writeFileSync(`${dir.path}/target`, "xyz");
  utimesSync(`${dir.path}/target`, written, written);
  symlinkSync(`${dir.path}/target`, `${dir.path}/link`);
  execFileSync("mkfifo", [`${dir.path}/fifo`]);
  mkdirSync(`${dir.path}/dir`);
  const now = Date.now() + 60_000;
  files.touch(`${dir.path}/file`, now);
  assert.ok(Math.abs(statSync(`${dir.path}/file`).mtimeMs - now) < 1, "dated as told");
  for (const name of ["link", "fifo", "dir", "missing"]) {
    assert.throws(() => files.touch(`${dir.path}/${name}`, now), `${name} refused`);
  }
  assert.ok(Math.abs(statSync(`${dir.path}/target`).mtimeMs - written.getTime()) < 1, "the link was not followed");
  if (!noRoot) {
    const asUser = guardedFiles(nodeFiles(nodeFs, { uid: 65534, gid: 65534 }, false));
    assert.throws(() => asUser.touch(`${dir.path}/target`, now), /not_owner/, "root's file is not the user's own");
  }
});

test("sizeOf for the sender's script: a file of root's in a user's spool (a copy sudo made) is not the user's own", {
  skip: noRoot,
}, () => {
  using dir = tempDir();
  writeFileSync(`${dir.path}/script.mjs`, "xyz", { mode: 0o600 }); // root's, which the user may not read
  const files = guardedFiles(nodeFiles(nodeFs, { uid: 65534, gid: 65534 }, false));
  assert.equal(files.sizeOf(`${dir.path}/script.mjs`), 3, "root's file is trusted, as everything root owns");
  assert.equal(files.sizeOf(`${dir.path}/script.mjs`, true), undefined, "but not taken for the user's own");
});

test("read: a file's exact text, a byte order mark and all; bytes that are not UTF-8 are refused, never replaced", () => {
  using dir = tempDir();
  const files = host().files!;
  const text = '\ufeff[telemetry]\nconsent = "enabled" # é, 日本, 🙂\n';
  writeFileSync(`${dir.path}/text`, text);
  writeFileSync(`${dir.path}/latin1`, Uint8Array.of(0x63, 0x6f, 0x6e, 0xe9, 0x0a)); // "coné" in Latin-1
  writeFileSync(`${dir.path}/truncated`, Uint8Array.of(0x61, 0xe6, 0x97)); // a three-byte character cut short
  assert.equal(files.read(`${dir.path}/text`, 1024), text);
  for (const name of ["latin1", "truncated"]) {
    assert.throws(() => files.read(`${dir.path}/${name}`, 1024), (error: Error & { reason?: string }) => {
      assert.equal(error.reason, "not_utf8", name);
      return true;
    });
  }
});

/** Runs a fixture of a hostile program, telemetry on, delivering in process to a refused endpoint. */
async function runHostile(fixture: string, spoolDir: string) {
  const run = await runChild(fixture, {
    env: {
      NAT_TELEMETRY_ENABLED: "1",
      NAT_TELEMETRY_HANDOFF: "0",
      NAT_TELEMETRY_ENDPOINT: "http://127.0.0.1:9/v1.1/events/json",
      NAT_TELEMETRY_SPOOL_DIR: spoolDir,
    },
    limitMs: 20_000,
  });
  assert.equal(run.code, 0, run.stderr);
  return run;
}

test("a program that removed globals (TextDecoder, SharedArrayBuffer...): its command runs, its event goes, it ends", async () => {
  using dir = tempDir();
  await withServer(async (server) => {
    const run = await runChild("globals_child.ts", {
      env: {
        NAT_TELEMETRY_ENABLED: "1",
        NAT_TELEMETRY_HANDOFF: "0",
        NAT_TELEMETRY_ENDPOINT: server.url(),
        NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool`,
      },
      limitMs: 20_000,
    });
    // Without SharedArrayBuffer, the deadlines' watchdog under Node.js failed after the exit's budget held the
    // process open, and nothing let it go: the program never ended.
    assert.equal(run.code, 0, `ended, not killed: ${run.stderr}`);
    assert.deepEqual(JSON.parse(run.stdout), { code: 5 });
    assert.equal(server.requests.length, 1, "its event delivered");
  });
});

test("a program that broke built-ins the handler relies on: its command runs, nothing is thrown into it, its event is counted", async () => {
  using dir = tempDir();
  const run = await runHostile("broken_builtins_child.ts", `${dir.path}/spool`);
  const { stats, code } = JSON.parse(run.stdout);
  assert.equal(code, 5);
  assert.equal(stats.enqueued, 1, "counted, though it could not be sent");
});

test("a program that put a toJSON on Object.prototype: its events go as JSON, nothing is thrown into it", async () => {
  for (const kind of ["answers", "recurses"]) {
    using dir = tempDir();
    await withServer(async (server) => {
      const run = await runChild("to_json_child.ts", {
        args: [kind, server.url()],
        env: { NAT_TELEMETRY_ENABLED: "1", NAT_TELEMETRY_HANDOFF: "0", NAT_TELEMETRY_SPOOL_DIR: `${dir.path}/spool` },
        limitMs: 20_000,
      });
      assert.equal(run.code, 0, run.stderr);
      const [nat, otlp, refused] = JSON.parse(run.stdout);
      assert.deepEqual([nat.sent, otlp.sent, refused.spooled], [1, 1, 1], `${kind}: ${run.stdout}`);
      const [natBody, otlpBody] = server.requests.map((request) => JSON.parse(request.body));
      assert.equal(natBody.events[0].parameters.command, "to-json-nat", kind);
      const [record] = otlpBody.resourceLogs[0].scopeLogs[0].logRecords;
      assert.ok(JSON.stringify(record).includes("to-json-otlp"), kind);
      assert.equal(spooled(`${dir.path}/spool`)[0].event.parameters.command, "to-json-nat", kind);
      const health = readdirSync(`${dir.path}/spool`).filter((name) => name.startsWith("health-"));
      assert.equal(health.length, 1, kind);
      assert.equal(typeof JSON.parse(readFileSync(`${dir.path}/spool/${health[0]}`, "utf8")).failures, "number");
    });
  }
});

test("a stop() that a broken built-in makes fail keeps the exit hooks: what it held is spooled at the exit", async () => {
  using dir = tempDir();
  const run = await runHostile("broken_stop_child.ts", `${dir.path}/spool`);
  assert.deepEqual(JSON.parse(run.stdout), { stopped: true }, "nothing thrown into the program");
  assert.deepEqual(spooled(`${dir.path}/spool`).map((line) => line.event.parameters.command).sort(), ["a", "b", "c"]);
});

/** A constructor that throws `error`, in place of a global one. */
function throwing(error: Error): never {
  return function () {
    throw error;
  } as never;
}

test("the Node.js host's reads and writes do not depend on the TextDecoder and TextEncoder globals a program may replace", () => {
  using dir = tempDir();
  const text = '\ufeff[telemetry]\nconsent = "enabled" # é, 日本, 🙂\n';
  writeFileSync(`${dir.path}/text`, text);
  writeFileSync(`${dir.path}/latin1`, Uint8Array.of(0x63, 0x6f, 0x6e, 0xe9, 0x0a)); // "coné" in Latin-1
  const files = guardedFiles(
    nodeFiles(nodeFs, { uid: process.getuid?.(), gid: process.getgid?.() }, process.platform === "win32"),
  );
  const { TextDecoder, TextEncoder } = globalThis;
  const replacements: Record<string, [typeof TextDecoder, typeof TextEncoder]> = {
    // A polyfill that ignores `fatal`: bytes that are not UTF-8 come out as replacement characters.
    "lenient polyfills": [
      class extends TextDecoder {
        constructor(label?: string) {
          super(label);
        }
      },
      TextEncoder,
    ],
    // What a Node.js built without ICU does with `fatal` (lib/internal/encoding.js, makeTextDecoderJS).
    "throwing ones": [
      throwing(Object.assign(new TypeError('"fatal" option is not supported'), { code: "ERR_NO_ICU" })),
      throwing(new TypeError("no TextEncoder")),
    ],
  };
  for (const [name, [decoder, encoder]] of Object.entries(replacements)) {
    globalThis.TextDecoder = decoder;
    globalThis.TextEncoder = encoder;
    try {
      assert.equal(files.read(`${dir.path}/text`, 1024), text, name);
      assert.throws(() => files.read(`${dir.path}/latin1`, 1024), { reason: "not_utf8" }, name);
      files.create(`${dir.path}/written-${name}`, text);
    } finally {
      globalThis.TextDecoder = TextDecoder;
      globalThis.TextEncoder = TextEncoder;
    }
    assert.equal(readFileSync(`${dir.path}/written-${name}`, "utf8"), text, name);
  }
});
